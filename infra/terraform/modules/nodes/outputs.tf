output "nodes" {
  description = "Every node: name -> { id, private_ip, role, taint }."
  value = {
    for name, node in aws_instance.node : name => {
      id         = node.id
      private_ip = node.private_ip
      role       = local.nodes[name].role
      taint      = local.nodes[name].taint
    }
  }
}

output "ansible_inventory" {
  description = "INI inventory for infra/ansible (terraform output -raw ansible_inventory > inventory/<env>.ini)."
  value = templatefile("${path.module}/inventory.ini.tftpl", {
    control_plane = { for n, i in aws_instance.node : n => i if local.nodes[n].role == "control-plane" }
    workers       = { for n, i in aws_instance.node : n => i if local.nodes[n].role != "control-plane" }
    roles         = { for n, v in local.nodes : n => v }
  })
}
