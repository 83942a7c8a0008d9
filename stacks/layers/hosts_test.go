package layers

import (
	"maps"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners"
)

func TestMarkLabels(t *testing.T) {
	at := time.Date(2026, 12, 7, 8, 56, 26, 0, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		mark provisioners.Mark
		want map[string]string
	}{
		{provisioners.Mark{}, map[string]string{}},
		{provisioners.Mark{Expires: at}, map[string]string{LabelExpires: "20261207T075626Z"}},
		{provisioners.Mark{CreatedBy: "https://github.com/org/repo/actions/runs/123"},
			map[string]string{LabelCreatedBy: "github.com_org_repo_actions_runs_123"}},
		{provisioners.Mark{CreatedBy: "ci@runner-7"}, map[string]string{LabelCreatedBy: "ci_runner-7"}},
		// Cut to 63 characters, never ending in what a value cannot end in.
		{provisioners.Mark{CreatedBy: "https://gitlab.example/group/a-very-long-project-name/-/jobs/123456789012345"},
			map[string]string{LabelCreatedBy: "gitlab.example_group_a-very-long-project-name_-_jobs_1234567890"}},
		{provisioners.Mark{CreatedBy: "ü/"}, map[string]string{}},
	} {
		got := Cluster{Mark: tc.mark}.MarkLabels()
		if !maps.Equal(got, tc.want) {
			t.Errorf("MarkLabels(%+v) = %v, want %v", tc.mark, got, tc.want)
		}
		for _, v := range got {
			if len(v) > 63 {
				t.Errorf("%q is longer than a label value may be", v)
			}
		}
	}
}
