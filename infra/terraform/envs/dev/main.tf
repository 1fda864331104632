# dev: two AZs, one NAT gateway, a small single-control-plane cluster.
module "stack" {
  source    = "../../stack"
  providers = { aws = aws, aws.us_east_1 = aws.us_east_1 }

  env                = "dev"
  region             = var.region
  vpc_cidr           = "10.20.0.0/16"
  availability_zones = ["ap-northeast-2a", "ap-northeast-2c"]
  single_nat_gateway = true
  api_allowed_cidrs  = var.api_allowed_cidrs

  node_groups = {
    control-plane = { count = 1, instance_type = "t3.large", volume_size = 40, taint = true }
    app           = { count = 2, instance_type = "t3.large", volume_size = 40, taint = false }
    data          = { count = 1, instance_type = "t3.large", volume_size = 60, taint = true }
    ingress       = { count = 1, instance_type = "t3.medium", volume_size = 30, taint = true }
    monitoring    = { count = 1, instance_type = "t3.large", volume_size = 60, taint = true }
  }

  zone_name        = "dev.eco2.example"
  create_zone      = true
  api_host         = "api.dev.eco2.example"
  images_host      = "images.dev.eco2.example"
  frontend_origins = ["https://dev.eco2.example", "http://localhost:5173"]
}
