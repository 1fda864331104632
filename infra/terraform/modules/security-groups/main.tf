# Node security groups for a kubeadm cluster with Calico (VXLAN). The AWS Load Balancer
# Controller adds its own ALB -> NodePort rules to the group tagged with the cluster name.

resource "aws_security_group" "control_plane" {
  # checkov:skip=CKV2_AWS_5:attached to the instances in modules/nodes (checkov cannot follow module outputs)
  name        = "${var.name}-control-plane"
  description = "Kubernetes control plane nodes"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-control-plane" })
}

resource "aws_security_group" "nodes" {
  # checkov:skip=CKV2_AWS_5:attached to the instances in modules/nodes (checkov cannot follow module outputs)
  name        = "${var.name}-nodes"
  description = "All Kubernetes nodes (pod network, kubelet, NodePorts)"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-nodes", "kubernetes.io/cluster/${var.name}" = "owned" })
}

locals {
  # port ranges every node accepts from every other node
  node_to_node = {
    kubelet   = { from = 10250, to = 10250, protocol = "tcp", description = "kubelet API" }
    vxlan     = { from = 4789, to = 4789, protocol = "udp", description = "Calico VXLAN pod network" }
    typha     = { from = 5473, to = 5473, protocol = "tcp", description = "Calico Typha" }
    nodeports = { from = 30000, to = 32767, protocol = "tcp", description = "NodePort services" }
  }
}

resource "aws_vpc_security_group_ingress_rule" "node_to_node" {
  for_each                     = local.node_to_node
  security_group_id            = aws_security_group.nodes.id
  referenced_security_group_id = aws_security_group.nodes.id
  from_port                    = each.value.from
  to_port                      = each.value.to
  ip_protocol                  = each.value.protocol
  description                  = each.value.description
}

resource "aws_vpc_security_group_ingress_rule" "api_from_nodes" {
  security_group_id            = aws_security_group.control_plane.id
  referenced_security_group_id = aws_security_group.nodes.id
  from_port                    = 6443
  to_port                      = 6443
  ip_protocol                  = "tcp"
  description                  = "Kubernetes API from nodes"
}

resource "aws_vpc_security_group_ingress_rule" "api_from_admins" {
  for_each          = toset(var.api_allowed_cidrs)
  security_group_id = aws_security_group.control_plane.id
  cidr_ipv4         = each.value
  from_port         = 6443
  to_port           = 6443
  ip_protocol       = "tcp"
  description       = "Kubernetes API from operators (VPN / bastion ranges)"
}

resource "aws_vpc_security_group_ingress_rule" "etcd" {
  security_group_id            = aws_security_group.control_plane.id
  referenced_security_group_id = aws_security_group.control_plane.id
  from_port                    = 2379
  to_port                      = 2380
  ip_protocol                  = "tcp"
  description                  = "etcd between control plane nodes"
}

# Nodes pull images, reach AWS APIs, OpenAI and OAuth providers through the NAT gateway.
resource "aws_vpc_security_group_egress_rule" "nodes_https" {
  for_each          = { nodes = aws_security_group.nodes.id, control_plane = aws_security_group.control_plane.id }
  security_group_id = each.value
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
  description       = "HTTPS to the internet and AWS APIs"
}

resource "aws_vpc_security_group_egress_rule" "within_vpc" {
  for_each          = { nodes = aws_security_group.nodes.id, control_plane = aws_security_group.control_plane.id }
  security_group_id = each.value
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "-1"
  description       = "Anything inside the VPC (node SGs restrict the receiving side)"
}

resource "aws_vpc_security_group_egress_rule" "ntp_dns" {
  for_each = {
    nodes_ntp = { sg = aws_security_group.nodes.id, port = 123 }
    cp_ntp    = { sg = aws_security_group.control_plane.id, port = 123 }
  }
  security_group_id = each.value.sg
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = each.value.port
  to_port           = each.value.port
  ip_protocol       = "udp"
  description       = "NTP"
}
