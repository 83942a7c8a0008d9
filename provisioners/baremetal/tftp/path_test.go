package tftp

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestCleanName(t *testing.T) {
	// The root as configured, and as it resolves through a symlink.
	prefixes := []string{"/srv/tftp", "/data/boot"}
	tests := []struct {
		name string
		want string // "" means refused
	}{
		{"undionly.kpxe", "undionly.kpxe"},
		{"/undionly.kpxe", "undionly.kpxe"},
		{"///undionly.kpxe", "undionly.kpxe"},
		{"./efi//ipxe.efi", "efi/ipxe.efi"},
		{"efi/./ipxe.efi", "efi/ipxe.efi"},
		{`efi\ipxe.efi`, "efi/ipxe.efi"},
		{`\efi\ipxe.efi`, "efi/ipxe.efi"},
		{"/srv/tftp/undionly.kpxe", "undionly.kpxe"},
		{"/data/boot/efi/ipxe.efi", "efi/ipxe.efi"},
		{"/srv/tftpfoo/x", "srv/tftpfoo/x"}, // not the root: just a path below it
		{"srv/tftp/x", "srv/tftp/x"},        // relative: no prefix stripping
		{"/etc/passwd", "etc/passwd"},
		{"...", "..."},
		{"..foo", "..foo"},
		{"foo..", "foo.."},
		{"a b", "a b"},
		{"..", ""},
		{"../etc/passwd", ""},
		{"/../etc/passwd", ""},
		{"/srv/tftp/../../etc/passwd", ""},
		{"a/../b", ""},
		{"a/..", ""},
		{`..\etc\passwd`, ""},
		{`a\..\..\b`, ""},
		{"a\x00b", ""},
		{"\x00", ""},
		{"", ""},
		{"/", ""},
		{"//", ""},
		{".", ""},
		{"./", ""},
		{"/srv/tftp", ""},
		{"/srv/tftp/", ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.name), func(t *testing.T) {
			got, err := cleanName(prefixes, tc.name)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("cleanName = %q, want refusal", got)
				}
				if !errors.Is(err, fs.ErrPermission) {
					t.Errorf("error %v does not wrap fs.ErrPermission", err)
				}
				return
			}
			if err != nil || got != filepath.FromSlash(tc.want) {
				t.Fatalf("cleanName = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// fuzzSeeds are hostile and ordinary names for FuzzRequestName's corpus.
var fuzzSeeds = []string{
	"undionly.kpxe", "/ipxe.efi", "big.bin", "small.txt", "sub/inner.bin", "alias",
	"../etc/passwd", "/../../etc/passwd", `..\..\etc\passwd`, "sub/../../outside/secret",
	"passwd", "escape", "relescape", "escdir/secret", "escdir/../small.txt", "fifo", "sub",
	"a\x00b", "\x00", "", "/", ".", "..", "...", "//small.txt", "./small.txt",
	"/proc/self/root/etc/passwd", "sub/inner.bin/..", "sub/inner.bin/", "small.txt/",
	strings.Repeat("a/", 200) + "x", strings.Repeat("../", 100),
}

// FuzzRequestName feeds request names through the whole resolution path,
// cleanName then openFile on a root holding symlinks that point out of it.
// It must never panic, cleanName must only return local paths, errors must
// map to a TFTP error code, and whatever opens must be a regular file
// inside the root, never the secret outside it nor /etc/passwd.
func FuzzRequestName(f *testing.F) {
	fx := newFixture(f)
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Add(fx.root + "/small.txt")
	f.Add(fx.root + "/../outside/secret")

	root, err := os.OpenRoot(fx.root)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { root.Close() })
	realRoot, err := filepath.EvalSymlinks(fx.root)
	if err != nil {
		f.Fatal(err)
	}
	prefixes := []string{fx.root}
	if realRoot != fx.root {
		prefixes = append(prefixes, realRoot)
	}
	var forbidden []fs.FileInfo
	for _, p := range []string{fx.secret, "/etc/passwd", "/etc/shadow"} {
		if fi, err := os.Stat(p); err == nil {
			forbidden = append(forbidden, fi)
		}
	}

	f.Fuzz(func(t *testing.T, name string) {
		rel, err := cleanName(prefixes, name)
		if err != nil {
			if !errors.Is(err, fs.ErrPermission) {
				t.Fatalf("cleanName(%q) error %v wraps no TFTP error class", name, err)
			}
			return
		}
		if !filepath.IsLocal(rel) || filepath.Clean(rel) != rel || strings.ContainsRune(rel, 0) ||
			slices.Contains(strings.Split(filepath.ToSlash(rel), "/"), "..") {
			t.Fatalf("cleanName(%q) = %q: not a clean local path", name, rel)
		}
		if j := filepath.Join(fx.root, rel); !strings.HasPrefix(j, fx.root+string(filepath.Separator)) {
			t.Fatalf("cleanName(%q) = %q joins to %q, outside %q", name, rel, j, fx.root)
		}

		file, fi, err := openFile(root, rel)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
				t.Fatalf("openFile(%q) error %v wraps neither fs.ErrNotExist nor fs.ErrPermission", rel, err)
			}
			return
		}
		defer file.Close()
		if !fi.Mode().IsRegular() {
			t.Fatalf("openFile(%q) opened a %v", rel, fi.Mode().Type())
		}
		for _, bad := range forbidden {
			if os.SameFile(fi, bad) {
				t.Fatalf("name %q opened %s, outside the root", name, bad.Name())
			}
		}
		if runtime.GOOS == "linux" {
			p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", file.Fd()))
			if err == nil && !strings.HasPrefix(p, realRoot+"/") {
				t.Fatalf("name %q opened %s, outside %s", name, p, realRoot)
			}
		}
	})
}
