variable "region" {
  description = "AWS region of the cluster."
  type        = string
  default     = "ap-northeast-2"
}

variable "api_allowed_cidrs" {
  description = "CIDRs allowed to reach the Kubernetes API (operators' VPN); empty = VPC only."
  type        = list(string)
  default     = []
}
