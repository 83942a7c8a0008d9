package aws

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/aws/mototest"
	"github.com/stratastack/strata/stacks/schema"
	"github.com/zclconf/go-cty/cty"
)

func TestMain(m *testing.M) { os.Exit(mototest.Main(m)) }

const region = mototest.Region

// substrate is a substrate block of the world's settings, with extra
// ones laid over (a nil value removes one).
func substrate(w mototest.World, extra map[string]any) schema.Values {
	attrs := map[string]any{"region": region, "ami": w.AMI, "subnet_ids": w.Subnets, "security_group_ids": []string{w.Group}, "key_name": w.Key}
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
	return Config{Endpoint: url, Credentials: mototest.Credentials(), PollInterval: 200 * time.Millisecond, ReadyTimeout: 30 * time.Second, DeleteTimeout: 30 * time.Second, MaxBackoff: time.Second}
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
func instancesNamed(t testing.TB, w mototest.World, name string) []types.Instance {
	t.Helper()
	all, err := w.Instances(t.Context(), mototest.TagFilter("Name", name), mototest.LiveFilter())
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// liveCount is how many live instances moto has.
func liveCount(t testing.TB, w mototest.World) int {
	t.Helper()
	all, err := w.Instances(t.Context(), mototest.LiveFilter())
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}
