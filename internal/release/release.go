package release

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Provider is the provider's name in binaries, archives and addresses.
const Provider = "terraform-provider-strata"

// Source is the provider's registry address.
const Source = "registry.terraform.io/stratastack/strata"

// Platform is a GOOS/GOARCH pair.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "_" + p.Arch }

// CLI says whether the strata CLI ships for the platform: its boot server,
// lab and simulators are Unix programs, so Windows gets the provider only.
func (p Platform) CLI() bool { return p.OS != "windows" }

// Platforms are those a release is built for.
func Platforms() []Platform {
	var out []Platform
	for _, os := range []string{"linux", "darwin", "windows"} {
		for _, arch := range []string{"amd64", "arm64"} {
			out = append(out, Platform{os, arch})
		}
	}
	return out
}

// ParsePlatform reads "linux_amd64" or "linux/amd64".
func ParsePlatform(s string) (Platform, error) {
	os, arch, ok := strings.Cut(strings.ReplaceAll(s, "/", "_"), "_")
	if !ok || os == "" || arch == "" {
		return Platform{}, fmt.Errorf("platform %q: want OS_ARCH, e.g. linux_amd64", s)
	}
	return Platform{os, arch}, nil
}

// Options say what to build.
type Options struct {
	Root      string // the module's root (where VERSION and cmd/ are)
	Out       string // the folder the artifacts go to; emptied first
	Version   string // semantic version, without "v"
	Commit    string // stamped into the binaries
	Platforms []Platform
	// SignKey is the GPG key (fingerprint or user id) that signs
	// SHA256SUMS; empty leaves it unsigned. GNUPGHOME, when set in Env,
	// picks the keyring.
	SignKey string
	Env     []string // the environment go and gpg run in (os.Environ() from main)
	Logf    func(format string, args ...any)
}

// Artifacts are the files a Build made, by path.
type Artifacts struct {
	Dir      string
	Version  string
	Provider map[Platform]string // the provider's zip per platform
	CLI      map[Platform]string // the strata CLI's zip per platform
	Manifest string
	Sums     string
	Sig      string // "" when unsigned
}

// manifest is terraform-registry-manifest.json: protocol 6 only.
const manifest = `{
  "version": 1,
  "metadata": {
    "protocol_versions": ["6.0"]
  }
}
`

// Build cross-compiles the provider and the CLI for every platform and
// writes the release's files into o.Out.
func Build(ctx context.Context, o Options) (Artifacts, error) {
	if err := checkVersion(o.Version); err != nil {
		return Artifacts{}, err
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := os.RemoveAll(o.Out); err != nil {
		return Artifacts{}, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return Artifacts{}, err
	}
	a := Artifacts{Dir: o.Out, Version: o.Version, Provider: map[Platform]string{}, CLI: map[Platform]string{}}
	tmp := filepath.Join(o.Out, ".bin")
	defer os.RemoveAll(tmp)
	for _, p := range o.Platforms {
		exe := ""
		if p.OS == "windows" {
			exe = ".exe"
		}
		type binary struct {
			pkg, file, archive string
			into               map[Platform]string
		}
		bins := []binary{{"./cmd/terraform-provider-strata", Provider + "_v" + o.Version + exe, Provider + "_" + o.Version + "_" + p.String() + ".zip", a.Provider}}
		if p.CLI() {
			bins = append(bins, binary{"./cmd/strata", "strata", "strata_" + o.Version + "_" + p.String() + ".zip", a.CLI})
		}
		for _, b := range bins {
			bin := filepath.Join(tmp, p.String(), b.file)
			logf("build %s for %s", b.pkg, p)
			if err := goBuild(ctx, o, p, b.pkg, bin); err != nil {
				return a, err
			}
			zipPath := filepath.Join(o.Out, b.archive)
			if err := zipFiles(zipPath, bin, filepath.Join(o.Root, "README.md"), filepath.Join(o.Root, "CHANGELOG.md")); err != nil {
				return a, err
			}
			b.into[p] = zipPath
		}
	}
	a.Manifest = filepath.Join(o.Out, Provider+"_"+o.Version+"_manifest.json")
	if err := os.WriteFile(a.Manifest, []byte(manifest), 0o644); err != nil {
		return a, err
	}
	a.Sums = filepath.Join(o.Out, Provider+"_"+o.Version+"_SHA256SUMS")
	if err := writeSums(a.Sums, a.files()); err != nil {
		return a, err
	}
	if o.SignKey != "" {
		a.Sig = a.Sums + ".sig"
		cmd := exec.CommandContext(ctx, "gpg", "--batch", "--yes", "--local-user", o.SignKey, "--output", a.Sig, "--detach-sign", a.Sums)
		cmd.Env = o.Env
		if out, err := cmd.CombinedOutput(); err != nil {
			return a, fmt.Errorf("release: gpg --detach-sign with key %s: %w\n%s", o.SignKey, err, out)
		}
	}
	return a, nil
}

// files are the artifacts SHA256SUMS lists, sorted.
func (a Artifacts) files() []string {
	var out []string
	for _, m := range []map[Platform]string{a.Provider, a.CLI} {
		for _, f := range m {
			out = append(out, f)
		}
	}
	out = append(out, a.Manifest)
	slices.Sort(out)
	return out
}

// checkVersion accepts MAJOR.MINOR.PATCH with an optional -prerelease.
func checkVersion(v string) error {
	core, _, _ := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	ok := len(parts) == 3
	for _, p := range parts {
		ok = ok && p != "" && strings.Trim(p, "0123456789") == "" && (p == "0" || p[0] != '0')
	}
	if !ok {
		return fmt.Errorf("release: version %q is not MAJOR.MINOR.PATCH (no leading v)", v)
	}
	return nil
}

func goBuild(ctx context.Context, o Options, p Platform, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -X main.buildVersion="+o.Version+" -X main.buildCommit="+o.Commit, "-o", out, pkg)
	cmd.Dir = o.Root
	cmd.Env = append(slices.Clone(o.Env), "GOOS="+p.OS, "GOARCH="+p.Arch, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("release: go build %s for %s: %w\n%s", pkg, p, err, b)
	}
	return nil
}

// zipFiles writes a zip of files, each at the archive's top level; the
// first is the executable.
func zipFiles(path string, files ...string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	for i, name := range files {
		if err := addFile(zw, name, i == 0); err != nil {
			f.Close()
			return fmt.Errorf("release: %s: %w", path, err)
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func addFile(zw *zip.Writer, name string, executable bool) error {
	src, err := os.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	h, err := zip.FileInfoHeader(fi)
	if err != nil {
		return err
	}
	h.Method = zip.Deflate
	h.SetMode(0o644)
	if executable {
		h.SetMode(0o755)
	}
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, src)
	return err
}

// writeSums writes "HEX  NAME" lines, as sha256sum does.
func writeSums(path string, files []string) error {
	var b bytes.Buffer
	for _, f := range files {
		sum, err := fileSHA256(f)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, filepath.Base(f))
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
