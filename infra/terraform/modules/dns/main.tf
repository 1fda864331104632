# The public zone and the certificates: one regional (ALB) for the API, one in us-east-1
# (CloudFront) for images. Records for the API itself are written by ExternalDNS.

terraform {
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      configuration_aliases = [aws.us_east_1]
    }
  }
}

resource "aws_route53_zone" "this" {
  # checkov:skip=CKV2_AWS_38:DNSSEC needs the registrar's DS record, a manual step documented in infra/terraform/README.md
  # checkov:skip=CKV2_AWS_39:query logging (us-east-1 log group) is optional cost; enable when DNS incidents need it
  count = var.create_zone ? 1 : 0
  name  = var.zone_name
  tags  = var.tags
}

data "aws_route53_zone" "this" {
  count = var.create_zone ? 0 : 1
  name  = var.zone_name
}

locals {
  zone_id = var.create_zone ? aws_route53_zone.this[0].zone_id : data.aws_route53_zone.this[0].zone_id
}

resource "aws_acm_certificate" "api" {
  domain_name       = var.api_host
  validation_method = "DNS"
  tags              = var.tags
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_acm_certificate" "images" {
  provider          = aws.us_east_1
  domain_name       = var.images_host
  validation_method = "DNS"
  tags              = var.tags
  lifecycle {
    create_before_destroy = true
  }
}

locals {
  validations = {
    for o in concat(
      tolist(aws_acm_certificate.api.domain_validation_options),
      tolist(aws_acm_certificate.images.domain_validation_options),
    ) : o.domain_name => o
  }
}

resource "aws_route53_record" "validation" {
  for_each        = local.validations
  zone_id         = local.zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "api" {
  certificate_arn         = aws_acm_certificate.api.arn
  validation_record_fqdns = [aws_route53_record.validation[var.api_host].fqdn]
}

resource "aws_acm_certificate_validation" "images" {
  provider                = aws.us_east_1
  certificate_arn         = aws_acm_certificate.images.arn
  validation_record_fqdns = [aws_route53_record.validation[var.images_host].fqdn]
}

resource "aws_route53_record" "images" {
  for_each = toset(["A", "AAAA"])
  zone_id  = local.zone_id
  name     = var.images_host
  type     = each.value
  alias {
    name                   = var.images_cdn_domain_name
    zone_id                = var.images_cdn_hosted_zone_id
    evaluate_target_health = false
  }
}
