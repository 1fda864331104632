variable "name" {
  description = "Globally unique bucket name."
  type        = string
}

variable "retention_days" {
  description = "Days logs are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
