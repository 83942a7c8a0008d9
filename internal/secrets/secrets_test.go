package secrets

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestDerivation(t *testing.T) {
	a, _ := New(bytes.Repeat([]byte{1}, SeedSize))
	b, _ := New(bytes.Repeat([]byte{2}, SeedSize))
	cases := []struct {
		name string
		f    func(*Seed) string
	}{
		{"token", func(s *Seed) string { return s.Token("kubeadm", 16) }},
		{"long token", func(s *Seed) string { return s.Token("x", 100) }},
		{"key", func(s *Seed) string { return string(s.Key("ca", 32)) }},
		{"long key", func(s *Seed) string { return string(s.Key("ca", 77)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.f(a) != tc.f(a) {
				t.Fatal("same seed and purpose gave different values")
			}
			if tc.f(a) == tc.f(b) {
				t.Fatal("different seeds gave the same value")
			}
		})
	}
	if a.Token("p", 20) == a.Token("q", 20) {
		t.Fatal("different purposes gave the same token")
	}
	tok := a.Token("p", 500)
	if !regexp.MustCompile(`^[a-z0-9]{500}$`).MatchString(tok) {
		t.Fatalf("token %q is not [a-z0-9]{500}", tok)
	}
	if len(a.Key("p", 77)) != 77 {
		t.Fatal("key length")
	}
	if _, err := New([]byte{1}); err == nil {
		t.Fatal("short seed accepted")
	}
}

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "s.seed")
	s1, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("seed file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	s2, err := LoadOrCreate(path)
	if err != nil || s1.Hex() != s2.Hex() {
		t.Fatalf("second load gave another seed: %v", err)
	}
	if err := os.WriteFile(path, []byte("zz"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(path); err == nil {
		t.Fatal("corrupt seed accepted")
	}
}
