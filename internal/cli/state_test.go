package cli

import (
	"strings"
	"testing"

	"github.com/stratastack/strata/internal/state"
)

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
