{{/* Names ------------------------------------------------------------------------------- */}}

{{- define "eco2.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "eco2.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "eco2.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "eco2.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<workload>", e.g. eco2-auth. Call with (dict "root" $ "name" $name). */}}
{{- define "eco2.workloadName" -}}
{{- printf "%s-%s" (include "eco2.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "eco2.configName" -}}
{{- printf "%s-config" (include "eco2.fullname" .) -}}
{{- end -}}

{{- define "eco2.secretName" -}}
{{- default (printf "%s-env" (include "eco2.fullname" .)) .Values.secrets.name -}}
{{- end -}}

{{/* Labels ------------------------------------------------------------------------------ */}}

{{- define "eco2.selectorLabels" -}}
app.kubernetes.io/name: {{ include "eco2.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "eco2.labels" -}}
{{ include "eco2.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: eco2
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels of one workload. Call with (dict "root" $ "name" $name "role" $role). */}}
{{- define "eco2.workloadSelectorLabels" -}}
{{ include "eco2.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
eco2.io/role: {{ .role }}
{{- end -}}

{{- define "eco2.workloadLabels" -}}
{{ include "eco2.labels" .root }}
app.kubernetes.io/component: {{ .name }}
eco2.io/role: {{ .role }}
{{- end -}}

{{/* Workloads ---------------------------------------------------------------------------- */}}

{{/*
Every Deployment the chart runs, as a YAML map name -> spec: one per enabled domain, plus
`authz` in central mode. Each spec is workloadDefaults merged with the domain's overrides,
plus role, args and the ports/probes it serves on. Templates range over
`include "eco2.workloads" . | fromYaml`, so a new domain is one entry in values.domains.
*/}}
{{- define "eco2.workloads" -}}
{{- $root := . -}}
{{- $out := dict -}}
{{- range $name, $domain := .Values.domains -}}
{{- $spec := mergeOverwrite (deepCopy $root.Values.workloadDefaults) (omit $domain "prefixes" "publicPaths") -}}
{{- if $spec.enabled -}}
{{- $_ := set $spec "role" "domain" -}}
{{- $_ := set $spec "args" (list "serve" "--domain" $name "--host" "0.0.0.0" "--port" (toString $root.Values.ports.http)) -}}
{{- $_ := set $spec "httpPort" $root.Values.ports.http -}}
{{- $_ := set $out $name $spec -}}
{{- end -}}
{{- end -}}
{{- if eq .Values.authz.mode "central" -}}
{{- $spec := mergeOverwrite (deepCopy .Values.workloadDefaults) .Values.authz.central -}}
{{- $_ := set $spec "role" "authz" -}}
{{- $_ := set $spec "args" (include "eco2.authzArgs" . | fromYamlArray) -}}
{{- $_ := set $spec "httpPort" .Values.ports.authzHttp -}}
{{- $_ := set $out "authz" $spec -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
The job workers, as a YAML map domain -> spec: workers.defaults merged with the domain's
overrides, plus the Deployment args and the pod's grace period (the drain plus a margin).
*/}}
{{- define "eco2.workers" -}}
{{- $root := . -}}
{{- $out := dict -}}
{{- if .Values.workers.enabled -}}
{{- range $name, $worker := .Values.workers.domains -}}
{{- $spec := mergeOverwrite (deepCopy $root.Values.workers.defaults) (default dict $worker) -}}
{{- if $spec.enabled -}}
{{- $_ := set $spec "args" (list "worker" "--domain" $name "--host" "0.0.0.0" "--port" (toString $root.Values.workers.port)) -}}
{{- $drain := index $root.Values.config "ECO2_JOBS_DRAIN_SECONDS" | default "30" | float64 | ceil | int -}}
{{- $_ := set $spec "terminationGracePeriodSeconds" (add $drain $root.Values.workers.shutdownMarginSeconds) -}}
{{- $_ := set $out $name $spec -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{- define "eco2.workerName" -}}
{{- printf "%s-%s-worker" (include "eco2.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "eco2.authzArgs" -}}
- authz
- --grpc-port
- {{ .Values.ports.authzGrpc | quote }}
- --http-port
- {{ .Values.ports.authzHttp | quote }}
{{- end -}}

{{- define "eco2.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* Settings every eco2 container reads: the shared ConfigMap and Secret. */}}
{{- define "eco2.envFrom" -}}
- configMapRef:
    name: {{ include "eco2.configName" . }}
- secretRef:
    name: {{ include "eco2.secretName" . }}
{{- end -}}

{{/* OTEL_* settings of a container (platform/tracing.py): export to the collector as
`service`, with the chart's sampler. Call with (dict "root" $ "service" "eco2-scan"). */}}
{{- define "eco2.tracingEnv" -}}
{{- $t := .root.Values.tracing -}}
{{- if $t.enabled }}
- name: OTEL_SERVICE_NAME
  value: {{ .service | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $t.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $t.protocol | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $t.sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $t.samplerArg | quote }}
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.namespace.name=%s,k8s.pod.name=$(K8S_POD_NAME)" .root.Release.Namespace | quote }}
{{- end -}}
{{- end -}}

{{/* ECO2_SERVICE_URLS ("auth=http://eco2-auth:8000,..."): how split domain pods reach each other. */}}
{{- define "eco2.serviceUrls" -}}
{{- $root := . -}}
{{- $urls := list -}}
{{- range $name, $_ := include "eco2.workloads" . | fromYaml -}}
{{- if ne $name "authz" -}}
{{- $urls = append $urls (printf "%s=http://%s:%v" $name (include "eco2.workloadName" (dict "root" $root "name" $name)) $root.Values.ports.http) -}}
{{- end -}}
{{- end -}}
{{- join "," $urls -}}
{{- end -}}

{{/* Probes on /health (liveness, startup) and /ready (PostgreSQL + Redis). Call with (dict "root" $ "port" N). */}}
{{- define "eco2.probes" -}}
{{- $p := .root.Values.probes -}}
startupProbe:
  httpGet: {path: /health, port: {{ .port }}}
  periodSeconds: {{ $p.startup.periodSeconds }}
  failureThreshold: {{ $p.startup.failureThreshold }}
livenessProbe:
  httpGet: {path: /health, port: {{ .port }}}
  periodSeconds: {{ $p.liveness.periodSeconds }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
readinessProbe:
  httpGet: {path: /ready, port: {{ .port }}}
  periodSeconds: {{ $p.readiness.periodSeconds }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds }}
  failureThreshold: {{ $p.readiness.failureThreshold }}
{{- end -}}

{{/* Istio ------------------------------------------------------------------------------- */}}

{{- define "eco2.gatewayPrincipal" -}}
{{- printf "%s/ns/%s/sa/%s" .Values.istio.trustDomain .Values.istio.gateway.namespace .Values.istio.gateway.serviceAccount -}}
{{- end -}}

{{/*
(prefix, domain) pairs, longest prefix first, as registry.route_table(): Istio matches
VirtualService routes in order, so /api/v1/user/me/characters must precede /api/v1/user.
Sorting "<9999 - len>|<prefix>|<domain>" strings alphabetically yields that order.
*/}}
{{- define "eco2.routeTable" -}}
{{- $keys := list -}}
{{- range $name, $spec := include "eco2.workloads" . | fromYaml -}}
{{- if eq $spec.role "domain" -}}
{{- range (get $.Values.domains $name).prefixes -}}
{{- $keys = append $keys (printf "%04d|%s|%s" (sub 9999 (len .)) . $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range sortAlpha $keys }}
{{- $parts := splitList "|" . }}
- prefix: {{ index $parts 1 }}
  domain: {{ index $parts 2 }}
{{- end -}}
{{- end -}}

{{- define "eco2.publicPaths" -}}
{{- $paths := .Values.platformPublicPaths -}}
{{- range $name, $domain := .Values.domains -}}
{{- $paths = concat $paths ($domain.publicPaths | default list) -}}
{{- end -}}
{{- toYaml $paths -}}
{{- end -}}
