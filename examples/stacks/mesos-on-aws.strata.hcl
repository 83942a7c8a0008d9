# Mesos (ZooKeeper + Mesos master + Marathon, and agents) on AWS EC2.
stack {
  name = "mesos-aws"
}

variable "agents" {
  type        = number
  default     = 5
  description = "Mesos agents"
}

substrate "aws" "use1" {
  region             = "us-east-1"
  ami                = "ami-0abcdef1234567890" # Ubuntu 24.04 in your account
  subnet_id          = "subnet-0123"
  security_group_ids = ["sg-0123"]
}

pool "masters" {
  substrate     = substrate.aws.use1
  size          = 3
  cpus          = 2
  memory_mb     = 8192
  instance_type = "m7i.large"
}

pool "agents" {
  substrate = substrate.aws.use1
  size      = var.agents
  cpus      = 8
  memory_mb = 32768
  labels    = { tier = "compute" }
}

layer "mesos" "core" {
  role "master" {
    on    = pool.masters
    count = 3
  }
  role "agent" {
    on = pool.agents
  }
}

output "marathon" {
  value = formatlist("http://%s:8080", layer.mesos.core.role.master.addresses)
}
