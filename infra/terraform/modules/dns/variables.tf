variable "zone_name" {
  description = "Public hosted zone (e.g. eco2.example or dev.eco2.example)."
  type        = string
}

variable "create_zone" {
  description = "Create the zone (true) or look up an existing one (false, e.g. delegated by hand)."
  type        = bool
  default     = false
}

variable "api_host" {
  description = "API hostname served by the ALB (certificate in the cluster's region)."
  type        = string
}

variable "images_host" {
  description = "Images hostname served by CloudFront (certificate in us-east-1)."
  type        = string
}

variable "images_cdn_domain_name" {
  description = "CloudFront domain name the images host aliases."
  type        = string
}

variable "images_cdn_hosted_zone_id" {
  description = "CloudFront hosted zone ID for the alias records."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
