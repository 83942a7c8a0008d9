package cloudtest

import (
	"os"
	"path/filepath"
	"testing"
)

// DefaultDir is where up.sh writes clouds.yaml, openrc and admin-openrc.
const DefaultDir = "/tmp/strata-openstack"

// Dir is the test cloud's folder: STRATA_OPENSTACK_DIR, or DefaultDir. A
// folder without clouds.yaml fails the test when STRATA_REQUIRE_OPENSTACK
// is set, so that a run meant to test OpenStack cannot pass by skipping,
// and skips it otherwise.
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("STRATA_OPENSTACK_DIR")
	if dir == "" {
		dir = DefaultDir
	}
	if _, err := os.Stat(filepath.Join(dir, "clouds.yaml")); err != nil {
		msg := "no OpenStack test cloud (" + err.Error() + "): bring it up with `sudo bash acceptance/openstack/up.sh` (make test does), " +
			"or set STRATA_OPENSTACK_DIR to a folder whose clouds.yaml has the clouds strata, strata-quota, strata-appcred and strata-admin"
		if os.Getenv("STRATA_REQUIRE_OPENSTACK") != "" {
			t.Fatal(msg + " (STRATA_REQUIRE_OPENSTACK is set)")
		}
		t.Skip(msg)
	}
	return dir
}

// CloudsFile is the test cloud's clouds.yaml (see Dir).
func CloudsFile(t testing.TB) string {
	t.Helper()
	return filepath.Join(Dir(t), "clouds.yaml")
}
