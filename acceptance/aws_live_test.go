package acceptance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/stratastack/strata/provisioners/aws/mototest"
)

// Live tests run against real AWS only with STRATA_AWS_LIVE=1 and
// credentials from the SDK's default chain (AWS_PROFILE, keys, SSO...),
// in AWS_REGION (us-east-1 if unset), in the default VPC. Their stacks are
// named acc-*; the sweeper terminates what a failed run left:
//
//	STRATA_AWS_LIVE=1 go test ./acceptance -run 'TestAccAWSLive'
//	STRATA_AWS_LIVE=1 go test ./acceptance -run 'TestAccAWSSweep'

// accPattern is the strata:stack tag of every stack the tests make on
// real AWS; nobody else should name a stack so.
const accPattern = "acc-*"

// sweepAWS terminates every live instance whose strata:stack tag matches
// pattern (EC2's * and ? wildcards) and waits until they are terminated;
// it returns their names. Instances without the tag are never touched.
func sweepAWS(ctx context.Context, c *ec2.Client, pattern string) ([]string, error) {
	w := mototest.World{EC2: c}
	all, err := w.Instances(ctx, mototest.TagFilter("strata:stack", pattern), mototest.LiveFilter())
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", pattern, err)
	}
	var ids, names []string
	for _, i := range all {
		ids = append(ids, *i.InstanceId)
		names = append(names, mototest.Tag(i, "Name")+" ("+*i.InstanceId+")")
	}
	slices.Sort(names)
	for batch := range slices.Chunk(ids, 100) {
		if _, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: batch}); err != nil {
			return names, fmt.Errorf("sweep %s: terminate %v: %w", pattern, batch, err)
		}
	}
	if len(ids) > 0 {
		err = ec2.NewInstanceTerminatedWaiter(c).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids}, 10*time.Minute)
	}
	return names, err
}

// TestAWSSweeper: against moto, the sweeper terminates the acc-* stacks'
// instances and nothing else: not another stack's, not untagged ones.
func TestAWSSweeper(t *testing.T) {
	w := mototest.NewWorld(t)
	ctx := t.Context()
	launch := func(tags map[string]string) string {
		var ts []types.Tag
		for k, v := range tags {
			ts = append(ts, types.Tag{Key: sdk.String(k), Value: sdk.String(v)})
		}
		in := &ec2.RunInstancesInput{ImageId: &w.AMI, InstanceType: types.InstanceTypeT3Micro, MinCount: sdk.Int32(1), MaxCount: sdk.Int32(1), SubnetId: &w.Subnets[0]}
		if len(ts) > 0 {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: ts}}
		}
		out, err := w.EC2.RunInstances(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return *out.Instances[0].InstanceId
	}
	swept := []string{
		launch(map[string]string{"strata:stack": "acc-1a2b", "Name": "acc-1a2b-p-0"}),
		launch(map[string]string{"strata:stack": "acc-1a2b", "Name": "acc-1a2b-p-1"}),
		launch(map[string]string{"strata:stack": "acc-ff", "Name": "acc-ff-p-0"}),
	}
	kept := []string{
		launch(map[string]string{"strata:stack": "prod", "Name": "prod-p-0"}),
		launch(map[string]string{"strata:stack": "xacc-1", "Name": "xacc-1-p-0"}),
		launch(map[string]string{"Name": "acc-by-hand"}),
		launch(nil),
	}
	names, err := sweepAWS(ctx, w.EC2, accPattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != len(swept) {
		t.Errorf("swept %v, want the three acc-* instances", names)
	}
	for _, id := range append(swept, kept...) {
		i, err := w.Instance(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		gone := i.State.Name == types.InstanceStateNameTerminated
		if want := slices.Contains(swept, id); gone != want {
			t.Errorf("%s (%s): terminated %v, want %v", id, mototest.Tag(i, "Name"), gone, want)
		}
	}
}

// live is a client of real AWS, or skips the test without STRATA_AWS_LIVE.
func live(t *testing.T) *ec2.Client {
	t.Helper()
	if os.Getenv("STRATA_AWS_LIVE") != "1" {
		t.Skip("real AWS: set STRATA_AWS_LIVE=1 and credentials (AWS_PROFILE, keys or SSO) to run")
	}
	if os.Getenv("AWS_REGION") == "" {
		t.Setenv("AWS_REGION", "us-east-1")
	}
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return ec2.NewFromConfig(cfg)
}

// TestAccAWSSweep terminates what live runs left (stacks acc-*).
func TestAccAWSSweep(t *testing.T) {
	c := live(t)
	names, err := sweepAWS(t.Context(), c, accPattern)
	t.Logf("swept %d instances: %v", len(names), names)
	if err != nil {
		t.Fatal(err)
	}
}

// TestAccAWSLive applies the example on real AWS in the default VPC's
// default subnets (three zones) with t3.micro instances, checks what EC2
// holds as the moto tests do, scales by one agent, and destroys; the
// sweeper removes its stack whatever happens.
func TestAccAWSLive(t *testing.T) {
	c := live(t)
	enableAcceptance(t)
	ctx := t.Context()
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	stack := "acc-" + hex.EncodeToString(suffix)
	t.Cleanup(func() {
		names, err := sweepAWS(context.WithoutCancel(ctx), c, stack)
		if err != nil || len(names) > 0 {
			t.Errorf("swept after the test: %v (%v)", names, err)
		}
	})
	w := mototest.World{EC2: c, AMI: "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"}
	sn, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: sdk.String("default-for-az"), Values: []string{"true"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sn.Subnets) < 3 {
		t.Skipf("the region's default VPC has %d default subnets; the test needs three zones", len(sn.Subnets))
	}
	for _, s := range sn.Subnets[:3] {
		w.Subnets = append(w.Subnets, *s.SubnetId)
	}
	sg, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
		{Name: sdk.String("group-name"), Values: []string{"default"}}, {Name: sdk.String("vpc-id"), Values: []string{*sn.Subnets[0].VpcId}},
	}})
	if err != nil || len(sg.SecurityGroups) == 0 {
		t.Fatalf("the default VPC's default security group: %v", err)
	}
	w.Group = *sg.SecurityGroups[0].GroupId
	path, seed := awsExample(t, stack)
	over := map[string]string{"instance_type": "t3.micro"}
	one, two := awsVars(w, 1, over), awsVars(w, 2, over)
	if !strings.HasPrefix(stack, strings.TrimSuffix(accPattern, "*")) {
		t.Fatalf("stack %s would escape the sweeper", stack)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		CheckDestroy:             noInstancesLeft(w, stack),
		Steps: []resource.TestStep{
			{Config: awsConfig(path, one), Check: checkAWSStack(w, stack, path, seed, one)},
			{Config: awsConfig(path, two), Check: checkAWSStack(w, stack, path, seed, two)},
		},
	})
}
