package aws

import (
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks/schema"
	"github.com/zclconf/go-cty/cty"
)

const creds = "credentials come from AWS's default chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, instance roles)."

const amiDoc = "image: an id (ami-...), an SSM parameter (resolve:ssm:/aws/service/...), or a name pattern (al2023-ami-*-x86_64, newest match of ami_owner)."

// Spec is what `substrate "aws"` accepts.
func Spec() provisioners.Spec {
	return provisioners.Spec{
		Kind: "aws",
		Attrs: []schema.Attr{
			{Name: "region", Type: cty.String, Doc: "e.g. us-east-1; else the provider's aws region, AWS_REGION or the profile's."},
			{Name: "profile", Type: cty.String, Doc: "a named profile of ~/.aws/config."},
			{Name: "ami", Type: cty.String, Doc: amiDoc + " For every pool without its own."},
			{Name: "ami_owner", Type: cty.String, Doc: "owner of an ami given by name: self (default), amazon, or an account id."},
			{Name: "instance_type", Type: cty.String, Doc: "type for pools without one; else the smallest current-generation type fitting cpus/memory_mb."},
			{Name: "subnet_id", Type: cty.String, Doc: "subnet for the instances."},
			{Name: "subnet_ids", Type: cty.List(cty.String), Doc: "subnets, ideally in distinct zones: machines (the masters of a quorum first) spread over them by index."},
			{Name: "security_group_ids", Type: cty.List(cty.String), Doc: "security groups."},
			{Name: "key_name", Type: cty.String, Doc: "EC2 key pair."},
			{Name: "instance_profile", Type: cty.String, Doc: "IAM instance profile name."},
			{Name: "placement_group", Type: cty.String, Doc: "an existing placement group."},
			{Name: "access_key", Type: cty.String, Secret: creds},
			{Name: "secret_key", Type: cty.String, Secret: creds},
			{Name: "session_token", Type: cty.String, Secret: creds},
		},
		PoolAttrs: []schema.Attr{
			{Name: "instance_type", Type: cty.String, Doc: "overrides the type chosen from cpus/memory_mb."},
			{Name: "ami", Type: cty.String, Doc: "overrides the substrate's ami."},
			{Name: "ami_owner", Type: cty.String, Doc: "overrides the substrate's ami_owner."},
			{Name: "subnet_id", Type: cty.String, Doc: "overrides the substrate's subnet."},
			{Name: "subnet_ids", Type: cty.List(cty.String), Doc: "overrides the substrate's subnets."},
			{Name: "placement_group", Type: cty.String, Doc: "overrides the substrate's placement group."},
		},
	}
}
