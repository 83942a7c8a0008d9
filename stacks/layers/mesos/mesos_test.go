package mesos

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/layertest"
	"github.com/stratastack/strata/stacks/schema"
)

// settings fills in defaults the way the stack compiler does, then applies
// overrides.
func settings(over map[string]cty.Value) schema.Values {
	v := schema.Values{Attrs: map[string]cty.Value{}}
	for _, a := range New().Attrs() {
		if a.Default != cty.NilVal {
			v.Attrs[a.Name] = a.Default
		} else {
			v.Attrs[a.Name] = cty.NullVal(a.Type)
		}
	}
	for k, x := range over {
		v.Attrs[k] = x
	}
	return v
}

func cluster(s layers.Secrets, placement string, over map[string]cty.Value) layers.Cluster {
	return layers.Cluster{
		Stack: "edge-1", Kind: Kind, Name: "core", Version: DefaultVersion,
		Settings: settings(over),
		Members: map[string][]layers.Member{
			// Out of order on purpose: renderers sort by index.
			RoleMaster: {{Name: "edge-1-infra-1", Index: 1}, {Name: "edge-1-infra-0", Index: 0, Address: "10.0.0.10"}, {Name: "edge-1-infra-2", Index: 2}},
			RoleAgent:  {{Name: "edge-1-infra-3", Index: 0}, {Name: "edge-1-infra-4", Index: 1, Address: "10.0.0.14"}},
		},
		Placements: map[string]string{RoleMaster: placement, RoleAgent: placement},
		Secrets:    s,
	}
}

func node(c layers.Cluster, role string, i int) layers.Node {
	var m layers.Member
	for _, x := range c.Members[role] {
		if x.Index == i {
			m = x
		}
	}
	return layers.Node{Cluster: c, Role: role, Machine: m, Labels: map[string]string{"tier": "infra", "bad label": "x"}}
}

func deb(sha string) map[string]cty.Value {
	return map[string]cty.Value{
		"artifact":        cty.StringVal("https://mirror.example.org/mesos/mesos_1.11.0-2.0.1.ubuntu2404_amd64.deb"),
		"artifact_sha256": cty.StringVal(sha),
	}
}

const testSHA = "0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000"

func TestRoles(t *testing.T) {
	rs := New().Roles()
	if len(rs) != 2 || rs[0].Name != RoleMaster || rs[1].Name != RoleAgent {
		t.Fatalf("roles = %+v, want master then agent", rs)
	}
	for _, r := range rs {
		if fmt.Sprint(r.On) != "[pool kubernetes]" || r.Allows("mesos") {
			t.Errorf("role %s placed on %v, want [pool kubernetes]", r.Name, r.On)
		}
	}
	if fmt.Sprint(rs[1].After) != "[master]" {
		t.Errorf("agent After = %v", rs[1].After)
	}
	if New().Kind() != "mesos" || New().DefaultVersion() != "1.11.0" || New().SubstrateKind() != "" {
		t.Error("kind, version or substrate kind is off")
	}
}

func TestRenderNode(t *testing.T) {
	s := layertest.Secrets(t)
	for _, tc := range []struct {
		golden string
		role   string
		index  int
		over   map[string]cty.Value
	}{
		{"master-pool.yaml", RoleMaster, 0, nil},
		{"master-pool-noaddr.yaml", RoleMaster, 1, nil},
		{"agent-pool.yaml", RoleAgent, 0, nil},
		{"master-pool-deb.yaml", RoleMaster, 2, deb(testSHA)},
		{"agent-pool-deb.yaml", RoleAgent, 1, deb("")},
		{"agent-pool-tar.yaml", RoleAgent, 1, map[string]cty.Value{"artifact": cty.StringVal("https://mirror.example.org/mesos-1.11.0.tar.gz")}},
		{"agent-pool-digest.yaml", RoleAgent, 1, map[string]cty.Value{"artifact": cty.StringVal("registry.example.org/mirror/mesos-centos:1.11.0"), "artifact_sha256": cty.StringVal(testSHA)}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			c := cluster(s, layers.Pool, tc.over)
			b, err := New().RenderNode(context.Background(), node(c, tc.role, tc.index))
			if err != nil {
				t.Fatal(err)
			}
			if b.Format != "cloud-config" || !b.Sensitive || !bytes.HasPrefix(b.UserData, []byte("#cloud-config\n")) {
				t.Fatalf("bootstrap format %q sensitive %v", b.Format, b.Sensitive)
			}
			layertest.Golden(t, tc.golden, b.UserData)
			layertest.CloudConfig(t, b.UserData)
			got := string(b.UserData)
			for _, want := range []string{
				"zk://10.0.0.10:2181,edge-1-infra-1:2181,edge-1-infra-2:2181/mesos",
				"hostname: " + node(c, tc.role, tc.index).Machine.Name,
				"/etc/strata/node.json",
				agentSecret(c),
			} {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			if tc.role == RoleMaster {
				for _, want := range []string{"MESOS_QUORUM=2", "server.1=10.0.0.10:2888:3888", "server.3=edge-1-infra-2:2888:3888", marathonSecret(c)} {
					if !strings.Contains(got, want) {
						t.Errorf("master output lacks %q", want)
					}
				}
			}
		})
	}
}

func TestRenderHosted(t *testing.T) {
	s := layertest.Secrets(t)
	for _, tc := range []struct {
		golden string
		role   string
		count  int
		master string // where masters are placed
		over   map[string]cty.Value
	}{
		{"master-kubernetes.yaml", RoleMaster, 3, "kubernetes", nil},
		{"master-kubernetes-single.yaml", RoleMaster, 1, "kubernetes", nil},
		{"agent-kubernetes.yaml", RoleAgent, 4, "kubernetes", nil},
		{"agent-kubernetes-hostnet.yaml", RoleAgent, 2, layers.Pool, map[string]cty.Value{"host_network": cty.True, "agent_cpus": cty.NumberIntVal(4), "agent_memory_mb": cty.NumberIntVal(8192)}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			c := cluster(s, "kubernetes", tc.over)
			c.Placements[RoleMaster] = tc.master
			objs, err := New().RenderHosted(context.Background(), layers.Hosted{Cluster: c, Role: tc.role, Count: tc.count, HostKind: "kubernetes", HostName: "apps"})
			if err != nil {
				t.Fatal(err)
			}
			var all bytes.Buffer
			for _, o := range objs {
				if o.Format != "kubernetes" {
					t.Errorf("%s/%s format %q", o.Kind, o.Name, o.Format)
				}
				decoded := layertest.Kubernetes(t, o.Body)
				layertest.Labelled(t, o, c.Labels(tc.role))
				if len(decoded) != 1 {
					t.Errorf("%s/%s holds %d documents, want 1", o.Kind, o.Name, len(decoded))
				}
				if o.Sensitive != (o.Kind == "Secret") {
					t.Errorf("%s/%s sensitive = %v", o.Kind, o.Name, o.Sensitive)
				}
				if o.Kind != "Secret" && bytes.Contains(o.Body, []byte(agentSecret(c))) {
					t.Errorf("%s/%s carries the agent secret outside a Secret", o.Kind, o.Name)
				}
				fmt.Fprintf(&all, "# %s/%s sensitive=%v\n---\n%s", o.Kind, o.Name, o.Sensitive, o.Body)
			}
			layertest.Golden(t, tc.golden, all.Bytes())
			if tc.role == RoleMaster && strings.Contains(all.String(), "PodDisruptionBudget") != (tc.count > 1) {
				t.Error("a budget belongs only to a multi-master ensemble")
			}
			if !strings.Contains(all.String(), "namespace: edge-1-core") {
				t.Error("objects are not in namespace edge-1-core")
			}
		})
	}
}

func TestSecretsDifferBetweenSeeds(t *testing.T) {
	other, err := secrets.New(bytes.Repeat([]byte{9}, secrets.SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	a := cluster(layertest.Secrets(t), layers.Pool, nil)
	b := cluster(other, layers.Pool, nil)
	if agentSecret(a) == agentSecret(b) || marathonSecret(a) == marathonSecret(b) {
		t.Fatal("secrets do not depend on the stack's seed")
	}
	if agentSecret(a) == marathonSecret(a) || len(agentSecret(a)) != 32 {
		t.Fatal("agent and marathon secrets must be distinct 32-character tokens")
	}
	other2 := a
	other2.Name = "edge"
	if agentSecret(a) == agentSecret(other2) {
		t.Fatal("two mesos layers of one stack share an agent secret")
	}
	for _, role := range []string{RoleMaster, RoleAgent} {
		ba, _ := New().RenderNode(context.Background(), node(a, role, 0))
		bb, _ := New().RenderNode(context.Background(), node(b, role, 0))
		if bytes.Equal(ba.UserData, bb.UserData) || bytes.Contains(bb.UserData, []byte(agentSecret(a))) {
			t.Errorf("%s: output does not follow the seed", role)
		}
	}
}

// Agents need the agent credential, never Marathon's framework secret.
func TestAgentsDoNotCarryMarathonSecret(t *testing.T) {
	c := cluster(layertest.Secrets(t), layers.Pool, nil)
	secret := []byte(marathonSecret(c))
	b, err := New().RenderNode(context.Background(), node(c, RoleAgent, 0))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b.UserData, secret) {
		t.Error("agent cloud-config carries Marathon's secret")
	}
	c.Placements[RoleAgent] = "kubernetes"
	objs, err := New().RenderHosted(context.Background(), layers.Hosted{Cluster: c, Role: RoleAgent, Count: 2, HostKind: "kubernetes"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if bytes.Contains(o.Body, secret) {
			t.Errorf("agent object %s/%s carries Marathon's secret", o.Kind, o.Name)
		}
	}
}

func TestRefusals(t *testing.T) {
	s := layertest.Secrets(t)
	ctx := context.Background()
	l := New()
	c := cluster(s, "kubernetes", nil)
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"master on mesos", func() error {
			_, err := l.RenderHosted(ctx, layers.Hosted{Cluster: c, Role: RoleMaster, Count: 3, HostKind: "mesos"})
			return err
		}, "cannot be placed on \"mesos\""},
		{"agent on mesos", func() error {
			_, err := l.RenderHosted(ctx, layers.Hosted{Cluster: c, Role: RoleAgent, Count: 3, HostKind: "mesos"})
			return err
		}, "cannot be placed on \"mesos\""},
		{"unknown role", func() error {
			_, err := l.RenderHosted(ctx, layers.Hosted{Cluster: c, Role: "slave", Count: 1, HostKind: "kubernetes"})
			return err
		}, "unknown role"},
		{"unknown role on a pool", func() error {
			_, err := l.RenderNode(ctx, layers.Node{Cluster: c, Role: "slave"})
			return err
		}, "unknown role"},
		{"package hosted", func() error {
			_, err := l.RenderHosted(ctx, layers.Hosted{Cluster: cluster(s, "kubernetes", deb("")), Role: RoleAgent, Count: 1, HostKind: "kubernetes"})
			return err
		}, "need a container image"},
		{"zero count", func() error {
			_, err := l.RenderHosted(ctx, layers.Hosted{Cluster: c, Role: RoleMaster, Count: 0, HostKind: "kubernetes"})
			return err
		}, "at least 1"},
		{"bad sha", func() error {
			_, err := l.RenderNode(ctx, node(cluster(s, layers.Pool, deb("abc")), RoleAgent, 0))
			return err
		}, "64 hex digits"},
		{"bad package", func() error {
			_, err := l.RenderNode(ctx, node(cluster(s, layers.Pool, map[string]cty.Value{"artifact": cty.StringVal("https://x.example/mesos.rpm")}), RoleAgent, 0))
			return err
		}, "neither a .deb"},
		{"no masters", func() error {
			c2 := cluster(s, layers.Pool, nil)
			c2.Members = map[string][]layers.Member{RoleAgent: c2.Members[RoleAgent]}
			_, err := l.RenderNode(ctx, node(c2, RoleAgent, 0))
			return err
		}, "no master members"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
