# Mesos on AWS EC2: three masters spread over three subnets (zones) and
# the agents, each instance carrying its role's cloud-init as user-data.
stack {
  name = "mesos-aws"
}

variable "agents" {
  type    = number
  default = 3
}

variable "ami" {
  type        = string
  default     = "resolve:ssm:/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"
  description = "An AMI id, resolve:ssm:PARAMETER, or a name pattern (with ami_owner)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets in distinct zones; the masters spread over them."
}

variable "security_group_ids" {
  type = list(string)
}

variable "key_name" {
  type    = string
  default = null
}

variable "instance_type" {
  type        = string
  default     = null
  description = "One type for every instance; unset, each pool gets the smallest current-generation type that fits its cpus and memory."
}

substrate "aws" "main" {
  ami                = var.ami
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids
  key_name           = var.key_name
  instance_type      = var.instance_type
}

pool "masters" {
  substrate = substrate.aws.main
  size      = 3
  cpus      = 2
  memory_mb = 8192
  disk_gb   = 30
}

pool "agents" {
  substrate = substrate.aws.main
  size      = var.agents
  cpus      = 4
  memory_mb = 16384
  disk_gb   = 50
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
