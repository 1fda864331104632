output "vpc_id" {
  description = "VPC ID (ArgoCD apps values: aws.vpcId)."
  value       = module.vpc.vpc_id
}

output "account_id" {
  description = "AWS account ID (ArgoCD apps values: aws.accountId)."
  value       = data.aws_caller_identity.current.account_id
}

output "api_certificate_arn" {
  description = "ACM certificate for the ALB (eco2 chart albIngress.certificateArn)."
  value       = module.dns.api_certificate_arn
}

output "images_bucket" {
  description = "Images bucket name."
  value       = module.images.bucket_name
}

output "images_cdn_domain" {
  description = "CloudFront domain of the images CDN."
  value       = module.images.cdn_domain_name
}

output "oidc_issuer_url" {
  description = "Service account issuer (infra/ansible var oidc_issuer_url)."
  value       = module.iam.oidc_issuer_url
}

output "oidc_bucket" {
  description = "Bucket for the OIDC discovery documents (infra/ansible var oidc_bucket)."
  value       = module.iam.oidc_bucket
}

output "irsa_role_arns" {
  description = "IRSA role ARNs per controller."
  value       = module.iam.irsa_role_arns
}

output "ssm_parameters" {
  description = "SSM parameters holding the app's secrets."
  value       = module.ssm.parameter_names
}

output "nodes" {
  description = "Nodes by name with IDs, IPs and roles."
  value       = module.nodes.nodes
}

output "ansible_inventory" {
  description = "Inventory for infra/ansible."
  value       = module.nodes.ansible_inventory
}
