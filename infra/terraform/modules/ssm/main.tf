# The eco2 chart's secret settings live here as SecureStrings under <prefix>/<key> (the chart's
# values `secrets.keys`). Generated secrets get random values and the URLs are composed from
# them; provider credentials (OAuth, signing keys) start as placeholders set by operators with
# `aws ssm put-parameter --overwrite`, which Terraform then leaves alone.

resource "aws_kms_key" "ssm" {
  description         = "${var.prefix} SSM parameters"
  enable_key_rotation = true
  tags                = var.tags
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
