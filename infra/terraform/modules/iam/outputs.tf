output "node_instance_profile" {
  description = "Instance profile of worker nodes."
  value       = aws_iam_instance_profile.node["node"].name
}

output "control_plane_instance_profile" {
  description = "Instance profile of control plane nodes."
  value       = aws_iam_instance_profile.node["control-plane"].name
}

output "oidc_issuer_url" {
  description = "Service account issuer for kube-apiserver (--service-account-issuer)."
  value       = local.issuer_url
}

output "oidc_bucket" {
  description = "Bucket the control plane publishes the OIDC discovery documents to."
  value       = aws_s3_bucket.oidc.bucket
}

output "irsa_role_arns" {
  description = "IRSA role per controller (alb-controller, external-dns, external-secrets, images)."
  value       = { for k, r in aws_iam_role.irsa : k => r.arn }
}
