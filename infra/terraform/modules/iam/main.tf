# Node instance roles, and IRSA for a self-managed (kubeadm) cluster: the control plane signs
# service account tokens with issuer https://<oidc bucket>.s3.<region>.amazonaws.com and
# publishes the discovery documents there (infra/ansible role control_plane); IAM trusts that
# issuer, and each controller's ServiceAccount assumes only its own role.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  issuer     = "${aws_s3_bucket.oidc.bucket}.s3.${var.region}.amazonaws.com"
  issuer_url = "https://${local.issuer}"
}

# --- nodes ----------------------------------------------------------------------------------

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  for_each           = toset(["node", "control-plane"])
  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
  tags               = var.tags
}

# Session Manager replaces SSH (no inbound port 22, no key pairs).
resource "aws_iam_role_policy_attachment" "ssm_core" {
  for_each   = aws_iam_role.node
  role       = each.value.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy_attachment" "ecr_read" {
  for_each   = aws_iam_role.node
  role       = each.value.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
}

data "aws_iam_policy_document" "publish_oidc" {
  statement {
    actions = ["s3:PutObject"]
    resources = [
      "${aws_s3_bucket.oidc.arn}/.well-known/openid-configuration",
      "${aws_s3_bucket.oidc.arn}/keys.json",
    ]
  }
}

resource "aws_iam_role_policy" "publish_oidc" {
  name   = "publish-oidc-documents"
  role   = aws_iam_role.node["control-plane"].id
  policy = data.aws_iam_policy_document.publish_oidc.json
}

resource "aws_iam_instance_profile" "node" {
  for_each = aws_iam_role.node
  name     = each.value.name
  role     = each.value.name
  tags     = var.tags
}

# --- OIDC issuer ------------------------------------------------------------------------------

resource "aws_s3_bucket" "oidc" {
  # checkov:skip=CKV_AWS_145:holds only public discovery documents; KMS would block anonymous reads by STS
  # checkov:skip=CKV_AWS_144:two small public documents, republished by Ansible on demand
  # checkov:skip=CKV2_AWS_62:no consumer of object events
  # checkov:skip=CKV2_AWS_6:the access block below deliberately allows the public-read bucket policy
  bucket = "${var.name}-oidc-${data.aws_caller_identity.current.account_id}"
  tags   = var.tags
}

resource "aws_s3_bucket_server_side_encryption_configuration" "oidc" {
  bucket = aws_s3_bucket.oidc.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "oidc" {
  bucket = aws_s3_bucket.oidc.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_logging" "oidc" {
  bucket        = aws_s3_bucket.oidc.id
  target_bucket = var.log_bucket_id
  target_prefix = "s3/oidc/"
}

# STS fetches the discovery documents anonymously: exactly these two objects are public.
resource "aws_s3_bucket_public_access_block" "oidc" {
  # checkov:skip=CKV_AWS_54:the bucket policy must make the two OIDC discovery documents public
  # checkov:skip=CKV_AWS_56:the bucket policy must make the two OIDC discovery documents public
  bucket                  = aws_s3_bucket.oidc.id
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = false
  restrict_public_buckets = false
}

data "aws_iam_policy_document" "oidc_bucket" {
  statement {
    sid     = "PublicDiscoveryDocuments"
    actions = ["s3:GetObject"]
    resources = [
      "${aws_s3_bucket.oidc.arn}/.well-known/openid-configuration",
      "${aws_s3_bucket.oidc.arn}/keys.json",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "oidc" {
  bucket = aws_s3_bucket.oidc.id
  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_policy" "oidc" {
  bucket     = aws_s3_bucket.oidc.id
  policy     = data.aws_iam_policy_document.oidc_bucket.json
  depends_on = [aws_s3_bucket_public_access_block.oidc]
}

resource "aws_iam_openid_connect_provider" "cluster" {
  url            = local.issuer_url
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

# --- IRSA roles -------------------------------------------------------------------------------

locals {
  irsa = {
    alb-controller   = { namespace = "kube-system", service_account = "aws-load-balancer-controller", policy = data.aws_iam_policy_document.alb_controller.json }
    external-dns     = { namespace = "external-dns", service_account = "external-dns", policy = data.aws_iam_policy_document.external_dns.json }
    external-secrets = { namespace = "external-secrets", service_account = "external-secrets", policy = data.aws_iam_policy_document.external_secrets.json }
    images           = { namespace = "eco2", service_account = "eco2-images", policy = data.aws_iam_policy_document.images.json }
  }
}

data "aws_iam_policy_document" "irsa_assume" {
  for_each = local.irsa
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.cluster.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = ["system:serviceaccount:${each.value.namespace}:${each.value.service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "irsa" {
  for_each           = local.irsa
  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.irsa_assume[each.key].json
  tags               = var.tags
}

resource "aws_iam_role_policy" "irsa" {
  for_each = local.irsa
  name     = each.key
  role     = aws_iam_role.irsa[each.key].id
  policy   = each.value.policy
}
