output "bucket_id" {
  description = "Log bucket name."
  value       = aws_s3_bucket.logs.id
}

output "bucket_domain_name" {
  description = "Log bucket domain name (CloudFront logging_config)."
  value       = aws_s3_bucket.logs.bucket_domain_name
}
