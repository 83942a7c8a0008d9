package aws

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	sdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/aws/mototest"
	"github.com/stratastack/strata/stacks/schema"
	"github.com/zclconf/go-cty/cty"
)

func TestMain(m *testing.M) { os.Exit(mototest.Main(m)) }

const region = "us-east-1"

// world is what a test finds in a fresh moto: an AMI, the default VPC's
// subnets (one per zone), and a security group and key pair it makes.
type world struct {
	url     string
	ec2     *ec2.Client // straight to moto, to check what the provisioner did
	ami     string
	subnets []string
	group   string
	key     string
}

func staticCreds() sdk.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("AKIATESTTESTTESTTEST", "secret", "")
}

// direct is an SDK client of moto at url, with the SDK's defaults.
func direct(url string) *ec2.Client {
	return ec2.New(ec2.Options{Region: region, BaseEndpoint: sdk.String(url), Credentials: staticCreds()})
}

func newWorld(t testing.TB) world {
	t.Helper()
	w := world{url: mototest.Endpoint(t)}
	w.ec2 = direct(w.url)
	ctx := t.Context()
	imgs, err := w.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"},
		Filters: []types.Filter{{Name: sdk.String("name"), Values: []string{"al2023-ami-2023*-x86_64"}}}})
	if err != nil || len(imgs.Images) == 0 {
		t.Fatalf("no al2023 AMI in moto: %v", err)
	}
	w.ami = *imgs.Images[0].ImageId
	sn, err := w.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: sdk.String("default-for-az"), Values: []string{"true"}}}})
	if err != nil || len(sn.Subnets) < 3 {
		t.Fatalf("default subnets: %v (%d)", err, len(sn.Subnets))
	}
	for _, s := range sn.Subnets[:3] {
		w.subnets = append(w.subnets, *s.SubnetId)
	}
	sg, err := w.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: sdk.String("strata"), Description: sdk.String("strata tests"), VpcId: sn.Subnets[0].VpcId})
	if err != nil {
		t.Fatal(err)
	}
	w.group = *sg.GroupId
	w.key = "strata-test"
	if _, err := w.ec2.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: &w.key}); err != nil {
		t.Fatal(err)
	}
	return w
}

// substrate is a substrate block of the world's settings, with extra
// ones laid over (a nil value removes one).
func (w world) substrate(extra map[string]any) schema.Values {
	attrs := map[string]any{"region": region, "ami": w.ami, "subnet_ids": w.subnets, "security_group_ids": []string{w.group}, "key_name": w.key}
	for k, v := range extra {
		attrs[k] = v
	}
	return values(attrs)
}

func values(attrs map[string]any) schema.Values {
	v := schema.Values{Attrs: map[string]cty.Value{}}
	for k, a := range attrs {
		switch a := a.(type) {
		case string:
			v.Attrs[k] = cty.StringVal(a)
		case []string:
			var l []cty.Value
			for _, s := range a {
				l = append(l, cty.StringVal(s))
			}
			v.Attrs[k] = cty.ListVal(l)
		}
	}
	return v
}

// config is a Config for moto at url (or a proxy in front of it).
func testConfig(url string) Config {
	return Config{Endpoint: url, Credentials: staticCreds(), PollInterval: 200 * time.Millisecond, ReadyTimeout: 30 * time.Second, DeleteTimeout: 30 * time.Second, MaxBackoff: time.Second}
}

func open(t testing.TB, cfg Config, sub schema.Values) *Provisioner {
	t.Helper()
	p, err := Open(t.Context(), cfg, sub)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// machine is the i-th machine of pool p of stack s.
func machine(s, pool string, i int) provisioners.Machine {
	return provisioners.Machine{
		Name: s + "-" + pool + "-" + strconv.Itoa(i),
		Tags: map[string]string{provisioners.TagStack: s, provisioners.TagPool: pool, provisioners.TagIndex: strconv.Itoa(i)},
		CPUs: 2, MemoryMB: 4096,
	}
}

// instancesNamed are the live instances moto has with Name tag name.
func (w world) instancesNamed(ctx context.Context, t testing.TB, name string) []types.Instance {
	t.Helper()
	out, err := w.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: sdk.String("tag:Name"), Values: []string{name}},
		{Name: sdk.String("instance-state-name"), Values: live},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var all []types.Instance
	for _, r := range out.Reservations {
		all = append(all, r.Instances...)
	}
	return all
}

// liveCount is how many live instances moto has.
func (w world) liveCount(ctx context.Context, t testing.TB) int {
	t.Helper()
	out, err := w.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: sdk.String("instance-state-name"), Values: live}}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range out.Reservations {
		n += len(r.Instances)
	}
	return n
}
