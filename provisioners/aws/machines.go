package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stratastack/strata/internal/wait"

	sdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stratastack/strata/provisioners"
)

// EC2's tag limits.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// Lost answers are looked into and the launch sent again this many times
// in one Create; then the engine's retry takes over.
const maxLost = 3

// maxGeneration bounds the client tokens tried for one machine (see
// Create).
const maxGeneration = 20

// tagsOf are the machine's tags plus Name (and its group), checked
// against EC2's limits so a bad one fails naming itself.
func tagsOf(m provisioners.Machine) ([]types.Tag, error) {
	all := maps.Clone(m.Tags)
	all["Name"] = m.Name
	if m.Group != "" {
		all[provisioners.TagGroup] = m.Group
	}
	if len(all) > maxTags {
		return nil, fmt.Errorf("aws: machine %s has %d tags; EC2 keeps at most %d", m.Name, len(all), maxTags)
	}
	var out []types.Tag
	for _, k := range slices.Sorted(maps.Keys(all)) {
		v := all[k]
		switch {
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return nil, fmt.Errorf("aws: tag %q of %s: keys starting with aws: are AWS's own", k, m.Name)
		case utf8.RuneCountInString(k) > maxTagKeyLen:
			return nil, fmt.Errorf("aws: tag %q of %s: EC2 tag keys hold at most %d characters", k, m.Name, maxTagKeyLen)
		case utf8.RuneCountInString(v) > maxTagValueLen:
			return nil, fmt.Errorf("aws: tag %q of %s: EC2 tag values hold at most %d characters", k, m.Name, maxTagValueLen)
		}
		out = append(out, types.Tag{Key: sdk.String(k), Value: sdk.String(v)})
	}
	return out, nil
}

// subnetFor spreads machines over the subnets by their index in the
// pool, so the members of a spread group (a quorum's masters, which come
// first in their pool) land in distinct subnets and so zones.
func subnetFor(m provisioners.Machine, subnets []string) string {
	if len(subnets) == 0 {
		return "" // the default VPC's default subnet of a zone EC2 picks
	}
	i, _ := strconv.Atoi(m.Tags[provisioners.TagIndex])
	return subnets[max(i, 0)%len(subnets)]
}

// input is the RunInstances request for one machine: one instance,
// tagged with its volumes at creation, IMDSv2 only.
func (l launch) input(m provisioners.Machine, userData, subnet string) (*ec2.RunInstancesInput, error) {
	tags, err := tagsOf(m)
	if err != nil {
		return nil, err
	}
	in := &ec2.RunInstancesInput{
		ImageId: sdk.String(l.img.id), InstanceType: types.InstanceType(l.instanceType),
		MinCount: sdk.Int32(1), MaxCount: sdk.Int32(1),
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: tags},
			{ResourceType: types.ResourceTypeVolume, Tags: tags},
		},
		MetadataOptions: &types.InstanceMetadataOptionsRequest{
			HttpTokens: types.HttpTokensStateRequired, HttpEndpoint: types.InstanceMetadataEndpointStateEnabled,
			// 2 lets containers on the machine (one hop further) reach it.
			HttpPutResponseHopLimit: sdk.Int32(2),
		},
	}
	if userData != "" {
		in.UserData = sdk.String(userData)
	}
	if subnet != "" {
		in.SubnetId = sdk.String(subnet)
	}
	if len(l.securityGroups) > 0 {
		in.SecurityGroupIds = l.securityGroups
	}
	if l.keyName != "" {
		in.KeyName = sdk.String(l.keyName)
	}
	if l.instanceProfile != "" {
		in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Name: sdk.String(l.instanceProfile)}
	}
	if l.placementGroup != "" {
		in.Placement = &types.Placement{GroupName: sdk.String(l.placementGroup)}
	}
	if m.DiskGB > 0 && l.img.rootDevice != "" {
		if m.DiskGB < l.img.rootGB {
			return nil, fmt.Errorf("aws: disk_gb = %d for %s, but the AMI %s has a %d GB root volume: set disk_gb to at least %d", m.DiskGB, m.Name, l.img.id, l.img.rootGB, l.img.rootGB)
		}
		in.BlockDeviceMappings = []types.BlockDeviceMapping{{
			DeviceName: sdk.String(l.img.rootDevice),
			Ebs: &types.EbsBlockDevice{
				VolumeSize: sdk.Int32(int32(m.DiskGB)), VolumeType: types.VolumeTypeGp3, DeleteOnTermination: sdk.Bool(true),
			},
		}}
	}
	return in, nil
}

// token is the RunInstances client token of a machine's gen-th launch:
// the same for every retry of one launch, so EC2 makes it once.
func token(stack, name string, gen int) string {
	h := sha256.Sum256([]byte(stack + "\x00" + name + "\x00" + strconv.Itoa(gen)))
	return "strata-" + hex.EncodeToString(h[:20])
}

// Create launches one instance for the machine, tagged and carrying its
// user-data from the start. Everything is checked before the launch: the
// tags, the user-data's size, the pool's AMI, type, subnets, groups and
// key pair, and a dry run.
//
// The client token is derived from the stack, the machine and a
// generation: EC2 answers a token it saw with the instance it made then,
// so a retried launch makes nothing new. When that instance is gone (the
// machine was removed and is made again) or was launched with other
// settings, the next generation is used.
func (p *Provisioner) Create(ctx context.Context, m provisioners.Machine) (provisioners.Instance, error) {
	stack := m.Tags[provisioners.TagStack]
	if m.Name == "" || stack == "" {
		return provisioners.Instance{}, fmt.Errorf("aws: machine %q needs a name and a %s tag", m.Name, provisioners.TagStack)
	}
	ud, err := userData(m.Name, m.UserData)
	if err != nil {
		return provisioners.Instance{}, err
	}
	if _, err := tagsOf(m); err != nil {
		return provisioners.Instance{}, err
	}
	l, err := p.launchFor(ctx, m)
	if err != nil {
		return provisioners.Instance{}, fmt.Errorf("%w (machine %s)", err, m.Name)
	}
	in, err := l.input(m, ud, subnetFor(m, l.subnets))
	if err != nil {
		return provisioners.Instance{}, err
	}
	return p.run(ctx, m, in, l)
}

// run sends the launch until it has an answer. A lost answer (the
// connection dropped or timed out after the request went out) may hide a
// made instance, and endpoints that ignore client tokens would make a
// second: the machine is looked for by its tags before the next try.
func (p *Provisioner) run(ctx context.Context, m provisioners.Machine, in *ec2.RunInstancesInput, l launch) (provisioners.Instance, error) {
	stack := m.Tags[provisioners.TagStack]
	gen, lost := 0, 0
	for {
		if p.isUncertain(m.Name) {
			got, ok, err := p.find(ctx, stack, m.Name)
			if err != nil {
				return provisioners.Instance{}, err
			}
			if ok {
				p.settle(m.Name)
				return got, nil
			}
		}
		in.ClientToken = sdk.String(token(stack, m.Name, gen))
		out, err := p.ec2.RunInstances(ctx, in, func(o *ec2.Options) { o.Retryer = noResend{o.Retryer} })
		switch {
		case err != nil && lostAnswer(err):
			p.markUncertain(m.Name)
			if lost++; lost >= maxLost || ctx.Err() != nil {
				return provisioners.Instance{}, p.fail(ctx, err, "launch %s (the answer was lost; the next try looks for it first)", m.Name)
			}
			if err := wait.Sleep(ctx, time.Duration(lost)*200*time.Millisecond); err != nil {
				return provisioners.Instance{}, err
			}
			continue
		case code(err) == "IdempotentParameterMismatch" && gen < maxGeneration:
			gen++
			continue
		case err != nil:
			return provisioners.Instance{}, p.fail(ctx, err, "launch %s (a %s from %s, %s, in %s)", m.Name, l.instanceType, l.img.id, l.from["instance_type"], sdk.ToString(in.SubnetId))
		case len(out.Instances) == 0:
			return provisioners.Instance{}, fmt.Errorf("aws: launch %s: EC2 answered with no instance", m.Name)
		}
		p.settle(m.Name)
		got := instance(out.Instances[0])
		if got.State != provisioners.StateGone {
			p.ours.Store(got.ID, struct{}{}) // tagged at launch, whatever the answer shows
		}
		if got.State == provisioners.StateGone && gen < maxGeneration {
			gen++ // the token's earlier instance, since removed
			continue
		}
		return got, nil
	}
}

// noResend keeps the SDK from resending a RunInstances whose answer was
// lost: run looks for the instance first. Refusals (throttling, 5xx) are
// still retried by the SDK; nothing was made.
type noResend struct{ sdk.Retryer }

func (r noResend) IsErrorRetryable(err error) bool {
	return !lostAnswer(err) && r.Retryer.IsErrorRetryable(err)
}

func (r noResend) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	if v2, ok := r.Retryer.(sdk.RetryerV2); ok {
		return v2.GetAttemptToken(ctx)
	}
	return r.GetInitialToken(), nil
}

// lostAnswer reports whether err means the request may have reached EC2
// but no answer came back: no HTTP response, and not a failure to
// connect at all.
func lostAnswer(err error) bool {
	if err == nil {
		return false
	}
	if status(err) != 0 || code(err) != "" {
		return false // an answer came
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return false
	}
	return provisioners.Dropped(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "EOF")
}

func (p *Provisioner) isUncertain(name string) bool {
	p.uncertainMu.Lock()
	defer p.uncertainMu.Unlock()
	return p.uncertain[name]
}

func (p *Provisioner) markUncertain(name string) {
	p.uncertainMu.Lock()
	defer p.uncertainMu.Unlock()
	p.uncertain[name] = true
}

func (p *Provisioner) settle(name string) {
	p.uncertainMu.Lock()
	defer p.uncertainMu.Unlock()
	delete(p.uncertain, name)
}
