package version

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		in   Info
		want string
	}{
		{Info{Version: "0.13.0", Commit: "4f39fb9d0123456789", Go: "go1.26.8", Platform: "linux/amd64"}, "0.13.0 (commit 4f39fb9d0123, go1.26.8, linux/amd64)"},
		{Info{Version: "0.13.0", Commit: "abc", Modified: true, Go: "go1.26.8", Platform: "darwin/arm64"}, "0.13.0 (commit abc with local changes, go1.26.8, darwin/arm64)"},
		{Info{Version: "dev", Go: "go1.26.8", Platform: "linux/arm64"}, "dev (commit unknown, go1.26.8, linux/arm64)"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestOf(t *testing.T) {
	i := Of("", "")
	if i.Version != "dev" || !strings.HasPrefix(i.Go, "go") || !strings.Contains(i.Platform, "/") {
		t.Errorf("Of(\"\") = %+v", i)
	}
	if i := Of("1.2.3", "abc"); i.Version != "1.2.3" || i.Commit != "abc" {
		t.Errorf("the linked version and commit are not kept: %+v", i)
	}
}
