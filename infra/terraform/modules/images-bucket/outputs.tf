output "bucket_name" {
  description = "Images bucket name (ECO2 storage setting)."
  value       = aws_s3_bucket.images.id
}

output "bucket_arn" {
  description = "Images bucket ARN (for the images domain's IRSA policy)."
  value       = aws_s3_bucket.images.arn
}

output "cdn_domain_name" {
  description = "CloudFront domain name; the aliases point at it."
  value       = aws_cloudfront_distribution.images.domain_name
}

output "cdn_hosted_zone_id" {
  description = "CloudFront hosted zone ID for Route53 alias records."
  value       = aws_cloudfront_distribution.images.hosted_zone_id
}
