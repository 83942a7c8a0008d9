package acceptance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/internal/engine"
	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/aws"
	"github.com/stratastack/strata/provisioners/aws/mototest"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/plan"
)

// The AWS acceptance tests apply examples/terraform/aws's Mesos stack
// through the real terraform CLI against moto's EC2 server, with the
// fault proxy between them.

const awsStackName = "mesos-aws" // the example's stack name

// awsExample is the example's stack file, named stack, copied into a
// fresh working folder with its seed (see workdir).
func awsExample(t *testing.T, stack string) (path string, seed *secrets.Seed) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "examples", "terraform", "aws", "mesos.strata.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	named := strings.Replace(string(src), fmt.Sprintf("name = %q", awsStackName), fmt.Sprintf("name = %q", stack), 1)
	return workdir(t, stack, named)
}

// useMoto points the SDK's default chain at endpoint, and at nothing on
// this machine (no shared files, no instance metadata).
func useMoto(t *testing.T, endpoint string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	key, err := mototest.Credentials().Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": key.AccessKeyID, "AWS_SECRET_ACCESS_KEY": key.SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_REGION": mototest.Region, // for the CLI; the provider's aws block names it too
	} {
		t.Setenv(k, v)
	}
}

// awsVars are the example's variables for the world: agents, its AMI,
// key pair, subnets and group, with over laid on top.
func awsVars(w mototest.World, agents int, over map[string]string) map[string]string {
	vars := map[string]string{
		"agents":             strconv.Itoa(agents),
		"ami":                w.AMI,
		"key_name":           w.Key,
		"subnet_ids":         jsonList(w.Subnets...),
		"security_group_ids": jsonList(w.Group),
	}
	maps.Copy(vars, over)
	for k, v := range vars {
		if v == "" {
			delete(vars, k)
		}
	}
	return vars
}

// awsConfig is the provider and the example's resource with vars.
func awsConfig(path string, vars map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "provider \"strata\" {\n  aws {}\n}\n\nresource \"strata_stack\" \"mesos\" {\n  path = %q\n  vars = {\n", path)
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		fmt.Fprintf(&b, "    %s = %q\n", k, vars[k])
	}
	b.WriteString("  }\n}\n")
	return b.String()
}

// cliVars are vars as strata's -var flags.
func cliVars(vars map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		out = append(out, k+"="+vars[k])
	}
	return out
}

func jsonList(s ...string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// awsNames are the example's machine names for agents agents, sorted.
func awsNames(stack string, agents int) []string {
	var out []string
	for i := range 3 {
		out = append(out, fmt.Sprintf("%s-masters-%d", stack, i))
	}
	for i := range agents {
		out = append(out, fmt.Sprintf("%s-agents-%d", stack, i))
	}
	slices.Sort(out)
	return out
}

// stackInstances are the stack's live instances by name; a name held
// twice is an error (a machine made twice).
func stackInstances(ctx context.Context, w mototest.World, stack string) (map[string]string, error) {
	all, err := w.Instances(ctx, mototest.TagFilter("strata:stack", stack), mototest.LiveFilter())
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, i := range all {
		name := mototest.Tag(i, "Name")
		if prev, dup := out[name]; dup {
			return nil, fmt.Errorf("two instances are named %s: %s and %s", name, prev, *i.InstanceId)
		}
		out[name] = *i.InstanceId
	}
	return out, nil
}

// checkAWSStack checks EC2 holds exactly the stack's planned instances,
// each tagged for its place, with the bootstrap plan.RenderNode gives it
// (gunzipped when it was sent gzipped), IMDSv2 required and its pool's
// root volume; the masters in three subnets of three zones; and state
// recording each instance's id.
func checkAWSStack(w mototest.World, stack, path string, seed *secrets.Seed, vars map[string]string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ctx := context.Background()
		got, err := stackInstances(ctx, w, stack)
		if err != nil {
			return err
		}
		agents, err := strconv.Atoi(vars["agents"])
		if err != nil {
			return err
		}
		if names, want := sortedKeys(got), awsNames(stack, agents); !slices.Equal(names, want) {
			return fmt.Errorf("EC2 holds %v, want %v", names, want)
		}
		attrs := s.RootModule().Resources[stackAddr].Primary.Attributes
		kinds := catalog.Kinds()
		st, _, diags := stacks.Load(path, kinds, stacks.Options{Vars: cliVars(vars)})
		if diags.HasErrors() {
			return diags
		}
		p := plan.Compile(st, kinds)
		masters := plan.Addresses{}
		zones := map[string]bool{}
		for i := range 3 {
			name := fmt.Sprintf("%s-masters-%d", stack, i)
			masters[name] = attrs["machines."+name+".addresses.0"]
			in, err := w.Instance(ctx, got[name])
			if err != nil {
				return err
			}
			zones[*in.Placement.AvailabilityZone] = true
			if a := *in.PrivateIpAddress; a != masters[name] {
				return fmt.Errorf("%s: state's first address %q, EC2's private address %q", name, masters[name], a)
			}
		}
		if len(zones) != 3 {
			return fmt.Errorf("the masters are in zones %v, want three", sortedKeys(zones))
		}
		for _, pool := range []struct {
			name, role string
			size, disk int
			known      plan.Addresses
		}{{"masters", "master", 3, 30, nil}, {"agents", "agent", agents, 50, masters}} {
			for i := range pool.size {
				name := fmt.Sprintf("%s-%s-%d", stack, pool.name, i)
				id := got[name]
				if sid := attrs["machines."+name+".substrate_id"]; sid != id {
					return fmt.Errorf("%s: state says substrate_id %q, EC2 %q", name, sid, id)
				}
				b, err := p.RenderNode(ctx, seed, pool.name, i, pool.known)
				if err != nil {
					return err
				}
				if err := w.Check(ctx, id, name, b.UserData, pool.disk); err != nil {
					return err
				}
				in, err := w.Instance(ctx, id)
				if err != nil {
					return err
				}
				want := map[string]string{"strata:stack": stack, "strata:pool": pool.name, "strata:index": strconv.Itoa(i), "strata:layer": "mesos.core", "strata:role": pool.role}
				for k, v := range want {
					if got := mototest.Tag(in, k); got != v {
						return fmt.Errorf("%s: tag %s = %q, want %q", name, k, got, v)
					}
				}
			}
		}
		return nil
	}
}

// noInstancesLeft checks every instance of the stack is terminated.
func noInstancesLeft(w mototest.World, stack string) func(*terraform.State) error {
	return func(*terraform.State) error {
		got, err := stackInstances(context.Background(), w, stack)
		if err == nil && len(got) > 0 {
			err = fmt.Errorf("destroy left instances that are not terminated: %v", sortedKeys(got))
		}
		return err
	}
}

// instanceIDs records the stack's instances, by name, in into.
func instanceIDs(w mototest.World, stack string, into map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := stackInstances(context.Background(), w, stack)
		clear(into)
		for k, v := range got {
			into[k] = v
		}
		return err
	}
}

// sameInstances checks the instances recorded in before that still exist
// kept their ids.
func sameInstances(w mototest.World, stack string, before map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := stackInstances(context.Background(), w, stack)
		if err != nil {
			return err
		}
		for name, id := range got {
			if was, ok := before[name]; ok && was != id {
				return fmt.Errorf("%s was replaced (%s -> %s): scaling must change only the difference", name, was, id)
			}
		}
		return nil
	}
}

// TestAccAWSMesos: the example's Mesos stack comes up with every instance
// carrying its role's user-data, tags, IMDSv2 and root volume, the masters
// over three zones; scaling changes only the difference; destroy leaves
// nothing running.
func TestAccAWSMesos(t *testing.T) {
	enableAcceptance(t)
	w := mototest.NewWorld(t)
	useMoto(t, w.URL)
	path, seed := awsExample(t, awsStackName)
	ids := map[string]string{}
	var steps []resource.TestStep
	for i, agents := range []int{3, 1, 4} {
		vars := awsVars(w, agents, nil)
		check := resource.ComposeTestCheckFunc(checkAWSStack(w, awsStackName, path, seed, vars), instanceIDs(w, awsStackName, ids))
		if i > 0 {
			check = resource.ComposeTestCheckFunc(sameInstances(w, awsStackName, ids), check)
		}
		steps = append(steps, resource.TestStep{Config: awsConfig(path, vars), Check: check})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		CheckDestroy:             noInstancesLeft(w, awsStackName),
		Steps:                    steps,
	})
}

// TestAWSRenderMatches: what a master carries is what `strata render`
// prints for it.
func TestAWSRenderMatches(t *testing.T) {
	w := mototest.NewWorld(t)
	useMoto(t, w.URL)
	path, _ := awsExample(t, awsStackName)
	dir := filepath.Dir(path)
	var vars []string
	for _, v := range cliVars(awsVars(w, 1, nil)) {
		vars = append(vars, "-var", v)
	}
	if out, errOut, code := run(t, dir, append([]string{"up", path}, vars...)...); code != 0 {
		t.Fatalf("strata up: exit %d\n%s%s", code, out, errOut)
	}
	want, errOut, code := run(t, dir, append([]string{"render", path, "-node", "masters/1"}, vars...)...)
	if code != 0 {
		t.Fatalf("strata render: exit %d\n%s", code, errOut)
	}
	got, err := stackInstances(t.Context(), w, awsStackName)
	if err != nil {
		t.Fatal(err)
	}
	ud, err := w.UserData(t.Context(), got[awsStackName+"-masters-1"])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ud, []byte(want)) {
		t.Fatalf("masters/1 carries user-data that strata render does not print:\n--- EC2\n%s\n--- strata render\n%s", ud, want)
	}
	if out, errOut, code := run(t, dir, append([]string{"down", path}, vars...)...); code != 0 {
		t.Fatalf("strata down: exit %d\n%s%s", code, out, errOut)
	}
}

// TestAccAWSInterruptedApply: an apply stopped halfway leaves tagged
// instances; terraform apply adopts them and ends with exactly the
// planned instances, none twice.
func TestAccAWSInterruptedApply(t *testing.T) {
	enableAcceptance(t)
	w := mototest.NewWorld(t)
	useMoto(t, w.URL)
	path, seed := awsExample(t, awsStackName)
	vars := awsVars(w, 3, nil)
	kinds := catalog.Kinds()
	st, _, diags := stacks.Load(path, kinds, stacks.Options{Vars: cliVars(vars)})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var creates atomic.Int32
	e := engine.New(engine.OpenFunc(func(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error) {
		return aws.Open(ctx, aws.Config{Region: mototest.Region}, sub.Settings)
	}), engine.Options{Parallelism: 1, Report: func(ev engine.Event) {
		if ev.Action == engine.ActionCreate && creates.Add(1) == 3 {
			cancel()
		}
	}})
	if _, err := e.Apply(ctx, plan.Compile(st, kinds), seed); !errors.Is(err, context.Canceled) {
		t.Fatalf("the interrupted apply returned %v, want context.Canceled", err)
	}
	before := map[string]string{}
	if err := instanceIDs(w, awsStackName, before)(nil); err != nil {
		t.Fatal(err)
	}
	if len(before) < 3 || len(before) > 4 {
		t.Fatalf("the interrupted apply left %d instances (%v); the test wants it stopped halfway", len(before), sortedKeys(before))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		CheckDestroy:             noInstancesLeft(w, awsStackName),
		Steps: []resource.TestStep{{
			Config: awsConfig(path, vars),
			Check:  resource.ComposeTestCheckFunc(checkAWSStack(w, awsStackName, path, seed, vars), sameInstances(w, awsStackName, before)),
		}},
	})
}

// TestAccAWSFaults: through the fault proxy, a fifth of the calls
// throttled and the answers of two launches lost, apply and destroy
// converge: every machine made once, none left.
func TestAccAWSFaults(t *testing.T) {
	enableAcceptance(t)
	w := mototest.NewWorld(t)
	px := mototest.NewProxy(t, w.URL)
	useMoto(t, px.URL)
	path, seed := awsExample(t, awsStackName)
	vars := awsVars(w, 3, nil)
	px.Set(mototest.Faults{Throttle: 0.2, DropRuns: 2})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(),
		CheckDestroy:             noInstancesLeft(w, awsStackName),
		Steps: []resource.TestStep{{
			Config: awsConfig(path, vars),
			Check: resource.ComposeTestCheckFunc(checkAWSStack(w, awsStackName, path, seed, vars), func(*terraform.State) error {
				if n := px.Count("RunInstances"); n != 6 {
					return fmt.Errorf("RunInstances reached EC2 %d times for 6 machines", n)
				}
				return nil
			}),
		}},
	})
}

// TestAccAWSClearErrors: a missing AMI or subnet fails naming it before
// anything is launched; refused credentials fail saying so.
func TestAccAWSClearErrors(t *testing.T) {
	enableAcceptance(t)
	for _, tc := range []struct {
		name   string
		over   map[string]string
		faults mototest.Faults
		want   *regexp.Regexp
	}{
		{"missing ami", map[string]string{"ami": "ami-0123456789abcdef0"}, mototest.Faults{}, regexp.MustCompile(`(?s)substrate's ami = "ami-0123456789abcdef0":\s+no\s+image`)},
		{"missing subnet", map[string]string{"subnet_ids": jsonList("subnet-0123456789abcdef0")}, mototest.Faults{}, regexp.MustCompile(`(?s)subnet-0123456789abcdef0`)},
		{"bad credentials", nil, mototest.Faults{AuthFailure: true}, regexp.MustCompile(`(?s)AWS refused the credentials`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := mototest.NewWorld(t)
			px := mototest.NewProxy(t, w.URL)
			useMoto(t, px.URL)
			path, _ := awsExample(t, awsStackName)
			px.Set(tc.faults)
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: factories(),
				CheckDestroy:             noInstancesLeft(w, awsStackName),
				Steps: []resource.TestStep{{
					Config:      awsConfig(path, awsVars(w, 1, tc.over)),
					ExpectError: tc.want,
				}},
			})
			if n := px.Count("RunInstances"); n != 0 {
				t.Errorf("RunInstances reached EC2 %d times; nothing may be launched", n)
			}
			if all, err := w.Instances(t.Context(), mototest.LiveFilter()); err != nil || len(all) != 0 {
				t.Errorf("%d instances made (%v)", len(all), err)
			}
		})
	}
}
