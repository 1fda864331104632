variable "name" {
  description = "Cluster name, prefix of the security group names."
  type        = string
}

variable "vpc_id" {
  description = "VPC the groups belong to."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR; nodes may open connections anywhere inside it."
  type        = string
}

variable "api_allowed_cidrs" {
  description = "CIDRs allowed to reach the Kubernetes API on 6443 (operators' VPN/bastion); empty = nodes only."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
