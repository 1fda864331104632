{{/* The source of one Application: an external chart (pinned) or a path in this repository. */}}
{{- define "apps.source" -}}
{{- $app := .app -}}
{{- $root := .root -}}
{{- if $app.chart }}
repoURL: {{ $app.chart.repo }}
chart: {{ $app.chart.name }}
targetRevision: {{ $app.chart.version | quote }}
{{- else }}
repoURL: {{ $root.Values.repo.url }}
targetRevision: {{ $root.Values.repo.revision }}
path: {{ $app.path }}
{{- end }}
{{- if or $app.values $app.envValueFile $app.releaseName }}
helm:
  releaseName: {{ $app.releaseName | default .name }}
  {{- if $app.envValueFile }}
  valueFiles:
    - values.yaml
    - values-{{ $root.Values.env }}.yaml
  {{- end }}
  {{- with $app.values }}
  {{- /* Values may reference the environment's facts, e.g. {{ .Values.aws.region }}. */}}
  valuesObject:
    {{- tpl (toYaml .) $root | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}
