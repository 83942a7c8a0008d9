package cloudtest

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeT records how Dir ends a test without ending this one.
type fakeT struct {
	testing.TB
	failed, skipped bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Fatal(...any)          { f.failed = true; panic(f) }
func (f *fakeT) Skip(...any)           { f.skipped = true; panic(f) }
func (f *fakeT) Fatalf(string, ...any) { f.Fatal() }
func (f *fakeT) Skipf(string, ...any)  { f.Skip() }

func dir(f *fakeT) (d string) {
	defer func() {
		if r := recover(); r != nil && r != any(f) {
			panic(r)
		}
	}()
	return Dir(f)
}

func TestDir(t *testing.T) {
	withCloud := t.TempDir()
	if err := os.WriteFile(filepath.Join(withCloud, "clouds.yaml"), []byte("clouds: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, require string
		failed, skipped    bool
	}{
		{"cloud there", withCloud, "", false, false},
		{"cloud there, required", withCloud, "1", false, false},
		{"no cloud: skip", t.TempDir(), "", false, true},
		{"no cloud, required: fail", t.TempDir(), "1", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("STRATA_OPENSTACK_DIR", tc.dir)
			t.Setenv("STRATA_REQUIRE_OPENSTACK", tc.require)
			f := &fakeT{TB: t}
			got := dir(f)
			if f.failed != tc.failed || f.skipped != tc.skipped {
				t.Fatalf("failed %v skipped %v, want %v %v", f.failed, f.skipped, tc.failed, tc.skipped)
			}
			if !tc.failed && !tc.skipped && got != tc.dir {
				t.Errorf("Dir = %q, want %q", got, tc.dir)
			}
		})
	}
}
