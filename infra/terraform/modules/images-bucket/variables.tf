variable "bucket_name" {
  description = "Globally unique name of the images bucket."
  type        = string
}

variable "aliases" {
  description = "Hostnames CloudFront serves the images on (e.g. images.eco2.example)."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate in us-east-1 covering `aliases`."
  type        = string
}

variable "cors_allowed_origins" {
  description = "Frontend origins allowed to PUT (presigned uploads) and GET."
  type        = list(string)
}

variable "log_bucket_id" {
  description = "Bucket receiving S3 access logs."
  type        = string
}

variable "log_bucket_domain_name" {
  description = "Domain name of the bucket receiving CloudFront logs."
  type        = string
}

variable "web_acl_arn" {
  description = "WAFv2 web ACL (CLOUDFRONT scope) to attach; null = none."
  type        = string
  default     = null
}

variable "price_class" {
  description = "CloudFront price class; PriceClass_200 includes Korea."
  type        = string
  default     = "PriceClass_200"
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted image version is kept."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
