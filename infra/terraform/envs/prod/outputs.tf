output "stack" {
  description = "Every output of the stack (see stack/outputs.tf); `terraform output -json stack`."
  value       = module.stack
}

output "ansible_inventory" {
  description = "Inventory for infra/ansible: terraform output -raw ansible_inventory > ../../../ansible/inventory/<env>.ini"
  value       = module.stack.ansible_inventory
}
