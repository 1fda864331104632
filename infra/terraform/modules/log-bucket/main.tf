# Receives S3 server access logs and CloudFront standard logs (which still need ACLs).
resource "aws_s3_bucket" "logs" {
  # checkov:skip=CKV_AWS_18:this is the access-log destination; logging it into itself would loop
  # checkov:skip=CKV_AWS_145:S3 server access logging only delivers to SSE-S3 buckets
  # checkov:skip=CKV_AWS_144:logs are kept in-region; replication is not worth its cost
  # checkov:skip=CKV2_AWS_62:no consumer of log object events
  bucket = var.name
  tags   = var.tags
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  # checkov:skip=CKV2_AWS_65:CloudFront standard logging writes with ACLs, which BucketOwnerEnforced would reject
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerPreferred"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = var.retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}
