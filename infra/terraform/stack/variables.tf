variable "env" {
  description = "Environment name (dev or prod); names resources eco2-<env> and SSM paths /eco2/<env>."
  type        = string
  validation {
    condition     = contains(["dev", "prod"], var.env)
    error_message = "env must be dev or prod."
  }
}

variable "region" {
  description = "AWS region of the cluster."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR block."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones to use, in order."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "Share one NAT gateway between AZs."
  type        = bool
}

variable "api_allowed_cidrs" {
  description = "CIDRs allowed to reach the Kubernetes API."
  type        = list(string)
  default     = []
}

variable "node_groups" {
  description = "Nodes per role (see modules/nodes)."
  type = map(object({
    count         = number
    instance_type = string
    volume_size   = number
    taint         = bool
  }))
}

variable "zone_name" {
  description = "Public Route53 zone."
  type        = string
}

variable "create_zone" {
  description = "Create the zone instead of looking it up."
  type        = bool
  default     = false
}

variable "api_host" {
  description = "API hostname (ALB)."
  type        = string
}

variable "images_host" {
  description = "Images hostname (CloudFront)."
  type        = string
}

variable "frontend_origins" {
  description = "Frontend origins allowed by the images bucket CORS rules."
  type        = list(string)
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
