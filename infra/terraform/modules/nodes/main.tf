# EC2 instances for kubeadm. Roles become node labels/taints through the Ansible inventory
# (output `ansible_inventory`); the instance tags carry the same facts for humans and tools.

data "aws_ami" "ubuntu" {
  most_recent = true
  owners      = ["099720109477"] # Canonical
  filter {
    name   = "name"
    values = ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"]
  }
}

locals {
  # { "app-1" = { role = "app", index = 0, ... }, ... }
  nodes = merge([
    for role, group in var.node_groups : {
      for i in range(group.count) : "${role}-${i + 1}" => merge(group, { role = role, index = i })
    }
  ]...)
}

resource "aws_instance" "node" {
  for_each               = local.nodes
  ami                    = coalesce(var.ami_id, data.aws_ami.ubuntu.id)
  instance_type          = each.value.instance_type
  subnet_id              = var.subnet_ids[each.value.index % length(var.subnet_ids)]
  iam_instance_profile   = each.value.role == "control-plane" ? var.control_plane_instance_profile : var.node_instance_profile
  vpc_security_group_ids = each.value.role == "control-plane" ? [var.nodes_sg_id, var.control_plane_sg_id] : [var.nodes_sg_id]
  ebs_optimized          = true
  monitoring             = true

  # Pods must not reach the instance role: one hop only, tokens required. Pods use IRSA.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = each.value.volume_size
    encrypted             = true
    kms_key_id            = var.ebs_kms_key_arn
    delete_on_termination = true
  }

  tags = merge(var.tags, {
    Name                                = "${var.name}-${each.key}"
    "eco2.io/node-role"                 = each.value.role
    "kubernetes.io/cluster/${var.name}" = "owned"
  })

  lifecycle {
    ignore_changes = [ami]
  }
}
