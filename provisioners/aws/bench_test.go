package aws

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stratastack/strata/internal/benchtest"

	sdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stratastack/strata/provisioners/aws/mototest"
)

// BenchmarkMoto500 brings instances up (create, wait running) and down
// (terminate, wait terminated) through the provisioner, and the same
// with a plain aws-sdk-go-v2 loop (RunInstances, the SDK's waiters), at
// the same parallelism against the same moto, reset before each; it
// reports both and their ratio.
func BenchmarkMoto500(b *testing.B) {
	n, par := benchtest.Env("STRATA_BENCH_MACHINES", 500), benchtest.Env("STRATA_BENCH_PARALLEL", 20)
	ctx := b.Context()
	var viaProv, viaSDK time.Duration
	for round := 0; b.Loop(); round++ {
		w := mototest.NewWorld(b) // NewWorld resets moto
		start := time.Now()
		if err := direct(ctx, w, n, par, nil); err != nil {
			b.Fatal(err)
		}
		viaSDK += time.Since(start)

		// Through the provisioner, opened (and so preflighted) untimed.
		w = mototest.NewWorld(b)
		p := open(b, testConfig(w.URL), substrate(w, map[string]any{"instance_type": "t3.medium"}))
		if _, err := p.launchFor(ctx, machine("warm", "p", 0)); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		ids := make([]string, n)
		stack := fmt.Sprintf("bench%d", round)
		err := benchtest.FanOut(n, par, func(i int) error {
			in, err := p.Create(ctx, machine(stack, "p", i))
			if err == nil {
				_, err = p.Ready(ctx, in.ID)
			}
			ids[i] = in.ID
			return err
		})
		if err == nil {
			err = benchtest.FanOut(n, par, func(i int) error { return p.Delete(ctx, ids[i]) })
		}
		if err != nil {
			b.Fatal(err)
		}
		viaProv += time.Since(start)
	}
	b.ReportMetric(viaProv.Seconds()/float64(b.N), "provisioner-s")
	b.ReportMetric(viaSDK.Seconds()/float64(b.N), "sdk-s")
	b.ReportMetric(viaProv.Seconds()/viaSDK.Seconds(), "ratio")
}

// BenchmarkDirectMoto is the plain SDK loop alone, for
// acceptance/bench/aws500.sh to set beside strata up/down and terraform;
// STRATA_BENCH_USERDATA names a file every instance carries as user-data
// (the script passes a rendered bootstrap, so moto's work is the same).
func BenchmarkDirectMoto(b *testing.B) {
	n, par := benchtest.Env("STRATA_BENCH_MACHINES", 500), benchtest.Env("STRATA_BENCH_PARALLEL", 20)
	var ud []byte
	if f := os.Getenv("STRATA_BENCH_USERDATA"); f != "" {
		var err error
		if ud, err = os.ReadFile(f); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if err := direct(b.Context(), mototest.NewWorld(b), n, par, ud); err != nil {
			b.Fatal(err)
		}
	}
}

// direct brings n instances up and down with a plain aws-sdk-go-v2 loop,
// par at a time: RunInstances, the SDK's running waiter, terminate, its
// terminated waiter. It is what a hand-written tool would do, sending the
// request the provisioner sends (with user-data ud0, when given), so a ratio
// measures the provisioner's cost and not moto's for tags.
func direct(ctx context.Context, w mototest.World, n, par int, ud0 []byte) error {
	c := mototest.Client(w.URL)
	var ud *string
	if ud0 != nil {
		enc, err := userData("direct", ud0)
		if err != nil {
			return err
		}
		ud = &enc
	}
	ids := make([]string, n)
	err := benchtest.FanOut(n, par, func(i int) error {
		tags, _ := tagsOf(machine("direct", "p", i))
		out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: &w.AMI, InstanceType: types.InstanceTypeT3Medium, MinCount: sdk.Int32(1), MaxCount: sdk.Int32(1),
			SubnetId: &w.Subnets[i%len(w.Subnets)], SecurityGroupIds: []string{w.Group}, KeyName: &w.Key,
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: tags}, {ResourceType: types.ResourceTypeVolume, Tags: tags}},
			MetadataOptions:   &types.InstanceMetadataOptionsRequest{HttpTokens: types.HttpTokensStateRequired},
			ClientToken:       sdk.String(token("direct", fmt.Sprint(i), 0)),
			UserData:          ud,
		})
		if err != nil {
			return err
		}
		ids[i] = *out.Instances[0].InstanceId
		return ec2.NewInstanceRunningWaiter(c, func(o *ec2.InstanceRunningWaiterOptions) { o.MinDelay = 100 * time.Millisecond }).
			Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{ids[i]}}, time.Minute)
	})
	if err != nil {
		return err
	}
	return benchtest.FanOut(n, par, func(i int) error {
		if _, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{ids[i]}}); err != nil {
			return err
		}
		return ec2.NewInstanceTerminatedWaiter(c, func(o *ec2.InstanceTerminatedWaiterOptions) { o.MinDelay = 100 * time.Millisecond }).
			Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{ids[i]}}, time.Minute)
	})
}
