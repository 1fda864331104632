variable "name" {
  description = "Cluster name, prefix of instance names."
  type        = string
}

variable "node_groups" {
  description = <<-EOT
    Nodes per role. `control-plane` is required; other roles (app, data, ingress, monitoring)
    become the node label eco2.io/node-role=<role>, and `taint = true` adds the NoSchedule taint
    eco2.io/node-role=<role> so only workloads tolerating it land there.
  EOT
  type = map(object({
    count         = number
    instance_type = string
    volume_size   = number
    taint         = bool
  }))
  validation {
    condition     = contains(keys(var.node_groups), "control-plane")
    error_message = "node_groups needs a control-plane group."
  }
}

variable "subnet_ids" {
  description = "Private subnets; nodes of a role are spread over them round-robin."
  type        = list(string)
}

variable "nodes_sg_id" {
  description = "Security group every node gets."
  type        = string
}

variable "control_plane_sg_id" {
  description = "Extra security group of control plane nodes."
  type        = string
}

variable "node_instance_profile" {
  description = "Instance profile of worker nodes."
  type        = string
}

variable "control_plane_instance_profile" {
  description = "Instance profile of control plane nodes (may publish the OIDC documents)."
  type        = string
}

variable "ami_id" {
  description = "AMI override; empty = latest Ubuntu 24.04 LTS from Canonical at creation time."
  type        = string
  default     = ""
}

variable "ebs_kms_key_arn" {
  description = "KMS key encrypting the root volumes."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
