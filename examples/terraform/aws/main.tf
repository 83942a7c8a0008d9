# A Mesos stack on AWS EC2 through the strata provider.
#
# Credentials come from the AWS SDK's default chain: AWS_PROFILE or
# AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, shared config and SSO, web
# identity, or the instance's role. The region comes from the provider's
# aws block, else AWS_REGION. AWS_ENDPOINT_URL_EC2 (or AWS_ENDPOINT_URL)
# points it at another EC2 endpoint, as the tests point it at moto:
# `make aws-demo` applies this folder against `strata sim aws`, which
# prints that environment and the TF_VAR_ values for its subnets.
terraform {
  required_version = ">= 1.11"
  required_providers {
    strata = {
      source  = "stratastack/strata"
      version = "~> 0.13"
    }
  }
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "subnet_ids" {
  type        = list(string)
  description = "Three subnets in distinct availability zones."
}

variable "security_group_ids" {
  type = list(string)
}

variable "agents" {
  type    = number
  default = 3
}

variable "ami" {
  type        = string
  default     = null
  description = "An AMI id, resolve:ssm:PARAMETER or a name pattern; unset, the stack's default (Ubuntu 24.04 from SSM)."
}

variable "key_name" {
  type    = string
  default = null
}

variable "instance_type" {
  type    = string
  default = null
}

provider "strata" {
  aws {
    region = var.region
    # role_arn = "arn:aws:iam::123456789012:role/strata" # to assume a role
  }
}

resource "strata_stack" "mesos" {
  path = "${path.module}/mesos.strata.hcl"
  vars = merge({
    agents             = var.agents
    subnet_ids         = jsonencode(var.subnet_ids)
    security_group_ids = jsonencode(var.security_group_ids)
    },
    var.ami == null ? {} : { ami = var.ami },
    var.key_name == null ? {} : { key_name = var.key_name },
    var.instance_type == null ? {} : { instance_type = var.instance_type },
  )
}

output "masters" {
  description = "The Mesos masters' private addresses (Marathon on 8080)."
  value       = [for m in strata_stack.mesos.machines : m.addresses[0] if m.role == "master" && length(m.addresses) > 0]
}
