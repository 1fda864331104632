output "control_plane_sg_id" {
  description = "Security group of the control plane nodes (attach together with nodes_sg_id)."
  value       = aws_security_group.control_plane.id
}

output "nodes_sg_id" {
  description = "Security group of every node, tagged for the AWS Load Balancer Controller."
  value       = aws_security_group.nodes.id
}
