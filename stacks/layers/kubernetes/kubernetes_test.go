package kubernetes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/layertest"
	"github.com/stratastack/strata/stacks/layers/marathon"
	"github.com/stratastack/strata/stacks/schema"
)

// settingsOf fills in the Attr defaults the way the stack compiler does,
// then applies overrides.
func settingsOf(over map[string]string) schema.Values {
	v := schema.Values{Attrs: map[string]cty.Value{}}
	for _, a := range New().Attrs() {
		v.Attrs[a.Name] = cty.NullVal(a.Type)
		if a.Default != cty.NilVal {
			v.Attrs[a.Name] = a.Default
		}
	}
	for k, s := range over {
		v.Attrs[k] = cty.StringVal(s)
	}
	return v
}

func cluster(sec layers.Secrets, cpOn, workerOn string, over map[string]string) layers.Cluster {
	return layers.Cluster{
		Stack:    "edge-1",
		Kind:     Kind,
		Name:     "apps",
		Version:  "1.37.2",
		Settings: settingsOf(over),
		Members: map[string][]layers.Member{
			ControlPlane: {
				{Name: "edge-1-infra-0", Index: 0, Address: "10.0.0.10"},
				{Name: "edge-1-infra-1", Index: 1},
				{Name: "edge-1-infra-2", Index: 2},
			},
			Worker: {{Name: "edge-1-infra-3", Index: 0}, {Name: "edge-1-infra-4", Index: 1}},
		},
		Placements: map[string]string{ControlPlane: cpOn, Worker: workerOn},
		Secrets:    sec,
	}
}

func renderNode(t *testing.T, c layers.Cluster, role string, index int) layers.Bootstrap {
	t.Helper()
	b, err := New().RenderNode(context.Background(), layers.Node{Cluster: c, Role: role, Machine: c.Members[role][index]})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func renderHosted(t *testing.T, c layers.Cluster, role string, count int) []layers.Object {
	t.Helper()
	objs, err := New().RenderHosted(context.Background(), layers.Hosted{Cluster: c, Role: role, Count: count, HostKind: "mesos", HostName: "core"})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestRoles(t *testing.T) {
	rs := New().Roles()
	if len(rs) != 2 || rs[0].Name != ControlPlane || rs[1].Name != Worker {
		t.Fatalf("roles out of bring-up order: %+v", rs)
	}
	for _, r := range rs {
		if strings.Join(r.On, ",") != "pool,mesos" {
			t.Errorf("%s: On = %v, want [pool mesos] (STACKS.md placement table)", r.Name, r.On)
		}
	}
	if strings.Join(rs[1].After, ",") != ControlPlane {
		t.Errorf("worker.After = %v", rs[1].After)
	}
}

func TestRenderNode(t *testing.T) {
	for _, tc := range []struct {
		golden   string
		role     string
		index    int
		cpOn     string
		settings map[string]string
	}{
		{golden: "pool-control-plane-0.yaml", role: ControlPlane, index: 0, cpOn: layers.Pool},
		{golden: "pool-control-plane-1.yaml", role: ControlPlane, index: 1, cpOn: layers.Pool},
		{golden: "pool-control-plane-2.yaml", role: ControlPlane, index: 2, cpOn: layers.Pool},
		{golden: "pool-worker-0.yaml", role: Worker, index: 0, cpOn: layers.Pool},
		// A custom endpoint and pod network, no CNI.
		{golden: "pool-control-plane-0-custom.yaml", role: ControlPlane, index: 0, cpOn: layers.Pool,
			settings: map[string]string{"control_plane_endpoint": "k8s.example.net", "pod_cidr": "192.168.0.0/16", "cni": "none"}},
		// Workers on machines joining a control plane hosted on mesos.
		{golden: "pool-worker-0-cp-on-mesos.yaml", role: Worker, index: 0, cpOn: "mesos"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			b := renderNode(t, cluster(layertest.Secrets(t), tc.cpOn, layers.Pool, tc.settings), tc.role, tc.index)
			if b.Format != "cloud-config" || !b.Sensitive {
				t.Errorf("format %q sensitive %v, want cloud-config and sensitive", b.Format, b.Sensitive)
			}
			layertest.CloudConfig(t, b.UserData)
			layertest.Golden(t, tc.golden, b.UserData)
			again := renderNode(t, cluster(layertest.Secrets(t), tc.cpOn, layers.Pool, tc.settings), tc.role, tc.index)
			if !bytes.Equal(b.UserData, again.UserData) {
				t.Error("two renders differ")
			}
		})
	}
}

func TestRenderHosted(t *testing.T) {
	for _, tc := range []struct {
		golden string
		role   string
		count  int
		kind   string
	}{
		{golden: "mesos-control-plane", role: ControlPlane, count: 3, kind: "group"},
		{golden: "mesos-worker", role: Worker, count: 4, kind: "app"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			c := cluster(layertest.Secrets(t), "mesos", "mesos", nil)
			objs := renderHosted(t, c, tc.role, tc.count)
			if len(objs) != 1 {
				t.Fatalf("got %d objects, want 1", len(objs))
			}
			o := objs[0]
			if o.Format != "marathon" || o.Kind != tc.kind || !o.Sensitive || !strings.HasPrefix(o.Name, "/edge-1/apps/") {
				t.Errorf("object %s %s %q sensitive=%v", o.Format, o.Kind, o.Name, o.Sensitive)
			}
			layertest.Marathon(t, o.Body)
			layertest.Labelled(t, o, c.Labels(tc.role))
			layertest.Golden(t, tc.golden+".json", o.Body)
			// The files the node containers write, decoded, for review.
			layertest.Golden(t, tc.golden+".files.txt", []byte(hostedFiles(t, o.Body)))

			total := 0
			for _, a := range apps(t, o.Body) {
				total += a.Instances
				if a.Container.Docker.Image != kindNode137 || !a.Container.Docker.Privileged {
					t.Errorf("%s: image %q privileged %v", a.ID, a.Container.Docker.Image, a.Container.Docker.Privileged)
				}
			}
			if total != tc.count {
				t.Errorf("instances add up to %d, want %d", total, tc.count)
			}
		})
	}
}

func TestMixedPlacement(t *testing.T) {
	// Control plane on machines, workers on mesos: they join the first
	// control plane's address.
	objs := renderHosted(t, cluster(layertest.Secrets(t), layers.Pool, "mesos", nil), Worker, 2)
	if files := hostedFiles(t, objs[0].Body); !strings.Contains(files, "apiServerEndpoint: 10.0.0.10:6443") {
		t.Errorf("worker on mesos does not join the pool's control plane:\n%s", files)
	}
	// A single control plane on mesos has no join app.
	objs = renderHosted(t, cluster(layertest.Secrets(t), "mesos", "mesos", nil), ControlPlane, 1)
	if as := apps(t, objs[0].Body); len(as) != 1 || !strings.HasSuffix(as[0].ID, "/init") {
		t.Errorf("one control plane: apps %+v", as)
	}
}

func TestDisallowedPlacement(t *testing.T) {
	c := cluster(layertest.Secrets(t), layers.Pool, layers.Pool, nil)
	for _, role := range []string{ControlPlane, Worker} {
		for _, host := range []string{"kubernetes", "openstack", layers.Pool} {
			if _, err := New().RenderHosted(context.Background(), layers.Hosted{Cluster: c, Role: role, Count: 1, HostKind: host}); err == nil {
				t.Errorf("%s on %s: no error", role, host)
			}
		}
	}
	if _, err := New().RenderHosted(context.Background(), layers.Hosted{Cluster: c, Role: "etcd", Count: 1, HostKind: "mesos"}); err == nil {
		t.Error("unknown role: no error")
	}
	if _, err := New().RenderNode(context.Background(), layers.Node{Cluster: c, Role: "master", Machine: c.Members[Worker][0]}); err == nil {
		t.Error("unknown role on a node: no error")
	}
	if _, err := New().RenderHosted(context.Background(), layers.Hosted{Cluster: c, Role: ControlPlane, Count: 0, HostKind: "mesos"}); err == nil {
		t.Error("zero control planes: no error")
	}
}

func TestBadSettings(t *testing.T) {
	for name, over := range map[string]map[string]string{
		"overlap":  {"pod_cidr": "10.96.0.0/16"},
		"not cidr": {"service_cidr": "10.96.0.0"},
		"cni":      {"cni": "weave"},
		"endpoint": {"control_plane_endpoint": "lb:99999"},
	} {
		c := cluster(layertest.Secrets(t), layers.Pool, layers.Pool, over)
		if _, err := New().RenderNode(context.Background(), layers.Node{Cluster: c, Role: Worker, Machine: c.Members[Worker][0]}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	c := cluster(layertest.Secrets(t), layers.Pool, layers.Pool, nil)
	c.Version = "1.37"
	if _, err := New().RenderNode(context.Background(), layers.Node{Cluster: c, Role: Worker, Machine: c.Members[Worker][0]}); err == nil {
		t.Error("version without patch: no error")
	}
}

func TestKeys(t *testing.T) {
	k, err := deriveKeys(layertest.Secrets(t), "apps")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`).MatchString(k.token) {
		t.Errorf("token %q is not a kubeadm bootstrap token", k.token)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(k.certKey) {
		t.Errorf("certificate key %q is not 64 hex characters", k.certKey)
	}
	other, err := deriveKeys(layertest.Secrets(t), "apps2")
	if err != nil {
		t.Fatal(err)
	}
	if other.caHash == k.caHash || other.token == k.token {
		t.Error("two layers of one stack share a CA or token")
	}

	// The Go-signed CA (mesos) carries the derived key and is a CA.
	pemCert, err := k.caCertPEM(layertest.Secrets(t), "apps")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(pemCert))
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 || cert.CheckSignatureFrom(cert) != nil {
		t.Error("Go-signed CA is not a valid self-signed CA")
	}
	if got := spkiHash(cert); got != k.caHash {
		t.Errorf("Go-signed CA hash %s, discovery hash %s", got, k.caHash)
	}
}

func spkiHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// The CA certificate every node gets carries the public key every joiner
// pins, and OpenSSL — an outside judge — accepts it as a CA and Strata's
// admin client certificate as issued by it for client authentication.
func TestCAAndAdminCertificate(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is not installed (make deps installs it): %v", err)
	}
	sec := layertest.Secrets(t)
	k, err := deriveKeys(sec, "apps")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := k.caCertPEM(sec, "apps")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(caPEM))
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA: IsCA %v key usage %v", cert.IsCA, cert.KeyUsage)
	}
	if got := spkiHash(cert); got != k.caHash {
		t.Errorf("CA hash %s, discovery hash %s", got, k.caHash)
	}
	adminPEM, _, err := k.adminCert(sec, "apps", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca, admin := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "admin.crt")
	if err := os.WriteFile(ca, []byte(caPEM), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(admin, adminPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"verify", "-CAfile", ca, ca},
		{"verify", "-CAfile", ca, "-purpose", "sslclient", admin},
	} {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil || !strings.Contains(string(out), "OK") {
			t.Errorf("openssl %v: %v\n%s", args, err, out)
		}
	}
	// Another stack's CA does not vouch for this admin.
	other, _ := secrets.New(bytes.Repeat([]byte{9}, secrets.SeedSize))
	ko, _ := deriveKeys(other, "apps")
	otherPEM, _ := ko.caCertPEM(other, "apps")
	if err := os.WriteFile(ca, []byte(otherPEM), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "verify", "-CAfile", ca, "-purpose", "sslclient", admin).CombinedOutput(); err == nil {
		t.Errorf("another stack's CA verifies the admin certificate:\n%s", out)
	}
}

func TestSecretsDifferBySeed(t *testing.T) {
	other, err := secrets.New(bytes.Repeat([]byte{9}, secrets.SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := deriveKeys(layertest.Secrets(t), "apps")
	b, _ := deriveKeys(other, "apps")
	if a.caKeyPEM == b.caKeyPEM || a.caHash == b.caHash || a.token == b.token || a.certKey == b.certKey {
		t.Error("two seeds share a secret")
	}
	ua := renderNode(t, cluster(layertest.Secrets(t), layers.Pool, layers.Pool, nil), ControlPlane, 0)
	ub := renderNode(t, cluster(other, layers.Pool, layers.Pool, nil), ControlPlane, 0)
	if bytes.Contains(ub.UserData, []byte(a.token)) || bytes.Contains(ub.UserData, []byte(a.certKey)) {
		t.Error("a stack's bootstrap holds another stack's secrets")
	}
	if bytes.Equal(ua.UserData, ub.UserData) {
		t.Error("two seeds render the same bootstrap")
	}
}

// Only control plane 0 (machine or init app) gets the CA key; only control
// planes get the certificate key; every node gets the token and CA hash.
func TestSecretScope(t *testing.T) {
	k, _ := deriveKeys(layertest.Secrets(t), "apps")
	// A line of the key's base64: YAML indents the PEM as a block.
	caKey := strings.Split(k.caKeyPEM, "\n")[1]
	check := func(name, text string, wantCA, wantCertKey bool) {
		t.Helper()
		if !strings.Contains(text, k.token) || (!wantCA && !strings.Contains(text, k.caHash)) {
			t.Errorf("%s: lacks the bootstrap token or CA hash", name)
		}
		if got := strings.Contains(text, caKey); got != wantCA {
			t.Errorf("%s: holds the CA key = %v, want %v", name, got, wantCA)
		}
		if got := strings.Contains(text, k.certKey); got != wantCertKey {
			t.Errorf("%s: holds the certificate key = %v, want %v", name, got, wantCertKey)
		}
	}
	c := cluster(layertest.Secrets(t), layers.Pool, layers.Pool, nil)
	check("pool control-plane 0", string(renderNode(t, c, ControlPlane, 0).UserData), true, true)
	check("pool control-plane 1", string(renderNode(t, c, ControlPlane, 1).UserData), false, true)
	check("pool worker", string(renderNode(t, c, Worker, 1).UserData), false, false)

	h := cluster(layertest.Secrets(t), "mesos", "mesos", nil)
	for _, a := range apps(t, renderHosted(t, h, ControlPlane, 3)[0].Body) {
		text := appFiles(t, a)
		if strings.HasSuffix(a.ID, "/init") {
			check(a.ID, text, true, true)
		} else {
			check(a.ID, text, false, true)
		}
	}
	for _, a := range apps(t, renderHosted(t, h, Worker, 2)[0].Body) {
		check(a.ID, appFiles(t, a), false, false)
	}
}

func apps(t *testing.T, body []byte) []marathon.App {
	t.Helper()
	var g marathon.Group
	if err := json.Unmarshal(body, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Apps) > 0 {
		return g.Apps
	}
	var a marathon.App
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	return []marathon.App{a}
}

var putRE = regexp.MustCompile(`put "\$(STRATA_FILE_\d+)" (\S+) (\d+)`)

// appFiles decodes the files an app's node container writes, by path.
func appFiles(t *testing.T, a marathon.App) string {
	t.Helper()
	var b strings.Builder
	for _, m := range putRE.FindAllStringSubmatch(a.Cmd, -1) {
		v, _ := a.Env[m[1]].(string)
		content, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatalf("%s %s: %v", a.ID, m[1], err)
		}
		fmt.Fprintf(&b, "### %s (%s)\n%s\n", m[2], m[3], content)
	}
	return b.String()
}

func hostedFiles(t *testing.T, body []byte) string {
	t.Helper()
	as := apps(t, body)
	sort.Slice(as, func(i, j int) bool { return as[i].ID < as[j].ID })
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "## %s\n%s\n", a.ID, appFiles(t, a))
	}
	return b.String()
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"lb.example.net":         "lb.example.net:6443",
		"lb.example.net:8443":    "lb.example.net:8443",
		"10.1.2.3":               "10.1.2.3:6443",
		"[fd00::1]":              "[fd00::1]:6443",
		"[fd00::1]:443":          "[fd00::1]:443",
		"lb.example.net:0":       "",
		"https://lb.example.net": "",
	} {
		got, err := hostPort(in)
		if want == "" {
			if err == nil {
				t.Errorf("hostPort(%q) = %q, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("hostPort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
