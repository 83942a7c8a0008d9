package state

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestHolderFrom(t *testing.T) {
	h := HolderFrom(func(k string) string {
		return map[string]string{"USER": "ci", "CI_JOB_URL": "https://gitlab.example/o/r/-/jobs/5"}[k]
	})
	if h.Job != "https://gitlab.example/o/r/-/jobs/5" || !strings.HasPrefix(h.Who, "ci@") || !strings.HasSuffix(h.Who, fmt.Sprintf(" pid %d", os.Getpid())) {
		t.Errorf("HolderFrom = %+v", h)
	}
}
