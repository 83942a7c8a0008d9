package acceptance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const bootToken = "acceptance-token-0123456789"

// bootServer starts `strata boot serve` on loopback ports with dataDir and
// returns its HTTP base URL and TFTP address; it stops when the test ends.
func bootServer(t *testing.T, dataDir, tftpRoot, assets string) (string, string, func()) {
	t.Helper()
	cmd := exec.Command(bin, "boot", "serve", "-data", dataDir, "-http", "127.0.0.1:0",
		"-tftp", "127.0.0.1:0", "-tftp-root", tftpRoot, "-assets", assets)
	cmd.Env = append(os.Environ(), "STRATA_BOOT_TOKEN="+bootToken)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	addrs := map[string]string{}
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(20*time.Second, stop)
	for len(addrs) < 3 && sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok {
			addrs[k] = v
		}
	}
	deadline.Stop()
	if addrs["public"] == "" || addrs["tftp"] == "" {
		t.Fatalf("boot server did not report its addresses: %v\n%s", addrs, logs.String())
	}
	go io.Copy(io.Discard, out)
	return addrs["public"], addrs["tftp"], stop
}

func api(t *testing.T, method, url string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, url, r)
	req.Header.Set("Authorization", "Bearer "+bootToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBootServe drives `strata boot serve` as one process: a machine is
// registered through the API, its iPXE chain and user-data are served by
// HTTP, the iPXE binary by TFTP (curl as the client), and a restart of the
// server keeps the machine and its boot progress.
func TestBootServe(t *testing.T) {
	data, root, assets := t.TempDir(), t.TempDir(), t.TempDir()
	ipxe := make([]byte, 300_000)
	rand.Read(ipxe)
	if err := os.WriteFile(filepath.Join(root, "undionly.kpxe"), ipxe, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(assets, "vmlinuz"), []byte("kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	base, tftpAddr, stop := bootServer(t, data, root, assets)

	userData := "#cloud-config\nhostname: r1n1\n"
	if code, b := api(t, "PUT", base+"/api/v1/profiles/mesos-agent", map[string]any{
		"kernel": "vmlinuz", "cmdline": "console=ttyS0", "user_data": userData}); code/100 != 2 {
		t.Fatalf("PUT profile: %d %s", code, b)
	}
	if code, b := api(t, "POST", base+"/api/v1/machines", map[string]any{
		"name": "r1n1", "mac": "52:54:00:00:00:01", "profile": "mesos-agent", "tags": map[string]string{"strata:stack": "lab"}}); code != 201 {
		t.Fatalf("POST machine: %d %s", code, b)
	}
	if code, _ := get(t, base+"/api/v1/machines"); code != 401 {
		t.Fatalf("API without a token answered %d", code)
	}

	code, script := get(t, base+"/boot.ipxe?mac=52:54:00:00:00:01")
	chain := regexp.MustCompile(`(?m)^chain (\S+)`).FindStringSubmatch(script)
	if code != 200 || chain == nil {
		t.Fatalf("boot.ipxe: %d\n%s", code, script)
	}
	code, own := get(t, chain[1])
	seed := regexp.MustCompile(`ds=nocloud-net;s=(\S+)`).FindStringSubmatch(own)
	if code != 200 || seed == nil || !strings.Contains(own, "console=ttyS0") {
		t.Fatalf("machine script: %d\n%s", code, own)
	}
	if code, ud := get(t, seed[1]+"user-data"); code != 200 || ud != userData {
		t.Fatalf("user-data: %d %q", code, ud)
	}

	out, err := exec.Command("curl", "-sS", "--tftp-blksize", "1468", "-o", filepath.Join(t.TempDir(), "got"), "-w", "%{size_download}",
		fmt.Sprintf("tftp://%s/undionly.kpxe", tftpAddr)).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != fmt.Sprint(len(ipxe)) {
		t.Fatalf("curl over TFTP: %v %s", err, out)
	}

	// Restart: the inventory keeps the machine and where its boot got to.
	stop()
	oldBase := base
	base, _, _ = bootServer(t, data, root, assets)
	code, b := api(t, "GET", base+"/api/v1/machines/r1n1", nil)
	var m struct {
		State string `json:"state"`
		MAC   string `json:"mac"`
	}
	if code != 200 || json.Unmarshal(b, &m) != nil || m.State != "script-fetched" || m.MAC != "52:54:00:00:00:01" {
		t.Fatalf("after restart: %d %s", code, b)
	}
	// The new process has a new port; the token in the path still works.
	if code, ud := get(t, strings.Replace(seed[1], oldBase, base, 1)+"user-data"); code != 200 || ud != userData {
		t.Fatalf("user-data after restart: %d %q", code, ud)
	}
}
