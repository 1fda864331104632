# One Eco² environment: network, nodes, images CDN, DNS/certificates, IAM (IRSA), SSM secrets.
# envs/<env> instantiate this with their sizes.

terraform {
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      configuration_aliases = [aws.us_east_1]
    }
    random = { source = "hashicorp/random" }
  }
}

data "aws_caller_identity" "current" {}

locals {
  name = "eco2-${var.env}"
  tags = merge(var.tags, { Project = "eco2", Environment = var.env, ManagedBy = "terraform" })
}

# Encrypts flow logs and node volumes.
resource "aws_kms_key" "platform" {
  description         = "${local.name} logs and volumes"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.platform_key.json
  tags                = local.tags
}

data "aws_iam_policy_document" "platform_key" {
  # checkov:skip=CKV_AWS_356:a key policy's "*" resource means this key; the account root statement is the AWS default
  # checkov:skip=CKV_AWS_111:same: key policies always name the key as "*"
  # checkov:skip=CKV_AWS_109:same: key policies always name the key as "*"
  statement {
    sid       = "AccountAdmin"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
  }
}

module "logs" {
  source = "../modules/log-bucket"
  name   = "${local.name}-logs-${data.aws_caller_identity.current.account_id}"
  tags   = local.tags
}

module "vpc" {
  source             = "../modules/vpc"
  name               = local.name
  region             = var.region
  cidr               = var.vpc_cidr
  availability_zones = var.availability_zones
  single_nat_gateway = var.single_nat_gateway
  log_kms_key_arn    = aws_kms_key.platform.arn
  tags               = local.tags
}

module "security_groups" {
  source            = "../modules/security-groups"
  name              = local.name
  vpc_id            = module.vpc.vpc_id
  vpc_cidr          = module.vpc.vpc_cidr
  api_allowed_cidrs = var.api_allowed_cidrs
  tags              = local.tags
}

module "ssm" {
  source = "../modules/ssm"
  prefix = "/eco2/${var.env}"
  tags   = local.tags
}

module "images" {
  source                 = "../modules/images-bucket"
  providers              = { aws = aws, aws.us_east_1 = aws.us_east_1 }
  bucket_name            = "${local.name}-images-${data.aws_caller_identity.current.account_id}"
  aliases                = [var.images_host]
  certificate_arn        = module.dns.images_certificate_arn
  cors_allowed_origins   = var.frontend_origins
  log_bucket_id          = module.logs.bucket_id
  log_bucket_domain_name = module.logs.bucket_domain_name
  tags                   = local.tags
}

module "dns" {
  source                    = "../modules/dns"
  providers                 = { aws = aws, aws.us_east_1 = aws.us_east_1 }
  zone_name                 = var.zone_name
  create_zone               = var.create_zone
  api_host                  = var.api_host
  images_host               = var.images_host
  images_cdn_domain_name    = module.images.cdn_domain_name
  images_cdn_hosted_zone_id = module.images.cdn_hosted_zone_id
  tags                      = local.tags
}

module "iam" {
  source            = "../modules/iam"
  name              = local.name
  region            = var.region
  route53_zone_arn  = module.dns.zone_arn
  ssm_prefix        = "/eco2/${var.env}"
  ssm_kms_key_arn   = module.ssm.kms_key_arn
  images_bucket_arn = module.images.bucket_arn
  log_bucket_id     = module.logs.bucket_id
  tags              = local.tags
}

module "nodes" {
  source                         = "../modules/nodes"
  name                           = local.name
  node_groups                    = var.node_groups
  subnet_ids                     = module.vpc.private_subnet_ids
  nodes_sg_id                    = module.security_groups.nodes_sg_id
  control_plane_sg_id            = module.security_groups.control_plane_sg_id
  node_instance_profile          = module.iam.node_instance_profile
  control_plane_instance_profile = module.iam.control_plane_instance_profile
  ebs_kms_key_arn                = aws_kms_key.platform.arn
  tags                           = local.tags
}
