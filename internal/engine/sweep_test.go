package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/fakesub"
	"github.com/stratastack/strata/stacks/layers/layertest"
)

func TestSweep(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	past, future := provisioners.FormatExpires(now.Add(-time.Hour)), provisioners.FormatExpires(now.Add(time.Hour))
	m := fakesub.New()
	made := func(name string, tags map[string]string) {
		t.Helper()
		if _, err := m.Create(ctx, provisioners.Machine{Name: name, Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	tagged := func(stack, on, layer, expires string) map[string]string {
		tags := map[string]string{provisioners.TagStack: stack, provisioners.TagOn: on, provisioners.TagCreatedBy: "ci/" + stack}
		if layer != "" {
			tags[provisioners.TagLayer] = layer
		}
		if expires != "" {
			tags[provisioners.TagExpires] = expires
		}
		return tags
	}
	// "old": a cloud on VMs, VMs and Kubernetes nodes on the cloud, and
	// machines on that Kubernetes: three depths under the substrate.
	made("old-infra-0", tagged("old", "substrate.vsphere.dc", "openstack.cloud", past))
	made("old-infra-1", tagged("old", "substrate.vsphere.dc", "openstack.cloud", past))
	made("old-vm-0", tagged("old", "layer.openstack.cloud", "", past))
	made("old-node-0", tagged("old", "layer.openstack.cloud", "kubernetes.k", past))
	made("old-pod-0", tagged("old", "layer.kubernetes.k", "", past))
	made("fresh-p-0", tagged("fresh", "substrate.vsphere.dc", "", future))
	made("forever-p-0", tagged("forever", "substrate.vsphere.dc", "", ""))
	made("mixed-p-0", tagged("mixed", "substrate.vsphere.dc", "", past))
	made("mixed-p-1", tagged("mixed", "substrate.vsphere.dc", "", "")) // made before the TTL: never
	made("extended-p-0", tagged("extended", "substrate.vsphere.dc", "", past))
	made("extended-p-1", tagged("extended", "substrate.vsphere.dc", "", future)) // re-tag cut short
	made("held-p-0", tagged("held", "substrate.vsphere.dc", "", past))
	made("byhand", map[string]string{"owner": "ops"})
	made("byhand-expired", map[string]string{provisioners.TagExpires: past})

	s := compile(t, stackSrc(0, "")).Source()
	e := engineFor(m, 4)
	report, err := e.Sweep(ctx, s, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"old": true, "fresh": false, "forever": false, "mixed": false, "extended": false, "held": true}
	var names []string
	for _, sw := range report {
		names = append(names, sw.Stack)
		if exp, ok := want[sw.Stack]; !ok || sw.Expired != exp {
			t.Errorf("%s: expired %v, want %v", sw, sw.Expired, exp)
		}
		if len(sw.Removed) > 0 {
			t.Errorf("a report removed %v", sw.Removed)
		}
	}
	if !slices.Equal(names, []string{"extended", "forever", "fresh", "held", "mixed", "old"}) {
		t.Errorf("stacks %v, want those of %v (never byhand)", names, want)
	}
	if m.Count() != 14 {
		t.Fatalf("a report changed the substrate: %d machines", m.Count())
	}

	claimed := map[string]error{}
	claim := func(ctx context.Context, stack string) (func(error), error) {
		if stack == "held" {
			return nil, errors.New("a run holds it")
		}
		return func(err error) { claimed[stack] = err }, nil
	}
	report, err = e.Sweep(ctx, s, now, claim)
	if err != nil {
		t.Fatal(err)
	}
	for _, sw := range report {
		switch sw.Stack {
		case "old":
			if len(sw.Removed) != 5 || sw.Err != nil {
				t.Errorf("old: removed %v, %v", sw.Removed, sw.Err)
			}
		case "held":
			if sw.Skipped == nil || len(sw.Removed) != 0 {
				t.Errorf("held: skipped %v, removed %v", sw.Skipped, sw.Removed)
			}
		default:
			if len(sw.Removed) != 0 {
				t.Errorf("%s: removed %v", sw.Stack, sw.Removed)
			}
		}
	}
	if _, ok := claimed["old"]; !ok || len(claimed) != 1 {
		t.Errorf("released %v, want old only", claimed)
	}
	left := m.Names()
	for _, name := range left {
		if strings.HasPrefix(name, "old-") {
			t.Errorf("%s left", name)
		}
	}
	if len(left) != 9 {
		t.Errorf("left %v, want the 9 not expired, held or untagged", left)
	}
	// Deepest first: what is on Kubernetes, then what is on the cloud,
	// then the cloud's own machines.
	var order []string
	for _, ev := range m.Events() {
		if name, ok := strings.CutPrefix(ev, "delete old-"); ok {
			order = append(order, strings.TrimSuffix(name, "-0"))
		}
	}
	pos := func(n string) int {
		return slices.IndexFunc(order, func(o string) bool { return strings.HasPrefix(o, n) })
	}
	if !(pos("pod") < pos("vm") && pos("pod") < pos("node") && pos("vm") < pos("infra") && pos("node") < pos("infra")) {
		t.Errorf("delete order %v: want pod, then vm and node, then infra", order)
	}
}

func TestSweepStopsAtAFailedLevel(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	m := fakesub.New()
	past := provisioners.FormatExpires(now.Add(-time.Minute))
	for name, on := range map[string]string{"x-cloud-0": "substrate.vsphere.dc", "x-vm-0": "layer.openstack.cloud"} {
		tags := map[string]string{provisioners.TagStack: "x", provisioners.TagOn: on, provisioners.TagExpires: past}
		if name == "x-cloud-0" {
			tags[provisioners.TagLayer] = "openstack.cloud"
		}
		if _, err := m.Create(ctx, provisioners.Machine{Name: name, Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	m.FailDelete("x-vm-0", errors.New("refused"))
	report, err := engineFor(m, 2).Sweep(ctx, compile(t, stackSrc(0, "")).Source(), now, func(context.Context, string) (func(error), error) {
		return func(error) {}, nil
	})
	if err != nil || len(report) != 1 {
		t.Fatal(report, err)
	}
	if report[0].Err == nil || len(report[0].Removed) != 0 || m.Count() != 2 {
		t.Errorf("a failed delete on the layer must keep the layer's machines: %+v, %d left", report[0], m.Count())
	}
}

func TestApplyMarksAndRetags(t *testing.T) {
	ctx := context.Background()
	m := fakesub.New()
	p := compile(t, stackSrc(1, ""))
	first := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	p.Mark = provisioners.Mark{Expires: first, CreatedBy: "https://ci.example/job/1"}
	if _, err := engineFor(m, 4).Apply(ctx, p, layertest.Secrets(t)); err != nil {
		t.Fatal(err)
	}
	check := func(expires, by string) {
		t.Helper()
		list, _ := m.List(ctx, map[string]string{provisioners.TagStack: "e"})
		if len(list) != 4 {
			t.Fatalf("%d machines", len(list))
		}
		for _, in := range list {
			if in.Tags[provisioners.TagExpires] != expires || in.Tags[provisioners.TagCreatedBy] != by || in.Tags[provisioners.TagOn] != "substrate.vsphere.dc" {
				t.Errorf("%s tags %v, want expires %s by %s", in.Name, in.Tags, expires, by)
			}
		}
	}
	check("2026-12-07T10:00:00Z", "https://ci.example/job/1")

	// Another job extends the TTL: every machine's expiry moves, its
	// author stays.
	p.Mark = provisioners.Mark{Expires: first.Add(2 * time.Hour), CreatedBy: "https://ci.example/job/2"}
	if _, err := engineFor(m, 4).Apply(ctx, p, layertest.Secrets(t)); err != nil {
		t.Fatal(err)
	}
	check("2026-12-07T12:00:00Z", "https://ci.example/job/1")
	tags := 0
	for _, ev := range m.Events() {
		if strings.HasPrefix(ev, "tag ") {
			tags++
		}
	}
	// The same TTL again re-tags nothing.
	if _, err := engineFor(m, 4).Apply(ctx, p, layertest.Secrets(t)); err != nil {
		t.Fatal(err)
	}
	again := 0
	for _, ev := range m.Events() {
		if strings.HasPrefix(ev, "tag ") {
			again++
		}
	}
	if tags != 4 || again != 4 {
		t.Errorf("re-tagged %d then %d times, want 4 then none", tags, again-tags)
	}
}
