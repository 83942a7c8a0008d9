package aws

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	sdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/memo"
	"github.com/stratastack/strata/stacks/schema"
)

// Provisioner makes EC2 instances in one region of one account. It is
// safe for concurrent use.
type Provisioner struct {
	ec2 *ec2.Client
	ssm *ssm.Client
	sts *sts.Client

	region string
	who    string // "profile P" or "the default credential chain", for messages

	readyTimeout, deleteTimeout, pollInterval time.Duration

	sub  settings  // the substrate block's defaults for pools
	memo memo.Memo // images, instance types, subnets, groups, key pairs
	// launches remembers resolved pool launches apart from memo, whose
	// lookups resolving one takes (a Memo holds its lock while computing).
	launches memo.Memo

	// uncertain holds the machines whose RunInstances answer was lost:
	// before launching them again Create looks for them by tag.
	uncertainMu sync.Mutex
	uncertain   map[string]bool

	// ours holds the ids seen carrying a strata:stack tag (made, listed or
	// read here), which Delete may terminate without reading them first.
	ours sync.Map
}

var _ provisioners.Provisioner = (*Provisioner)(nil)

// settings are a block's launch settings: the substrate's, or a pool's
// laid over them.
type settings struct {
	ami, amiOwner, instanceType string
	subnets, securityGroups     []string
	keyName, instanceProfile    string
	placementGroup              string
	// from records which block set ami, instance_type and the subnets, so
	// errors name the setting to change.
	from map[string]string
}

func substrateSettings(v schema.Values) settings {
	s := settings{
		ami: v.String("ami"), amiOwner: v.String("ami_owner"), instanceType: v.String("instance_type"),
		subnets: subnetsOf(v), securityGroups: v.Strings("security_group_ids"),
		keyName: v.String("key_name"), instanceProfile: v.String("instance_profile"),
		placementGroup: v.String("placement_group"),
		from:           map[string]string{},
	}
	for _, k := range []string{"ami", "ami_owner", "instance_type", "subnet_ids", "placement_group"} {
		s.from[k] = "the substrate's " + k
	}
	return s
}

// subnetsOf is subnet_ids, or subnet_id alone.
func subnetsOf(v schema.Values) []string {
	if ids := v.Strings("subnet_ids"); len(ids) > 0 {
		return ids
	}
	if id := v.String("subnet_id"); id != "" {
		return []string{id}
	}
	return nil
}

// with lays a pool's settings over the substrate's.
func (s settings) with(pool schema.Values) settings {
	out := s
	out.from = map[string]string{}
	for k, v := range s.from {
		out.from[k] = v
	}
	set := func(dst *string, name string) {
		if v := pool.String(name); v != "" {
			*dst = v
			out.from[name] = "the pool's " + name
		}
	}
	set(&out.ami, "ami")
	set(&out.amiOwner, "ami_owner")
	set(&out.instanceType, "instance_type")
	set(&out.placementGroup, "placement_group")
	if ids := subnetsOf(pool); len(ids) > 0 {
		out.subnets = ids
		out.from["subnet_ids"] = "the pool's subnet_ids"
	}
	return out
}

// Open connects to EC2 in the region (the substrate block's, else
// cfg's, else the SDK's), with credentials from the default chain, and
// checks the substrate's settings before anything is made: that the
// credentials work, the AMI, subnets, security groups and key pair
// exist, and that a dry-run launch is allowed.
func Open(ctx context.Context, cfg Config, substrate schema.Values) (*Provisioner, error) {
	cfg.Region = cmp.Or(substrate.String("region"), cfg.Region)
	cfg.Profile = cmp.Or(substrate.String("profile"), cfg.Profile)
	ac, err := load(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p := newProvisioner(ac, cfg, substrateSettings(substrate))
	if err := p.preflight(ctx, p.sub); err != nil {
		return nil, err
	}
	return p, nil
}

func newProvisioner(ac sdk.Config, cfg Config, sub settings) *Provisioner {
	who := "the default credential chain"
	if cfg.Profile != "" {
		who = fmt.Sprintf("profile %q", cfg.Profile)
	}
	if cfg.RoleARN != "" {
		who += ", assuming " + cfg.RoleARN
	}
	return &Provisioner{
		ec2: ec2.NewFromConfig(ac), ssm: ssm.NewFromConfig(ac), sts: sts.NewFromConfig(ac),
		region: ac.Region, who: who,
		readyTimeout:  cmp.Or(cfg.ReadyTimeout, 10*time.Minute),
		deleteTimeout: cmp.Or(cfg.DeleteTimeout, 10*time.Minute),
		pollInterval:  cmp.Or(cfg.PollInterval, 5*time.Second),
		sub:           sub, uncertain: map[string]bool{},
	}
}

// Spec is what `substrate "aws"` accepts.
func (p *Provisioner) Spec() provisioners.Spec { return Spec() }

// Region is the region the provisioner works in.
func (p *Provisioner) Region() string { return p.region }

// cached is memo.Get on the provisioner's memo.
func cached[T any](p *Provisioner, key string, compute func() (T, error)) (T, error) {
	return memo.Get(&p.memo, key, compute)
}
