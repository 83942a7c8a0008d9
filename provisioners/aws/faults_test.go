package aws

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/aws/mototest"
)

// TestPreflight: a missing AMI, subnet, security group or key pair, in
// the substrate block or a pool, fails naming the setting before
// anything is made.
func TestPreflight(t *testing.T) {
	w := mototest.NewWorld(t)
	for _, tc := range []struct {
		name      string
		substrate map[string]any
		pool      map[string]any
		want      string
	}{
		{"missing ami", map[string]any{"ami": "ami-0123456789abcdef0"}, nil, "the substrate's ami"},
		{"ami name without match", map[string]any{"ami": "no-such-image-*", "ami_owner": "amazon"}, nil, "no image of that name owned by amazon"},
		{"missing ssm parameter", map[string]any{"ami": "resolve:ssm:/aws/service/nothing/here"}, nil, "SSM has no parameter"},
		{"missing subnet", map[string]any{"subnet_ids": []string{"subnet-0123456789abcdef0"}}, nil, "subnet"},
		{"missing security group", map[string]any{"security_group_ids": []string{"sg-0123456789abcdef0"}}, nil, "security_group_ids"},
		{"missing key pair", map[string]any{"key_name": "nobody"}, nil, `key_name "nobody"`},
		{"pool's missing ami", nil, map[string]any{"ami": "ami-0123456789abcdef0"}, "the pool's ami"},
		{"pool's missing subnet", nil, map[string]any{"subnet_id": "subnet-0123456789abcdef0"}, "the pool's subnet_ids"},
		{"pool's unknown type", nil, map[string]any{"instance_type": "x9.huge"}, `the pool's instance_type = "x9.huge"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Open(t.Context(), testConfig(w.URL), substrate(w, tc.substrate))
			if err == nil {
				m := machine("pre", "p", 0)
				m.Pool = values(tc.pool)
				_, err = p.Create(t.Context(), m)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
			if provisioners.IsTransient(err) {
				t.Errorf("%v is transient; retrying cannot fix a setting", err)
			}
			if n := liveCount(t, w); n != 0 {
				t.Errorf("%d instances made", n)
			}
		})
	}
}

// TestAMIForms: an AMI by SSM parameter and by name pattern and owner
// resolve to images moto has; an instance type is chosen from cpus and
// memory when none is named.
func TestAMIForms(t *testing.T) {
	w := mototest.NewWorld(t)
	for _, ami := range []map[string]any{
		{"ami": "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"},
		{"ami": "al2023-ami-2023*-x86_64", "ami_owner": "amazon"},
	} {
		p := open(t, testConfig(w.URL), substrate(w, ami))
		in, err := p.Create(t.Context(), machine("forms", "p", 0))
		if err != nil {
			t.Fatalf("%v: %v", ami, err)
		}
		i := describe(t, w, in.ID)
		if !strings.HasPrefix(*i.ImageId, "ami-") || i.InstanceType == "" {
			t.Errorf("%v: launched %s of %s", ami, i.InstanceType, *i.ImageId)
		}
		if err := p.Delete(t.Context(), in.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRefusals: AWS's refusals at launch are told with what to do, and
// are not retried as if they would pass.
func TestRefusals(t *testing.T) {
	w := mototest.NewWorld(t)
	px := mototest.NewProxy(t, w.URL)
	for _, tc := range []struct {
		name string
		f    mototest.Faults
		open bool // the fault hits Open already
		want string
	}{
		{"no capacity", mototest.Faults{ICEType: "c5.large"}, false, "choose another instance_type"},
		{"unauthorized", mototest.Faults{DenyRun: true}, true, `Decoded authorization failure message: {"allowed":false`},
		{"bad credentials", mototest.Faults{AuthFailure: true}, true, "AWS refused the credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			px.Set(mototest.Faults{})
			p, err := Open(t.Context(), testConfig(px.URL), substrate(w, map[string]any{"instance_type": "c5.large"}))
			if err != nil {
				t.Fatal(err)
			}
			px.Set(tc.f)
			if tc.open {
				_, err = Open(t.Context(), testConfig(px.URL), substrate(w, map[string]any{"instance_type": "c5.large"}))
			} else {
				_, err = p.Create(t.Context(), machine("ref", "p", 0))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if provisioners.IsTransient(err) {
				t.Errorf("%v is transient", err)
			}
			if n := liveCount(t, w); n != 0 {
				t.Errorf("%d instances made", n)
			}
		})
	}
}

// TestNoCredentials: with no credentials anywhere in the chain, Open says
// so and where to put them (and probes no instance metadata service).
func TestNoCredentials(t *testing.T) {
	w := mototest.NewWorld(t)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": dir + "/config", "AWS_SHARED_CREDENTIALS_FILE": dir + "/credentials",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_ENDPOINT_URL": w.URL, "AWS_REGION": region,
	} {
		t.Setenv(k, v)
	}
	env, _ := Kind().Resolve(nil, func(string) string { return "" })
	_, err := Kind().Open(t.Context(), env, provisioners.Target{Settings: substrate(w, nil)})
	if err == nil || !strings.Contains(err.Error(), "no AWS credentials found") {
		t.Fatalf("Open = %v, want no credentials", err)
	}
}

// TestEndpointFromEnvironment: Kind().Open reaches EC2 where
// AWS_ENDPOINT_URL_EC2 says, with the environment's credentials and the
// provider's region setting.
func TestEndpointFromEnvironment(t *testing.T) {
	w := mototest.NewWorld(t)
	dir := t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL_EC2", w.URL)
	t.Setenv("AWS_ENDPOINT_URL", w.URL) // ssm and sts
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIATESTTESTTESTTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	sub := substrate(w, map[string]any{"region": nil})
	delete(sub.Attrs, "region")
	env, _ := Kind().Resolve(map[string]string{"region": region}, func(string) string { return "" })
	p, err := Kind().Open(t.Context(), env, provisioners.Target{Settings: sub})
	if err != nil {
		t.Fatal(err)
	}
	if p.(*Provisioner).Region() != region {
		t.Errorf("region %q", p.(*Provisioner).Region())
	}
	if got, err := p.List(t.Context(), nil); err != nil || len(got) != 0 {
		t.Errorf("List = %v, %v", got, err)
	}
}

// TestThrottlingConverges: with a fifth of calls throttled and some
// unavailable, ten machines are made, readied and removed, once each.
func TestThrottlingConverges(t *testing.T) {
	w := mototest.NewWorld(t)
	px := mototest.NewProxy(t, w.URL)
	p := open(t, testConfig(px.URL), substrate(w, nil))
	px.Set(mototest.Faults{Throttle: 0.2, Unavailable: 0.05})
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = retried(t, func() error {
				in, err := p.Create(t.Context(), machine("thr", "p", i))
				if err == nil {
					_, err = p.Ready(t.Context(), in.ID)
				}
				return err
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got := instancesNamed(t, w, fmt.Sprintf("thr-p-%d", i)); len(got) != 1 {
			t.Errorf("thr-p-%d: %d instances", i, len(got))
		}
	}
	all, err := p.List(t.Context(), map[string]string{provisioners.TagStack: "thr"})
	if err != nil || len(all) != n {
		t.Fatalf("List = %d, %v", len(all), err)
	}
	for _, in := range all {
		wg.Go(func() {
			if err := retried(t, func() error { return p.Delete(t.Context(), in.ID) }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	px.Set(mototest.Faults{})
	if n := liveCount(t, w); n != 0 {
		t.Errorf("%d instances left", n)
	}
}

// retried is what the engine does with Transient errors.
func retried(t testing.TB, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || !provisioners.IsTransient(err) || attempt == 5 {
			return err
		}
		t.Logf("transient, again: %v", err)
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLostAnswer: a launch that reached EC2 but whose answer was lost is
// found by its tags, not made again (moto ignores client tokens).
func TestLostAnswer(t *testing.T) {
	w := mototest.NewWorld(t)
	px := mototest.NewProxy(t, w.URL)
	p := open(t, testConfig(px.URL), substrate(w, nil))
	px.Set(mototest.Faults{DropRuns: 1})
	in, err := p.Create(t.Context(), machine("lost", "p", 0))
	if err != nil {
		t.Fatal(err)
	}
	got := instancesNamed(t, w, "lost-p-0")
	if len(got) != 1 || *got[0].InstanceId != in.ID {
		t.Fatalf("%d instances for lost-p-0 (Create said %s)", len(got), in.ID)
	}
	if n := px.Count("RunInstances"); n != 1 {
		t.Errorf("RunInstances reached moto %d times, want once", n)
	}
}

// TestHeldPending: Ready waits while EC2 reports the instance pending.
func TestHeldPending(t *testing.T) {
	w := mototest.NewWorld(t)
	px := mototest.NewProxy(t, w.URL)
	p := open(t, testConfig(px.URL), substrate(w, nil))
	in, err := p.Create(t.Context(), machine("pend", "p", 0))
	if err != nil {
		t.Fatal(err)
	}
	hold := time.Now().Add(1500 * time.Millisecond)
	px.Set(mototest.Faults{PendingUntil: hold})
	if r, err := p.Read(t.Context(), in.ID); err != nil || r.State != provisioners.StatePending {
		t.Fatalf("Read while held = %+v, %v", r, err)
	}
	r, err := p.Ready(t.Context(), in.ID)
	if err != nil || r.State != provisioners.StateRunning {
		t.Fatalf("Ready = %+v, %v", r, err)
	}
	if time.Now().Before(hold) {
		t.Errorf("Ready returned while the instance was held pending")
	}
}

// TestPlacementGroup: an existing placement group is used; a missing
// one, the substrate's or a pool's, fails naming it before anything is
// made. moto has no placement groups: the proxy answers for them.
func TestPlacementGroup(t *testing.T) {
	w := mototest.NewWorld(t)
	px := mototest.NewProxy(t, w.URL)
	px.Set(mototest.Faults{PlacementGroups: []string{"spread-1"}})
	if _, err := Open(t.Context(), testConfig(px.URL), substrate(w, map[string]any{"placement_group": "nope"})); err == nil ||
		!strings.Contains(err.Error(), `the substrate's placement_group = "nope": no such placement group`) {
		t.Fatalf("Open with a missing placement group = %v", err)
	}
	p := open(t, testConfig(px.URL), substrate(w, map[string]any{"placement_group": "spread-1"}))
	m := machine("pg", "p", 0)
	m.Pool = values(map[string]any{"placement_group": "missing"})
	if _, err := p.Create(t.Context(), m); err == nil || !strings.Contains(err.Error(), `the pool's placement_group = "missing"`) {
		t.Fatalf("Create in a pool with a missing placement group = %v", err)
	}
	if n := px.Count("RunInstances"); n != 0 {
		t.Fatalf("RunInstances reached EC2 %d times", n)
	}
	in, err := p.Create(t.Context(), machine("pg", "p", 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(t.Context(), in.ID); err != nil {
		t.Fatal(err)
	}
}
