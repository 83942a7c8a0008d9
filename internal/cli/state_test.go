package cli

import (
	"strings"
	"testing"

	"github.com/stratastack/strata/internal/state"
)

func TestHolderFrom(t *testing.T) {
	for _, tc := range []struct {
		env map[string]string
		job string
	}{
		{map[string]string{"GITHUB_RUN_ID": "9", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r"}, "https://github.com/o/r/actions/runs/9"},
		{map[string]string{"CI_JOB_URL": "https://gitlab.example/o/r/-/jobs/5"}, "https://gitlab.example/o/r/-/jobs/5"},
		{map[string]string{"BUILD_URL": "https://jenkins.example/job/x/3/"}, "https://jenkins.example/job/x/3/"},
		{map[string]string{"BUILDKITE_BUILD_URL": "https://buildkite.com/o/p/builds/2"}, "https://buildkite.com/o/p/builds/2"},
		{map[string]string{}, ""},
	} {
		h := HolderFrom(func(k string) string {
			if k == "USER" {
				return "ci"
			}
			return tc.env[k]
		})
		if h.Job != tc.job || !strings.HasPrefix(h.Who, "ci@") || !strings.Contains(h.Who, " pid ") {
			t.Errorf("%v: %+v, want job %q", tc.env, h, tc.job)
		}
	}
}

func TestOpenBackend(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		url, want string
	}{
		{"", "files " + dir},
		{"/var/lib/strata", "files /var/lib/strata"},
		{"postgres://x@127.0.0.1:1/db", "error STRATA_STATE_KEY"}, // no key: refused before connecting
		{"s3://bucket/state", "error a folder, or postgres://"},
	} {
		b, err := openBackend(t.Context(), tc.url, dir, "")
		got := ""
		switch {
		case err != nil:
			got = "error " + err.Error()
		default:
			got = "files " + string(b.(state.Files).Dir)
		}
		if !strings.HasPrefix(got, tc.want) && !strings.Contains(got, strings.TrimPrefix(tc.want, "error ")) {
			t.Errorf("openBackend(%q) = %s, want %s", tc.url, got, tc.want)
		}
	}
}
