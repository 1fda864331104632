# prod: three AZs with a NAT gateway each, three control plane nodes, room for the 14-node
# layout of the seed cluster.
module "stack" {
  source    = "../../stack"
  providers = { aws = aws, aws.us_east_1 = aws.us_east_1 }

  env                = "prod"
  region             = var.region
  vpc_cidr           = "10.30.0.0/16"
  availability_zones = ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"]
  single_nat_gateway = false
  api_allowed_cidrs  = var.api_allowed_cidrs

  node_groups = {
    control-plane = { count = 3, instance_type = "m6i.large", volume_size = 50, taint = true }
    app           = { count = 6, instance_type = "m6i.xlarge", volume_size = 50, taint = false }
    data          = { count = 2, instance_type = "r6i.large", volume_size = 200, taint = true }
    ingress       = { count = 2, instance_type = "c6i.large", volume_size = 30, taint = true }
    monitoring    = { count = 1, instance_type = "m6i.xlarge", volume_size = 100, taint = true }
  }

  zone_name        = "eco2.example"
  create_zone      = false
  api_host         = "api.eco2.example"
  images_host      = "images.eco2.example"
  frontend_origins = ["https://eco2.example", "https://www.eco2.example"]
}
