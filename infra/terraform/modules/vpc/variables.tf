variable "name" {
  description = "Name of the cluster and prefix of every resource (e.g. eco2-dev)."
  type        = string
}

variable "region" {
  description = "AWS region, used for the S3 gateway endpoint service name."
  type        = string
}

variable "cidr" {
  description = "VPC CIDR block; /16 recommended (subnets are /20 slices of it)."
  type        = string
  default     = "10.20.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones to spread subnets (and NAT gateways) over, in order; fixed so a new AZ never reshuffles subnets."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway (cheaper, dev) instead of one per AZ (prod)."
  type        = bool
  default     = true
}

variable "flow_log_retention_days" {
  description = "Retention of the rejected-traffic VPC flow logs."
  type        = number
  default     = 365
}

variable "log_kms_key_arn" {
  description = "KMS key encrypting the flow log group."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
