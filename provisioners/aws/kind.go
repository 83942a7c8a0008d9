package aws

import "github.com/stratastack/strata/provisioners"

// Kind describes the aws substrate kind to the registry; it has no
// provisioner yet, so stacks on it validate and plan but do not apply.
func Kind() provisioners.Kind {
	return provisioners.Kind{
		Spec: Spec(),
		Doc:  "AWS settings; credentials come from the SDK's default chain (environment, shared files, SSO, instance roles). Not used by this provider version yet: stacks on an aws substrate are rejected at plan time.",
		Settings: []provisioners.Setting{
			{Name: "region", Doc: "Region, when a stack's substrate names none.", Env: []string{"AWS_REGION", "AWS_DEFAULT_REGION"}},
			{Name: "profile", Doc: "Shared configuration profile.", Env: []string{"AWS_PROFILE"}},
		},
	}
}
