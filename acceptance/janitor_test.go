package acceptance

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/aws/mototest"
)

// The substrate is the record: stacks whose runners and state are gone
// are found and removed from their machines' tags alone, on vSphere
// (vcsim), OpenStack (the test cloud) and AWS (moto).

// janitorSubstrates are the substrate blocks the test's stacks use.
func janitorSubstrates(w mototest.World) string {
	return fmt.Sprintf(`substrate "vsphere" "dc" {
  datacenter = "DC0"
  cluster    = "DC0_C0"
  datastore  = "LocalDS_0"
  network    = "VM Network"
  template   = "ubuntu-24.04"
}
substrate "openstack" "lab" {
  cloud   = "strata"
  image   = "debian-12"
  network = "none"
}
substrate "aws" "main" {
  ami                = %q
  subnet_ids         = [%q]
  security_group_ids = [%q]
  key_name           = %q
  instance_type      = "t3.micro"
}
`, w.AMI, w.Subnets[0], w.Group, w.Key)
}

const janitorFile = `stack {
  name = "janitor"
}
substrate "vsphere" "dc" {
  datacenter = "DC0"
  cluster    = "DC0_C0"
}
substrate "openstack" "lab" {
  cloud = "strata"
}
substrate "aws" "main" {}
`

// janitorStack is a stack of n machines on one of those substrates.
func janitorStack(name, substrate string, n int, subs string) string {
	return fmt.Sprintf(`stack {
  name = %q
}
%s
pool "p" {
  substrate = substrate.%s
  size      = %d
  cpus      = 1
  memory_mb = 2048
}
`, name, subs, substrate, n)
}

func TestJanitorFromSubstrates(t *testing.T) {
	useCloud(t)
	w := mototest.NewWorld(t)
	useMoto(t, w.URL)
	sim, env := simEnv(t) // after the clouds: its environment carries theirs
	ctx := t.Context()
	subs := janitorSubstrates(w)

	// Each job runs in a folder of its own, which then goes with its
	// runner: no record is left anywhere.
	job := func(name, substrate string, n int, args ...string) {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "s.strata.hcl"), []byte(janitorStack(name, substrate, n, subs)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := strataIn(t, dir, append(env, "CI_JOB_URL=https://gitlab.example/jobs/"+name), append([]string{"up", "s.strata.hcl"}, args...)...)
		if code != 0 {
			t.Fatalf("up %s: exit %d\n%s", name, code, out)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			// Whatever the test leaves, by the same stack file.
			dir := t.TempDir()
			_ = os.WriteFile(filepath.Join(dir, "s.strata.hcl"), []byte(janitorStack(name, substrate, n, subs)), 0o644)
			strataIn(t, dir, env, "down", "s.strata.hcl")
		})
	}
	job("jv-old", "vsphere.dc", 2, "-ttl", "3s")
	job("jv-keep", "vsphere.dc", 1)
	job("jv-later", "vsphere.dc", 1, "-ttl", "1h")
	job("jo-old", "openstack.lab", 2, "-ttl", "3s")
	job("ja-old", "aws.main", 2, "-ttl", "3s")
	job("ja-keep", "aws.main", 1)

	// Machines made by hand: vcsim's own VMs carry no tags; on EC2, one
	// untagged and one with an expired strata:expires but no stack tag.
	handVMs := vmNames(t, sim, "DC0_")
	var handIDs []string
	for _, tags := range [][]types.Tag{nil, {{Key: sdk.String(provisioners.TagExpires), Value: sdk.String("2000-01-01T00:00:00Z")}}} {
		in := &ec2.RunInstancesInput{ImageId: sdk.String(w.AMI), InstanceType: types.InstanceTypeT3Micro, MinCount: sdk.Int32(1), MaxCount: sdk.Int32(1), SubnetId: sdk.String(w.Subnets[0])}
		if tags != nil {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: tags}}
		}
		out, err := w.EC2.RunInstances(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		handIDs = append(handIDs, sdk.ToString(out.Instances[0].InstanceId))
	}

	janitor := t.TempDir()
	// The janitor's file says only where to look: no template, image or
	// network, which only making machines needs.
	if err := os.WriteFile(filepath.Join(janitor, "janitor.strata.hcl"), []byte(janitorFile), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond) // the short TTLs run out
	out, code := strataIn(t, janitor, env, "status", "-all", "janitor.strata.hcl")
	if code != 0 {
		t.Fatalf("status -all: exit %d\n%s", code, out)
	}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] == "STACK" {
			continue
		}
		if expired := strings.HasSuffix(f[0], "-old"); expired != (f[2] == "EXPIRED") || !strings.Contains(line, "https://gitlab.example/jobs/"+f[0]) {
			t.Errorf("status -all: %q", line)
		}
	}
	for _, want := range []string{"jv-old ", "jv-keep ", "jv-later ", "jo-old ", "ja-old ", "ja-keep "} {
		if !strings.Contains(out, want) {
			t.Errorf("status -all lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "janitor ") || strings.Contains(out, "DC0_") {
		t.Errorf("status -all lists what is not a stack's:\n%s", out)
	}

	out, code = strataIn(t, janitor, env, "down", "-expired", "janitor.strata.hcl")
	if code != 0 {
		t.Fatalf("janitor: exit %d\n%s", code, out)
	}
	t.Logf("janitor:\n%s", out)
	for _, stack := range []string{"jv-old", "jo-old", "ja-old"} {
		if !strings.Contains(out, fmt.Sprintf("stack %q: 2 machines, expired at", stack)) || !strings.Contains(out, "Removed 2 machines: "+stack+"-p-0, "+stack+"-p-1") {
			t.Errorf("the janitor's report lacks %s:\n%s", stack, out)
		}
	}
	if got := vmNames(t, sim, "jv-"); !slices.Equal(sorted(got), []string{"jv-keep-p-0", "jv-later-p-0"}) {
		t.Errorf("vSphere VMs left %v, want jv-keep's and jv-later's", got)
	}
	if got := vmNames(t, sim, "DC0_"); !slices.Equal(sorted(got), sorted(handVMs)) {
		t.Errorf("VMs made by hand: %v, want %v", got, handVMs)
	}
	c := admin(t)
	for stack, want := range map[string]int{"jo-old": 0} {
		if got, err := stackServers(ctx, c, stack); err != nil || len(got) != want {
			t.Errorf("OpenStack servers of %s: %d, %v; want %d", stack, len(got), err, want)
		}
	}
	live, err := w.Instances(ctx, types.Filter{Name: sdk.String("instance-state-name"), Values: mototest.Live})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, i := range live {
		name := sdk.ToString(i.InstanceId)
		for _, tag := range i.Tags {
			if sdk.ToString(tag.Key) == "Name" {
				name = sdk.ToString(tag.Value)
			}
		}
		left = append(left, name)
	}
	if want := append([]string{"ja-keep-p-0"}, handIDs...); !slices.Equal(sorted(left), sorted(want)) {
		t.Errorf("EC2 instances left %v, want %v", left, want)
	}
	out, _ = strataIn(t, janitor, env, "down", "-expired", "janitor.strata.hcl")
	if !strings.Contains(out, "No expired stacks on the substrates.") {
		t.Errorf("a second janitor pass:\n%s", out)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
