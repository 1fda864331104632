output "kms_key_arn" {
  description = "KMS key encrypting the parameters (External Secrets needs kms:Decrypt on it)."
  value       = aws_kms_key.ssm.arn
}

output "parameter_names" {
  description = "Every parameter this module manages."
  value       = concat([for p in aws_ssm_parameter.generated : p.name], [for p in aws_ssm_parameter.operator_set : p.name])
}
