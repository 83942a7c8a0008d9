package state

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSaveLoadAll(t *testing.T) {
	d := Dir(filepath.Join(t.TempDir(), "st"))
	now := time.Now().UTC().Truncate(time.Second)
	cases := []struct {
		s       Stack
		expired bool
	}{
		{Stack{Name: "a", Path: "/x", Created: now.Add(-3 * time.Hour), TTL: time.Hour}, true},
		{Stack{Name: "b", Path: "/y", Created: now, TTL: time.Hour}, false},
		{Stack{Name: "c", Path: "/z", Created: now.Add(-100 * time.Hour)}, false},
	}
	for _, tc := range cases {
		s := tc.s
		if err := d.Save(&s); err != nil {
			t.Fatal(err)
		}
		got, ok, err := d.Load(s.Name)
		if err != nil || !ok || got.Path != s.Path || got.TTL != s.TTL {
			t.Fatalf("load %s: %+v %v %v", s.Name, got, ok, err)
		}
		if got.Expired(now) != tc.expired {
			t.Fatalf("%s expired = %v, want %v", s.Name, got.Expired(now), tc.expired)
		}
	}
	all, err := d.All()
	if err != nil || len(all) != 3 || all[0].Name != "a" {
		t.Fatalf("All = %v, %v", all, err)
	}
	entries, _ := os.ReadDir(string(d))
	for _, e := range entries {
		if e.Name()[0] == '.' {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
	if err := d.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := d.Load("a"); ok {
		t.Fatal("removed state still loads")
	}
	if err := os.WriteFile(d.file("bad"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Load("bad"); err == nil {
		t.Fatal("corrupt state accepted")
	}
}
