package ci

import (
	"os"
	"testing"
)

func TestJobAndAuthor(t *testing.T) {
	host, _ := os.Hostname()
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
		getenv := func(k string) string {
			if k == "USER" {
				return "ci"
			}
			return tc.env[k]
		}
		if got := Job(getenv); got != tc.job {
			t.Errorf("Job(%v) = %q, want %q", tc.env, got, tc.job)
		}
		want := tc.job
		if want == "" {
			want = "ci@" + host
		}
		if got := Author(getenv); got != want {
			t.Errorf("Author(%v) = %q, want %q", tc.env, got, want)
		}
	}
}
