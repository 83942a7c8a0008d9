package layertest

import (
	"strings"
	"testing"
)

// The Marathon check fails what the contract refuses, and names where.
func TestMarathon(t *testing.T) {
	for _, tc := range []struct {
		name, body, err string
	}{
		{"app", `{"id": "/strata/k8s/apiserver", "cmd": "sleep 1", "cpus": 0.5, "mem": 256, "instances": 3}`, ""},
		{"group", `{"id": "/strata/k8s", "apps": [{"id": "etcd", "cmd": "etcd", "cpus": 1, "mem": 512, "instances": 3}]}`, ""},
		{"not an object", `[1]`, "not a JSON object"},
		{"instances as a string", `{"id": "/a", "cmd": "x", "instances": "3"}`, "$.instances"},
		{"container type not in the enum", `{"id": "/a", "container": {"type": "PODMAN", "docker": {"image": "x"}}}`, "$.container.type"},
		{"misspelt field", `{"id": "/a", "cmd": "x", "instanses": 3}`, "$.instanses: unknown field"},
		{"fractional backoff", `{"id": "/a", "cmd": "x", "backoffSeconds": 1.5}`, "$.backoffSeconds"},
		{"bad app in a group", `{"id": "/g", "apps": [{"id": "a", "cmd": "x", "mem": "lots"}]}`, "$.apps[0].mem"},
		{"no id", `{"cmd": "x"}`, "$.id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := marathon([]byte(tc.body))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want one naming %q", err, tc.err)
			}
		})
	}
}
