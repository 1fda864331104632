# The eco2 chart's secret settings live here as SecureStrings under <prefix>/<key> (the chart's
# values `secrets.keys`). Generated secrets get random values and the URLs are composed from
# them; provider credentials (OAuth, signing keys) start as placeholders set by operators with
# `aws ssm put-parameter --overwrite`, which Terraform then leaves alone.

data "aws_caller_identity" "current" {}

resource "aws_kms_key" "ssm" {
  description         = "${var.prefix} SSM parameters"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.ssm_key.json
  tags                = var.tags
}

# IAM policies (e.g. the External Secrets IRSA role) decide who may decrypt.
data "aws_iam_policy_document" "ssm_key" {
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
}

resource "aws_kms_alias" "ssm" {
  name          = "alias/${trimprefix(replace(var.prefix, "/", "-"), "-")}-ssm"
  target_key_id = aws_kms_key.ssm.key_id
}

resource "random_password" "generated" {
  for_each = toset(["db-password", "valkey-password", "internal-token"])
  length   = 40
  special  = false
}

locals {
  generated = {
    "db-password"     = random_password.generated["db-password"].result
    "valkey-password" = random_password.generated["valkey-password"].result
    "internal-token"  = random_password.generated["internal-token"].result
    "database-url"    = "postgresql://${var.database.owner}:${random_password.generated["db-password"].result}@${var.database.host}:5432/${var.database.name}"
    "redis-url"       = "redis://:${random_password.generated["valkey-password"].result}@${var.redis_host}:6379/0"
  }
}

resource "aws_ssm_parameter" "generated" {
  for_each = local.generated
  name     = "${var.prefix}/${each.key}"
  type     = "SecureString"
  key_id   = aws_kms_key.ssm.arn
  value    = each.value
  tags     = var.tags
}

resource "aws_ssm_parameter" "operator_set" {
  for_each = toset(var.operator_set_keys)
  name     = "${var.prefix}/${each.key}"
  type     = "SecureString"
  key_id   = aws_kms_key.ssm.arn
  value    = "unset"
  tags     = var.tags
  lifecycle {
    ignore_changes = [value]
  }
}
