package release

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckVersion(t *testing.T) {
	for v, ok := range map[string]bool{
		"0.13.0": true, "1.2.3": true, "10.0.1-rc.1": true,
		"v0.13.0": false, "0.13": false, "0.13.0.1": false, "01.2.3": false, "1.x.3": false, "": false,
	} {
		if err := checkVersion(v); (err == nil) != ok {
			t.Errorf("checkVersion(%q) = %v, want ok=%v", v, err, ok)
		}
	}
}

func TestParsePlatform(t *testing.T) {
	for in, want := range map[string]string{"linux_amd64": "linux_amd64", "darwin/arm64": "darwin_arm64"} {
		p, err := ParsePlatform(in)
		if err != nil || p.String() != want {
			t.Errorf("ParsePlatform(%q) = %v, %v", in, p, err)
		}
	}
	for _, bad := range []string{"linux", "_amd64", "linux_"} {
		if _, err := ParsePlatform(bad); err == nil {
			t.Errorf("ParsePlatform(%q) accepted", bad)
		}
	}
	if n := len(Platforms()); n != 6 {
		t.Errorf("%d platforms, want 6", n)
	}
}

func TestParseSums(t *testing.T) {
	good := strings.Repeat("ab", 32) + "  a.zip\n" + strings.Repeat("01", 32) + "  b.json\n"
	m, err := ParseSums([]byte(good))
	if err != nil || len(m) != 2 || m["a.zip"] != strings.Repeat("ab", 32) {
		t.Fatalf("ParseSums = %v, %v", m, err)
	}
	for _, bad := range []string{"xyz  a.zip\n", strings.Repeat("ab", 32) + " a.zip\n", strings.Repeat("ab", 32) + "  \n"} {
		if _, err := ParseSums([]byte(bad)); err == nil {
			t.Errorf("ParseSums(%q) accepted", bad)
		}
	}
}

// TestMirror: the mirror lists every version added to it, and each
// version's archives with the h1 and zh hashes of their zips.
func TestMirror(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "terraform-provider-strata_v1.0.0")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	mirror := filepath.Join(dir, "mirror")
	for _, v := range []string{"1.0.0", "1.1.0"} {
		zip := filepath.Join(dir, Provider+"_"+v+"_linux_amd64.zip")
		if err := zipFiles(zip, exe); err != nil {
			t.Fatal(err)
		}
		a := Artifacts{Version: v, Provider: map[Platform]string{{"linux", "amd64"}: zip}}
		if err := Mirror(a, mirror); err != nil {
			t.Fatal(err)
		}
	}
	base := filepath.Join(mirror, filepath.FromSlash(Source))
	var index struct{ Versions map[string]any }
	readJSON(t, filepath.Join(base, "index.json"), &index)
	if len(index.Versions) != 2 || index.Versions["1.0.0"] == nil || index.Versions["1.1.0"] == nil {
		t.Errorf("index.json lists %v, want both versions", index.Versions)
	}
	var doc struct {
		Archives map[string]struct {
			URL    string
			Hashes []string
		}
	}
	readJSON(t, filepath.Join(base, "1.1.0.json"), &doc)
	a := doc.Archives["linux_amd64"]
	zip := filepath.Join(base, a.URL)
	h1, _ := Hash1(zip)
	zh, _ := HashZ(zip)
	if len(doc.Archives) != 1 || len(a.Hashes) != 2 || a.Hashes[0] != h1 || a.Hashes[1] != zh || !strings.HasPrefix(h1, "h1:") {
		t.Errorf("1.1.0.json = %+v, want the zip's %s and %s", doc, h1, zh)
	}
	if err := Mirror(Artifacts{Version: "2.0.0"}, mirror); err == nil {
		t.Error("a release without provider archives was mirrored")
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
