variable "prefix" {
  description = "Parameter path prefix, e.g. /eco2/dev (the chart's secrets.remotePrefix)."
  type        = string
}

variable "operator_set_keys" {
  description = "Keys whose values operators set by hand (JWT signing keys, OAuth and model provider credentials)."
  type        = list(string)
  default = [
    "auth-signing-keys", "kakao-client-secret", "google-client-secret", "naver-client-secret",
    "openai-api-key", "azure-vision-key", "kakao-rest-api-key", "naver-news-client-secret",
  ]
}

variable "database" {
  description = "In-cluster PostgreSQL (CloudNativePG read-write service) the database-url points at."
  type = object({
    host  = string
    name  = string
    owner = string
  })
  default = {
    host  = "eco2-db-rw.data.svc.cluster.local"
    name  = "eco2"
    owner = "eco2"
  }
}

variable "redis_host" {
  description = "In-cluster Valkey primary service the redis-url points at."
  type        = string
  default     = "valkey-primary.data.svc.cluster.local"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
