variable "name" {
  description = "Cluster name, prefix of role and bucket names."
  type        = string
}

variable "region" {
  description = "AWS region of the cluster (OIDC issuer URL, SSM ARNs)."
  type        = string
}

variable "route53_zone_arn" {
  description = "Zone ExternalDNS may change."
  type        = string
}

variable "ssm_prefix" {
  description = "SSM parameter path External Secrets may read (e.g. /eco2/dev)."
  type        = string
}

variable "ssm_kms_key_arn" {
  description = "KMS key encrypting those parameters."
  type        = string
}

variable "images_bucket_arn" {
  description = "Images bucket the images domain writes to."
  type        = string
}

variable "log_bucket_id" {
  description = "Bucket receiving S3 access logs of the OIDC bucket."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
