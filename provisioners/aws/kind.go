package aws

import (
	"context"

	"github.com/stratastack/strata/provisioners"
)

// Kind describes the aws substrate kind to the registry. Credentials are
// never settings: they come from the SDK's default chain.
func Kind() provisioners.Kind {
	return provisioners.Kind{
		Spec: Spec(),
		Doc:  "AWS settings. Credentials come from the SDK's default chain: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, the shared config and credentials files (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`) with their profiles, SSO and credential processes, web identity (`AWS_WEB_IDENTITY_TOKEN_FILE`), and the instance role (IMDS). `AWS_ENDPOINT_URL_EC2` or `AWS_ENDPOINT_URL` point it at another EC2 endpoint. A stack's `substrate \"aws\"` block's `region` and `profile` win over these settings.",
		Settings: []provisioners.Setting{
			{Name: "region", Doc: "Region, when a stack's substrate names none.", Env: []string{"AWS_REGION", "AWS_DEFAULT_REGION"}},
			{Name: "profile", Doc: "Shared configuration profile.", Env: []string{"AWS_PROFILE"}},
			{Name: "role_arn", Doc: "IAM role to assume (sts:AssumeRole) with the chain's credentials.", Env: []string{"STRATA_AWS_ROLE_ARN"}},
		},
		Open: func(ctx context.Context, env provisioners.Env, t provisioners.Target) (provisioners.Provisioner, error) {
			return Open(ctx, ConfigFrom(env), t.Settings)
		},
	}
}
