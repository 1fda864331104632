output "zone_id" {
  description = "Route53 zone ID (ExternalDNS writes the API records here)."
  value       = local.zone_id
}

output "zone_arn" {
  description = "Route53 zone ARN, for the ExternalDNS IRSA policy."
  value       = "arn:aws:route53:::hostedzone/${local.zone_id}"
}

output "api_certificate_arn" {
  description = "Validated ACM certificate for the ALB (eco2 chart albIngress.certificateArn)."
  value       = aws_acm_certificate_validation.api.certificate_arn
}

output "images_certificate_arn" {
  description = "Validated us-east-1 ACM certificate for CloudFront."
  value       = aws_acm_certificate_validation.images.certificate_arn
}
