# Put Mesos agents on EC2 instances made by the AWS provider: render each
# machine's bootstrap from the stack, with one seed for the whole layer.
resource "random_id" "seed" {
  byte_length = 32
}

data "strata_bootstrap" "agent" {
  count = 3

  path = "${path.module}/edge.strata.hcl"
  node = "infra/${3 + count.index}" # machines 0-2 are the masters
  seed = random_id.seed.hex
  addresses = {
    "edge-infra-0" = "10.0.1.10"
    "edge-infra-1" = "10.0.1.11"
    "edge-infra-2" = "10.0.1.12"
  }
}

resource "aws_instance" "agent" {
  count = 3

  ami           = "ami-0abcdef1234567890"
  instance_type = "m6i.xlarge"
  user_data     = data.strata_bootstrap.agent[count.index].user_data
}

# The Marathon apps that run Kubernetes workers on that Mesos.
data "strata_bootstrap" "k8s_workers" {
  path  = "${path.module}/edge.strata.hcl"
  layer = "kubernetes.apps"
  role  = "worker"
  seed  = random_id.seed.hex
}
