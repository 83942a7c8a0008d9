package state

import (
	"strings"
	"testing"
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
