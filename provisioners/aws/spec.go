package aws

import (
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/stacks/schema"
	"github.com/zclconf/go-cty/cty"
)

const creds = "credentials come from AWS's default chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, instance roles)."

// Spec is what `substrate "aws"` accepts.
func Spec() provisioners.Spec {
	return provisioners.Spec{
		Kind: "aws",
		Attrs: []schema.Attr{
			{Name: "region", Type: cty.String, Required: true, Doc: "e.g. us-east-1."},
			{Name: "profile", Type: cty.String, Doc: "a named profile of ~/.aws/config."},
			{Name: "ami", Type: cty.String, Doc: "image id for every pool without its own."},
			{Name: "subnet_id", Type: cty.String, Doc: "subnet for the instances."},
			{Name: "security_group_ids", Type: cty.List(cty.String), Doc: "security groups."},
			{Name: "key_name", Type: cty.String, Doc: "EC2 key pair."},
			{Name: "instance_profile", Type: cty.String, Doc: "IAM instance profile name."},
			{Name: "access_key", Type: cty.String, Secret: creds},
			{Name: "secret_key", Type: cty.String, Secret: creds},
			{Name: "session_token", Type: cty.String, Secret: creds},
		},
		PoolAttrs: []schema.Attr{
			{Name: "instance_type", Type: cty.String, Doc: "overrides the type chosen from cpus/memory_mb."},
			{Name: "ami", Type: cty.String, Doc: "overrides the substrate's ami."},
			{Name: "subnet_id", Type: cty.String, Doc: "overrides the substrate's subnet."},
		},
	}
}
