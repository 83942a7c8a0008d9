package openstack

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/layertest"
	"github.com/stratastack/strata/stacks/schema"
)

// settings fills in the defaults the way the stack compiler does.
func settings(set map[string]string) schema.Values {
	v := schema.Values{Attrs: map[string]cty.Value{}}
	for _, a := range New().Attrs() {
		if a.Default != cty.NilVal {
			v.Attrs[a.Name] = a.Default
		} else {
			v.Attrs[a.Name] = cty.NullVal(a.Type)
		}
	}
	for k, s := range set {
		v.Attrs[k] = cty.StringVal(s)
	}
	return v
}

func cluster(s layers.Secrets, ctrl, compute string) layers.Cluster {
	return layers.Cluster{
		Stack:    "edge-1",
		Kind:     Kind,
		Name:     "cloud",
		Settings: settings(nil),
		Members: map[string][]layers.Member{
			RoleController: {{Name: "edge-1-ctl-0", Index: 0, Address: "10.0.0.10"}, {Name: "edge-1-ctl-1", Index: 1}},
			RoleCompute:    {{Name: "edge-1-cmp-0", Index: 0}, {Name: "edge-1-cmp-1", Index: 1, Address: "10.0.0.21"}},
		},
		Placements: map[string]string{RoleController: ctrl, RoleCompute: compute},
		Secrets:    s,
	}
}

func node(c layers.Cluster, role string, i int) layers.Node {
	return layers.Node{Cluster: c, Role: role, Machine: c.Members[role][i]}
}

func joinObjects(objs []layers.Object) []byte {
	var b bytes.Buffer
	for i, o := range objs {
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(o.Body)
	}
	return b.Bytes()
}

func TestRoles(t *testing.T) {
	l := New()
	if l.Kind() != "openstack" || l.SubstrateKind() != "openstack" || l.DefaultVersion() != "2025.2" {
		t.Fatalf("kind/substrate/version: %s %s %s", l.Kind(), l.SubstrateKind(), l.DefaultVersion())
	}
	rs := l.Roles()
	if len(rs) != 2 || rs[0].Name != RoleController || rs[1].Name != RoleCompute {
		t.Fatalf("roles out of bring-up order: %+v", rs)
	}
	for _, r := range rs {
		for _, on := range []string{layers.Pool, "mesos", "kubernetes"} {
			if !r.Allows(on) {
				t.Errorf("%s should be allowed on %s", r.Name, on)
			}
		}
		if r.Allows("openstack") {
			t.Errorf("%s must not be placed on openstack", r.Name)
		}
	}
	if len(rs[1].After) != 1 || rs[1].After[0] != RoleController {
		t.Errorf("compute must come after controller: %v", rs[1].After)
	}
}

func TestSeries(t *testing.T) {
	for v, want := range map[string]string{"2024.1": "caracal", "2024.2": "dalmatian", "2025.1": "epoxy", "2025.2": "flamingo"} {
		got, err := series(v)
		if err != nil || got != want {
			t.Errorf("series(%s) = %q, %v; want %q", v, got, err, want)
		}
	}
	if _, err := series("2023.2"); err == nil {
		t.Error("unknown release accepted")
	}
}

func TestRender(t *testing.T) {
	ctx := context.Background()
	l := New()
	sec := layertest.Secrets(t)
	for _, tc := range []struct {
		golden      string
		role, on    string
		ctrlOn      string
		index       int // pool: member index
		count       int // hosted
		checkSecret []string
	}{
		{golden: "controller-pool-0.yaml", role: RoleController, on: layers.Pool, ctrlOn: layers.Pool, index: 0},
		{golden: "controller-pool-1.yaml", role: RoleController, on: layers.Pool, ctrlOn: layers.Pool, index: 1},
		{golden: "compute-pool-0.yaml", role: RoleCompute, on: layers.Pool, ctrlOn: layers.Pool, index: 0},
		{golden: "compute-pool-1.yaml", role: RoleCompute, on: layers.Pool, ctrlOn: layers.Pool, index: 1},
		{golden: "controller-kubernetes.yaml", role: RoleController, on: "kubernetes", ctrlOn: "kubernetes", count: 3},
		{golden: "compute-kubernetes.yaml", role: RoleCompute, on: "kubernetes", ctrlOn: "kubernetes", count: 2},
		{golden: "controller-mesos.json", role: RoleController, on: "mesos", ctrlOn: "mesos", count: 2},
		{golden: "compute-mesos.json", role: RoleCompute, on: "mesos", ctrlOn: "mesos", count: 2},
		{golden: "compute-kubernetes-ctrl-pool.yaml", role: RoleCompute, on: "kubernetes", ctrlOn: layers.Pool, count: 1},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			c := cluster(sec, tc.ctrlOn, tc.on)
			if tc.on == layers.Pool {
				b, err := l.RenderNode(ctx, node(c, tc.role, tc.index))
				if err != nil {
					t.Fatal(err)
				}
				if b.Format != "cloud-config" || !b.Sensitive {
					t.Errorf("format %q sensitive %v", b.Format, b.Sensitive)
				}
				if !bytes.HasPrefix(b.UserData, []byte("#cloud-config\n")) {
					t.Error("no #cloud-config header")
				}
				layertest.CloudConfig(t, b.UserData)
				layertest.Golden(t, tc.golden, b.UserData)
				return
			}
			objs, err := l.RenderHosted(ctx, layers.Hosted{Cluster: c, Role: tc.role, Count: tc.count, HostKind: tc.on, HostName: "host"})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				layertest.Labelled(t, o, c.Labels(tc.role))
				switch tc.on {
				case "kubernetes":
					if o.Format != "kubernetes" {
						t.Errorf("%s %s: format %q", o.Kind, o.Name, o.Format)
					}
					layertest.Kubernetes(t, o.Body)
				case "mesos":
					if o.Format != "marathon" || o.Kind != "group" || !o.Sensitive {
						t.Errorf("%s %s: format %q sensitive %v", o.Kind, o.Name, o.Format, o.Sensitive)
					}
					if want := "/edge-1/cloud/" + tc.role; o.Name != want {
						t.Errorf("group id %q, want %q", o.Name, want)
					}
					layertest.Marathon(t, o.Body)
				}
			}
			layertest.Golden(t, tc.golden, joinObjects(objs))
		})
	}
}

// controllerOnly are secrets a compute must never carry.
var controllerOnly = []string{sAdmin, sDBRoot, sKeystoneDB, sGlanceDB, sPlacementDB, sNovaDB, sNeutronDB, sGlance, sFernet0, sFernet1, sCred0, sCred1}

func allOutputs(t *testing.T, s layers.Secrets, role string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	l := New()
	out := map[string][]byte{}
	c := cluster(s, layers.Pool, layers.Pool)
	for i := range c.Members[role] {
		b, err := l.RenderNode(ctx, node(c, role, i))
		if err != nil {
			t.Fatal(err)
		}
		out["pool-"+c.Members[role][i].Name] = b.UserData
	}
	for _, on := range []string{"kubernetes", "mesos"} {
		objs, err := l.RenderHosted(ctx, layers.Hosted{Cluster: cluster(s, on, on), Role: role, Count: 2, HostKind: on})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			out[on+"-"+o.Kind+"-"+o.Name] = o.Body
		}
	}
	return out
}

func TestSecretsDifferBetweenSeeds(t *testing.T) {
	other, err := secrets.New(bytes.Repeat([]byte{9}, secrets.SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	a := cluster(layertest.Secrets(t), layers.Pool, layers.Pool)
	b := cluster(other, layers.Pool, layers.Pool)
	pa, _ := newPlan(a)
	pb, _ := newPlan(b)
	for _, s := range roleSecrets(RoleController, true) {
		if pa.secret(s) == pb.secret(s) {
			t.Errorf("%s is the same for two seeds", s)
		}
	}
	seen := map[string]string{}
	for _, s := range roleSecrets(RoleController, true) {
		v := pa.secret(s)
		if prev, dup := seen[v]; dup {
			t.Errorf("%s and %s share a value", s, prev)
		}
		seen[v] = s
	}
	// Two layers of one stack do not share passwords either.
	a2 := a
	a2.Name = "other"
	pa2, _ := newPlan(a2)
	if pa.secret(sAdmin) == pa2.secret(sAdmin) {
		t.Error("two layers share the admin password")
	}
	ua := allOutputs(t, layertest.Secrets(t), RoleController)
	ub := allOutputs(t, other, RoleController)
	for k := range ua {
		carries := strings.HasPrefix(k, "pool-") || strings.HasPrefix(k, "mesos-") || strings.HasPrefix(k, "kubernetes-Secret-")
		if carries && bytes.Equal(ua[k], ub[k]) {
			t.Errorf("%s does not change with the seed", k)
		}
	}
}

func TestNoSecretWhereItDoesNotBelong(t *testing.T) {
	s := layertest.Secrets(t)
	p, err := newPlan(cluster(s, layers.Pool, layers.Pool))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range allOutputs(t, s, RoleCompute) {
		for _, sn := range controllerOnly {
			if bytes.Contains(body, []byte(p.secret(sn))) {
				t.Errorf("compute output %s carries %s", name, sn)
			}
		}
	}
	for name, body := range allOutputs(t, s, RoleController) {
		if strings.HasPrefix(name, "kubernetes-Secret-") || strings.HasPrefix(name, "pool-") || strings.HasPrefix(name, "mesos-") {
			continue
		}
		// ConfigMaps and workloads reference the Secret, never a value.
		for _, sn := range roleSecrets(RoleController, true) {
			if bytes.Contains(body, []byte(p.secret(sn))) {
				t.Errorf("%s carries %s outside the Secret", name, sn)
			}
		}
	}
	objs, err := New().RenderHosted(context.Background(), layers.Hosted{Cluster: cluster(s, "kubernetes", "kubernetes"), Role: RoleController, Count: 1, HostKind: "kubernetes"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if (o.Kind == "Secret") != o.Sensitive {
			t.Errorf("%s %s: sensitive = %v", o.Kind, o.Name, o.Sensitive)
		}
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	l := New()
	sec := layertest.Secrets(t)
	c := cluster(sec, layers.Pool, layers.Pool)
	for _, h := range []layers.Hosted{
		{Cluster: c, Role: RoleController, Count: 1, HostKind: "openstack"},
		{Cluster: c, Role: RoleCompute, Count: 1, HostKind: "aws"},
		{Cluster: c, Role: RoleController, Count: 1, HostKind: layers.Pool},
		{Cluster: c, Role: "network", Count: 1, HostKind: "kubernetes"},
		{Cluster: c, Role: RoleController, Count: 0, HostKind: "kubernetes"},
	} {
		if _, err := l.RenderHosted(ctx, h); err == nil {
			t.Errorf("role %s count %d on %q: no error", h.Role, h.Count, h.HostKind)
		}
	}
	if _, err := l.RenderNode(ctx, layers.Node{Cluster: c, Role: "network", Machine: layers.Member{Name: "x"}}); err == nil {
		t.Error("unknown role rendered")
	}
	old := cluster(sec, layers.Pool, layers.Pool)
	old.Version = "2023.1"
	if _, err := l.RenderNode(ctx, node(old, RoleController, 0)); err == nil {
		t.Error("unknown release rendered")
	}
	uca := cluster(sec, "kubernetes", "kubernetes")
	uca.Version = "2024.2"
	if _, err := l.RenderNode(ctx, node(cluster(sec, layers.Pool, layers.Pool), RoleController, 0)); err != nil {
		t.Errorf("2024.2 on a pool: %v", err)
	}
	if _, err := l.RenderHosted(ctx, layers.Hosted{Cluster: uca, Role: RoleController, Count: 1, HostKind: "kubernetes"}); err == nil {
		t.Error("2024.2 hosted: no error")
	}
	bad := cluster(sec, layers.Pool, layers.Pool)
	bad.Settings = settings(map[string]string{"region": "Region One; rm -rf /"})
	if _, err := l.RenderNode(ctx, node(bad, RoleController, 0)); err == nil {
		t.Error("unsafe region accepted")
	}
	none := cluster(sec, layers.Pool, layers.Pool)
	none.Members = map[string][]layers.Member{RoleCompute: {{Name: "c0"}}}
	if _, err := l.RenderNode(ctx, node(none, RoleCompute, 0)); err == nil {
		t.Error("compute without controllers rendered")
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.RenderNode(ctx2, node(c, RoleController, 0)); err == nil {
		t.Error("cancelled context ignored")
	}
}

func TestPublicEndpoint(t *testing.T) {
	c := cluster(layertest.Secrets(t), layers.Pool, layers.Pool)
	c.Settings = settings(map[string]string{"public_endpoint": "cloud.example.net", "region": "Lab"})
	b, err := New().RenderNode(context.Background(), node(c, RoleController, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"endpoint nova public http://cloud.example.net:8774/v2.1", "--bootstrap-region-id Lab",
		"mysql+pymysql://nova:", "@10.0.0.10/nova_api"} {
		if !bytes.Contains(b.UserData, []byte(want)) {
			t.Errorf("missing %q", want)
		}
	}
}
