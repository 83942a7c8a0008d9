package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"

	sdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/memo"
)

// launch is a block's settings resolved against EC2: what RunInstances
// is given for each machine of it.
type launch struct {
	settings
	img          image
	instanceType string
}

// launchFor resolves and checks the launch settings of a machine's pool,
// once per distinct pool shape: the AMI, the instance type, that the
// subnets, security groups and key pair exist, and a dry-run launch.
func (p *Provisioner) launchFor(ctx context.Context, m provisioners.Machine) (launch, error) {
	s := p.sub.with(m.Pool)
	key := fmt.Sprintf("launch\x00%s\x00%s\x00%s\x00%v\x00%s\x00%d\x00%d", s.ami, s.amiOwner, s.instanceType, s.subnets, s.placementGroup, m.CPUs, m.MemoryMB)
	return memo.Get(&p.launches, key, func() (launch, error) { return p.resolve(ctx, s, m.CPUs, m.MemoryMB) })
}

// preflight checks a block's settings before anything is made. Without
// an AMI only what is named is checked (and so the credentials): pools
// bring their own and are checked at their first Create.
func (p *Provisioner) preflight(ctx context.Context, s settings) error {
	if s.ami != "" {
		_, err := p.resolve(ctx, s, 0, 0)
		return err
	}
	if err := p.checkNetwork(ctx, s); err != nil {
		return err
	}
	if len(s.subnets) == 0 && len(s.securityGroups) == 0 && s.keyName == "" {
		// Nothing named: still learn now, not at the first Create, whether
		// the credentials and endpoint work.
		if _, err := p.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{}); err != nil {
			return p.fail(ctx, err, "reach EC2")
		}
	}
	return nil
}

func (p *Provisioner) resolve(ctx context.Context, s settings, cpus, memoryMB int) (launch, error) {
	if s.ami == "" {
		return launch{}, fmt.Errorf("aws: no ami: set ami in the pool or in the substrate block (an ami-... id, resolve:ssm:/aws/service/..., or a name pattern)")
	}
	if err := p.checkNetwork(ctx, s); err != nil {
		return launch{}, err
	}
	img, err := p.lookupImage(ctx, s.ami, s.amiOwner, s.from["ami"])
	if err != nil {
		return launch{}, err
	}
	all, err := p.instanceTypes(ctx, s.instanceType)
	if err != nil {
		return launch{}, err
	}
	it, err := pickType(all, s.instanceType, s.from["instance_type"], img.arch, cpus, memoryMB)
	if err != nil {
		return launch{}, err
	}
	l := launch{settings: s, img: img, instanceType: it}
	if err := p.dryRun(ctx, l); err != nil {
		return launch{}, err
	}
	return l, nil
}

// dryRun asks EC2 whether the launch would be allowed (permissions,
// the type in the subnet's zone, the AMI for the account) without making
// anything.
func (p *Provisioner) dryRun(ctx context.Context, l launch) error {
	m := provisioners.Machine{Name: "strata-dry-run", Tags: map[string]string{provisioners.TagStack: "dry-run"}}
	in, err := l.input(m, "", subnetFor(m, l.subnets))
	if err != nil {
		return err
	}
	in.DryRun = sdk.Bool(true)
	_, err = p.ec2.RunInstances(ctx, in)
	if code(err) == "DryRunOperation" {
		return nil
	}
	if err == nil {
		return nil // an endpoint that ignores DryRun made nothing it says; nothing to check
	}
	return p.fail(ctx, err, "dry-run launch of a %s from %s (%s)", l.instanceType, l.img.id, l.from["ami"])
}

// checkNetwork checks that the subnets, security groups, key pair and
// placement group a block names exist in the region.
func (p *Provisioner) checkNetwork(ctx context.Context, s settings) error {
	if len(s.subnets) > 0 {
		_, err := cached(p, "subnets\x00"+strings.Join(s.subnets, ","), func() (bool, error) {
			out, err := p.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: s.subnets})
			if err == nil {
				var found []string
				for _, sn := range out.Subnets {
					found = append(found, sdk.ToString(sn.SubnetId))
				}
				for _, id := range s.subnets {
					if !slices.Contains(found, id) {
						return false, fmt.Errorf("aws: %s: no subnet %s in %s", s.from["subnet_ids"], id, p.region)
					}
				}
				return true, nil
			}
			if strings.HasPrefix(code(err), "InvalidSubnetID.") {
				return false, fmt.Errorf("aws: %s names a subnet not in %s: %s", s.from["subnet_ids"], p.region, message(err))
			}
			return false, p.fail(ctx, err, "look up subnets %v (%s)", s.subnets, s.from["subnet_ids"])
		})
		if err != nil {
			return err
		}
	}
	if len(s.securityGroups) > 0 {
		_, err := cached(p, "groups\x00"+strings.Join(s.securityGroups, ","), func() (bool, error) {
			_, err := p.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: s.securityGroups})
			if c := code(err); strings.HasPrefix(c, "InvalidGroup") || strings.HasPrefix(c, "InvalidSecurityGroupID") {
				return false, fmt.Errorf("aws: security_group_ids names a group not in %s: %s", p.region, message(err))
			}
			if err != nil {
				return false, p.fail(ctx, err, "look up security groups %v", s.securityGroups)
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	if s.keyName != "" {
		_, err := cached(p, "key\x00"+s.keyName, func() (bool, error) {
			_, err := p.ec2.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{s.keyName}})
			if strings.HasPrefix(code(err), "InvalidKeyPair.") {
				return false, fmt.Errorf("aws: key_name %q: no such key pair in %s; key pairs belong to a region: import it with `aws ec2 import-key-pair --region %s`", s.keyName, p.region, p.region)
			}
			if err != nil {
				return false, p.fail(ctx, err, "look up key pair %q", s.keyName)
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	if s.placementGroup != "" {
		_, err := cached(p, "placement\x00"+s.placementGroup, func() (bool, error) {
			out, err := p.ec2.DescribePlacementGroups(ctx, &ec2.DescribePlacementGroupsInput{GroupNames: []string{s.placementGroup}})
			if err == nil && len(out.PlacementGroups) == 0 || code(err) == "InvalidPlacementGroup.Unknown" {
				return false, fmt.Errorf("aws: %s = %q: no such placement group in %s; Strata uses an existing one (aws ec2 create-placement-group)", s.from["placement_group"], s.placementGroup, p.region)
			}
			if err != nil {
				return false, p.fail(ctx, err, "look up placement group %q", s.placementGroup)
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
