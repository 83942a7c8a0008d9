package acceptance

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stratastack/strata/internal/release"
)

// The release tests build a release as `make release` does and install
// the provider the three ways a user can: from a network mirror over
// HTTPS, from Terraform's implied local mirror (make install), and — to
// prove the checks bite — not from a tampered zip.

// releaseVersion is the repository's VERSION.
func releaseVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// gpgKey makes a throw-away signing key in a keyring of its own and
// returns the environment gpg runs with and the key's user id; the
// agent gpg starts for it is stopped when the test ends.
func gpgKey(t *testing.T) ([]string, string) {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg is needed to sign releases (apt-get install gnupg)")
	}
	home, err := os.MkdirTemp("", "gpg-") // short: gpg-agent's socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GNUPGHOME="+home)
	t.Cleanup(func() {
		kill := exec.Command("gpgconf", "--kill", "gpg-agent")
		kill.Env = env
		_ = kill.Run()
		os.RemoveAll(home)
	})
	const uid = "Strata Release Test <release-test@strata.invalid>"
	gen := exec.Command("gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
	gen.Env = env
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("gpg --quick-gen-key: %v\n%s", err, out)
	}
	return env, uid
}

// releasePlatforms are the host's platform, or with
// STRATA_RELEASE_PLATFORMS=all every platform a release ships: cross
// builds from cold caches take over ten minutes on two cores, more than
// CI can spend; make release builds them all.
func releasePlatforms() []release.Platform {
	if os.Getenv("STRATA_RELEASE_PLATFORMS") == "all" {
		return release.Platforms()
	}
	return []release.Platform{{OS: runtime.GOOS, Arch: runtime.GOARCH}}
}

// buildRelease builds the platforms' artifacts, signed, into a
// temporary folder.
func buildRelease(t *testing.T, env []string, key string) release.Artifacts {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	commit, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	a, err := release.Build(t.Context(), release.Options{
		Root: root, Out: filepath.Join(t.TempDir(), "dist"), Version: releaseVersion(t), Commit: strings.TrimSpace(string(commit)),
		Platforms: releasePlatforms(), SignKey: key, Env: env, Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRelease: a release holds, for each platform (the host's; all six
// with STRATA_RELEASE_PLATFORMS=all), a provider zip with the binary Terraform looks for and,
// but on Windows, a strata zip; the protocol-6 manifest; SHA256SUMS matching every file
// and verifying against its signature; and the binaries report the
// version. Then the provider installs from a network mirror of it, and a
// tampered zip is refused.
func TestRelease(t *testing.T) {
	env, key := gpgKey(t)
	a := buildRelease(t, env, key)
	v := a.Version
	var names []string
	entries, err := os.ReadDir(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{release.Provider + "_" + v + "_SHA256SUMS", release.Provider + "_" + v + "_SHA256SUMS.sig", release.Provider + "_" + v + "_manifest.json"}
	for _, p := range releasePlatforms() {
		want = append(want, release.Provider+"_"+v+"_"+p.String()+".zip")
		if p.CLI() {
			want = append(want, "strata_"+v+"_"+p.String()+".zip")
		}
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("the release holds\n%v\nwant\n%v", names, want)
	}
	for p, z := range a.Provider {
		exe := release.Provider + "_v" + v
		if p.OS == "windows" {
			exe += ".exe"
		}
		zr, err := zip.OpenReader(z)
		if err != nil {
			t.Fatal(err)
		}
		if len(zr.File) == 0 || zr.File[0].Name != exe || zr.File[0].Mode().Perm()&0o100 == 0 {
			t.Errorf("%s: first file %v, want the executable %s", filepath.Base(z), zr.File[0].FileHeader, exe)
		}
		zr.Close()
	}
	var m struct {
		Version  int
		Metadata struct {
			ProtocolVersions []string `json:"protocol_versions"`
		}
	}
	if b, err := os.ReadFile(a.Manifest); err != nil || json.Unmarshal(b, &m) != nil || m.Version != 1 || !slices.Equal(m.Metadata.ProtocolVersions, []string{"6.0"}) {
		t.Errorf("manifest %+v (%v)", m, err)
	}
	b, err := os.ReadFile(a.Sums)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := release.ParseSums(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != len(want)-2 {
		t.Errorf("SHA256SUMS lists %d files, want %d (every archive and the manifest)", len(sums), len(want)-2)
	}
	check := exec.Command("sha256sum", "--check", "--strict", filepath.Base(a.Sums))
	check.Dir = a.Dir
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum --check: %v\n%s", err, out)
	}
	verify := exec.Command("gpg", "--batch", "--verify", a.Sig, a.Sums)
	verify.Env = env
	if out, err := verify.CombinedOutput(); err != nil {
		t.Errorf("gpg --verify: %v\n%s", err, out)
	}
	// A changed SHA256SUMS no longer verifies.
	forged := filepath.Join(t.TempDir(), "SHA256SUMS")
	if err := os.WriteFile(forged, bytes.Replace(b, []byte(" "), []byte("  "), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	verify = exec.Command("gpg", "--batch", "--verify", a.Sig, forged)
	verify.Env = env
	if err := verify.Run(); err == nil {
		t.Error("gpg verified a changed SHA256SUMS")
	}

	host := release.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	t.Run("version", func(t *testing.T) {
		dir := unzip(t, a.CLI[host])
		out, err := exec.Command(filepath.Join(dir, "strata"), "version").Output()
		if err != nil || !strings.HasPrefix(string(out), "strata "+v+" (commit ") || strings.Contains(string(out), "commit unknown") {
			t.Errorf("strata version = %q, %v", out, err)
		}
	})
	t.Run("network mirror", func(t *testing.T) {
		mirror := t.TempDir()
		if err := release.Mirror(a, mirror); err != nil {
			t.Fatal(err)
		}
		h1, err := release.Hash1(a.Provider[host])
		if err != nil {
			t.Fatal(err)
		}
		cli := serveMirror(t, mirror)
		dir := vsphereExample(t)
		if out, err := terraformIn(dir, cli, "init", "-input=false"); err != nil {
			t.Fatalf("terraform init from the mirror: %v\n%s", err, out)
		}
		lock, err := os.ReadFile(filepath.Join(dir, ".terraform.lock.hcl"))
		if err != nil || !strings.Contains(string(lock), `version     = "`+v+`"`) || !strings.Contains(string(lock), h1) {
			t.Fatalf("the lock file does not pin %s with %s (%v):\n%s", v, h1, err, lock)
		}
		applyDestroy(t, dir, cli)
	})
	t.Run("tampered zip", func(t *testing.T) {
		mirror := t.TempDir()
		if err := release.Mirror(a, mirror); err != nil {
			t.Fatal(err)
		}
		zipPath := filepath.Join(mirror, filepath.FromSlash(release.Source), filepath.Base(a.Provider[host]))
		tamper(t, zipPath)
		cli := serveMirror(t, mirror)
		dir := vsphereExample(t)
		out, err := terraformIn(dir, cli, "init", "-input=false")
		if err == nil {
			t.Fatalf("terraform init installed a tampered provider:\n%s", out)
		}
		if !strings.Contains(out, "checksum") && !strings.Contains(out, "hash") {
			t.Errorf("terraform init failed, but not on the checksum:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(dir, ".terraform.lock.hcl")); err == nil {
			t.Error("a lock file was written for the tampered provider")
		}
	})
}

// TestInstallLocalMirror: make install into an empty HOME puts the
// provider where terraform init finds it with no registry and no CLI
// configuration; the vSphere example then applies and destroys.
func TestInstallLocalMirror(t *testing.T) {
	home := t.TempDir()
	// HOME stays the test's for make (go's caches live under it); only
	// terraform runs with the empty one.
	install := exec.Command("make", "--no-print-directory", "install", "PLUGIN_DIR="+filepath.Join(home, ".terraform.d", "plugins"), "BINDIR="+filepath.Join(home, "bin"))
	install.Dir = ".."
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	cli := []string{"HOME=" + home, "TF_CLI_CONFIG_FILE=" + filepath.Join(home, "no-such-terraformrc")}
	dir := vsphereExample(t)
	if out, err := terraformIn(dir, cli, "init", "-input=false"); err != nil {
		t.Fatalf("terraform init from the implied local mirror: %v\n%s", err, out)
	}
	lock, err := os.ReadFile(filepath.Join(dir, ".terraform.lock.hcl"))
	if err != nil || !strings.Contains(string(lock), `version     = "`+releaseVersion(t)+`"`) {
		t.Fatalf("lock file (%v):\n%s", err, lock)
	}
	applyDestroy(t, dir, cli)
}

// vsphereExample copies examples/terraform/vsphere into a fresh folder.
func vsphereExample(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"main.tf", "mesos.strata.hcl"} {
		b, err := os.ReadFile(filepath.Join("..", "examples", "terraform", "vsphere", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// serveMirror serves dir over HTTPS on loopback and returns the
// environment that makes terraform install the provider from it only:
// a CLI configuration with a network_mirror, and the server's
// certificate as the one trusted root.
func serveMirror(t *testing.T, dir string) []string {
	t.Helper()
	srv := httptest.NewTLSServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	tmp := t.TempDir()
	ca := filepath.Join(tmp, "mirror.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, cert, 0o644); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(tmp, "terraformrc")
	conf := fmt.Sprintf("provider_installation {\n  network_mirror {\n    url = %q\n  }\n}\n", srv.URL+"/")
	if err := os.WriteFile(rc, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"TF_CLI_CONFIG_FILE=" + rc, "SSL_CERT_FILE=" + ca, "HOME=" + tmp}
}

// terraformIn runs terraform in dir with env laid over the test's.
func terraformIn(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("terraform", append([]string{"-chdir=" + dir}, args...)...)
	cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_CLI_ARGS=-no-color")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// applyDestroy applies the vSphere example on a fresh simulator with the
// installed provider (a separate process, as users run it) and destroys.
func applyDestroy(t *testing.T, dir string, env []string) {
	t.Helper()
	sim := startSim(t)
	env = append(slices.Clone(env), "VSPHERE_SERVER="+sim.URL(), "VSPHERE_USER="+sim.User(), "VSPHERE_PASSWORD="+sim.Password(), "VSPHERE_ALLOW_UNVERIFIED_SSL=true", "TF_VAR_agents=2")
	if out, err := terraformIn(dir, env, "apply", "-auto-approve", "-input=false"); err != nil {
		t.Fatalf("terraform apply: %v\n%s", err, out)
	}
	if vms, err := stackVMs(t.Context(), sim, "mesos-demo"); err != nil || len(vms) != 5 {
		t.Errorf("after apply the simulator holds %d of the stack's VMs (%v), want 5", len(vms), err)
	}
	if out, err := terraformIn(dir, env, "destroy", "-auto-approve", "-input=false"); err != nil {
		t.Fatalf("terraform destroy: %v\n%s", err, out)
	}
	if vms, err := stackVMs(t.Context(), sim, "mesos-demo"); err != nil || len(vms) != 0 {
		t.Errorf("after destroy the simulator holds %d of the stack's VMs (%v)", len(vms), err)
	}
}

// unzip extracts a zip into a temporary folder.
func unzip(t *testing.T, path string) string {
	t.Helper()
	dir := t.TempDir()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b := new(bytes.Buffer)
		_, err = b.ReadFrom(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), b.Bytes(), f.Mode()); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tamper rewrites a zip with one byte of its executable changed: still a
// valid zip, no longer the released provider.
func tamper(t *testing.T, path string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for i, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b := new(bytes.Buffer)
		_, _ = b.ReadFrom(r)
		r.Close()
		data := b.Bytes()
		if i == 0 {
			data[len(data)-1] ^= 0xff
		}
		h := f.FileHeader
		w, err := zw.CreateHeader(&h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(data)
	}
	zr.Close()
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
