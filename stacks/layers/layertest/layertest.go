package layertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/stratastack/strata/internal/secrets"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/marathon/contract"
)

// Secrets is a fixed seed so golden files are stable.
func Secrets(t testing.TB) *secrets.Seed {
	t.Helper()
	s, err := secrets.New(bytes.Repeat([]byte{7}, secrets.SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// CloudConfig runs `cloud-init schema --config-file` on a rendered document.
func CloudConfig(t testing.TB, userData []byte) {
	t.Helper()
	bin, err := exec.LookPath("cloud-init")
	if err != nil {
		t.Fatalf("cloud-init is not installed (apt-get install --no-install-recommends cloud-init): %v", err)
	}
	f := filepath.Join(t.TempDir(), "user-data")
	if err := os.WriteFile(f, userData, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "schema", "--config-file", f).CombinedOutput()
	if err != nil {
		t.Fatalf("cloud-init schema rejected the document: %v\n%s\n--- document ---\n%s", err, out, userData)
	}
}

func kubeScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, rbacv1.AddToScheme, batchv1.AddToScheme, policyv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// Kubernetes decodes every YAML document in body strictly (unknown or
// duplicate fields fail) into its k8s.io/api type and returns the objects.
func Kubernetes(t testing.TB, body []byte) []runtime.Object {
	t.Helper()
	s := kubeScheme()
	ser := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s, kjson.SerializerOptions{Yaml: true, Strict: true})
	r := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(body)))
	var objs []runtime.Object
	for {
		doc, err := r.Read()
		if err != nil {
			break
		}
		if len(bytes.TrimSpace(doc)) == 0 || string(bytes.TrimSpace(doc)) == "---" {
			continue
		}
		obj, gvk, err := ser.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("object does not decode strictly into k8s.io/api: %v\n%s", err, doc)
		}
		if gvk.Kind == "" || gvk.Version == "" {
			t.Fatalf("object has no apiVersion/kind:\n%s", doc)
		}
		objs = append(objs, obj)
	}
	if len(objs) == 0 {
		t.Fatalf("no Kubernetes objects in:\n%s", body)
	}
	return objs
}

// Marathon holds a rendered Marathon app or group definition to the
// published Marathon v2 contract (stacks/layers/marathon/contract): field
// types, required fields, allowed values, patterns and ranges, as
// POST /v2/apps (App) and POST /v2/groups (GroupUpdate) take them. It is
// stricter than the contract in one way: a field no type of the contract
// declares fails, since Marathon would ignore a misspelt one silently.
func Marathon(t testing.TB, body []byte) {
	t.Helper()
	if err := marathon(body); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
}

func marathon(body []byte) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return fmt.Errorf("Marathon definition is not a JSON object: %w", err)
	}
	c, err := contract.Load()
	if err != nil {
		return err
	}
	typ := "App"
	if _, isGroup := probe["apps"]; isGroup || probe["groups"] != nil {
		typ = "GroupUpdate"
	}
	if err := c.ValidateStrict(typ, body); err != nil {
		return fmt.Errorf("Marathon would refuse this %s: %w", typ, err)
	}
	return nil
}

// Golden compares got with testdata/NAME, rewriting it when
// STRATA_UPDATE_GOLDEN=1.
func Golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("STRATA_UPDATE_GOLDEN") == "1" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file %s: %v (run with STRATA_UPDATE_GOLDEN=1 to create it)", path, err)
	}
	if !bytes.Equal(want, got) {
		t.Fatalf("%s differs from the golden file (STRATA_UPDATE_GOLDEN=1 rewrites it)\n--- got ---\n%s", path, got)
	}
}

// Labelled checks that every object in o (each Kubernetes object, each
// app of a Marathon group) carries want, the stack's labels of its role
// (layers.Cluster.Labels), which hosts list and remove a stack's objects
// by. A Namespace, which the roles of a layer share, needs no role label.
func Labelled(t testing.TB, o layers.Object, want map[string]string) {
	t.Helper()
	check := func(what string, got map[string]string) {
		for k, v := range want {
			if k == layers.LabelRole && strings.HasPrefix(what, "Namespace ") {
				continue
			}
			if got[k] != v {
				t.Errorf("%s: label %s = %q, want %q", what, k, got[k], v)
			}
		}
	}
	switch o.Format {
	case "kubernetes":
		for _, obj := range Kubernetes(t, o.Body) {
			m, err := meta.Accessor(obj)
			if err != nil {
				t.Fatal(err)
			}
			check(obj.GetObjectKind().GroupVersionKind().Kind+" "+m.GetName(), m.GetLabels())
		}
	case "marathon":
		var g marathonGroup
		if err := json.Unmarshal(o.Body, &g); err != nil {
			t.Fatal(err)
		}
		var walk func(g marathonGroup)
		walk = func(g marathonGroup) {
			if g.Apps == nil && g.Groups == nil {
				check("app "+g.ID, g.Labels)
			}
			for _, a := range g.Apps {
				check("app "+a.ID, a.Labels)
			}
			for _, sub := range g.Groups {
				walk(sub)
			}
		}
		walk(g)
	default:
		t.Fatalf("object %s %s: unknown format %q", o.Kind, o.Name, o.Format)
	}
}

// marathonGroup is as much of a Marathon app or group as Labelled reads.
type marathonGroup struct {
	ID     string            `json:"id"`
	Labels map[string]string `json:"labels"`
	Apps   []struct {
		ID     string            `json:"id"`
		Labels map[string]string `json:"labels"`
	} `json:"apps"`
	Groups []marathonGroup `json:"groups"`
}
