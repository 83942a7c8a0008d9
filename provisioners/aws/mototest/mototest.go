package mototest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// URLEnv carries the server's address from Main to the tests (and lets a
// run point them at a moto_server it started itself).
const URLEnv = "STRATA_MOTO_URL"

// validation turns on moto's checks, which are off by default: without
// them any AMI, key pair or instance type would be accepted.
var validation = []string{
	"MOTO_ENABLE_AMI_VALIDATION=true",
	"MOTO_ENABLE_KEYPAIR_VALIDATION=true",
	"MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION=true",
}

// Main starts moto_server (when there is one and URLEnv is unset), runs
// the tests and stops the server by its PID. Use it as
// `func TestMain(m *testing.M) { os.Exit(mototest.Main(m)) }`.
func Main(m *testing.M) int {
	if os.Getenv(URLEnv) != "" {
		return m.Run()
	}
	srv, err := Start(context.Background())
	if err != nil {
		// Endpoint reports it, test by test (skip or fail).
		os.Setenv(URLEnv, "unavailable: "+err.Error())
		return m.Run()
	}
	defer srv.Stop()
	os.Setenv(URLEnv, srv.URL)
	return m.Run()
}

// Endpoint is the moto server's URL, reset to a clean state. Without a
// server it skips the test, or fails it when STRATA_REQUIRE_AWS is set.
func Endpoint(t testing.TB) string {
	t.Helper()
	u := os.Getenv(URLEnv)
	if u == "" || !isURL(u) {
		msg := "no moto_server for the aws tests (" + u + "); moto 5 provides it (`pip install 'moto[server]'`), or set " + URLEnv + " to a running one"
		if u == "" {
			msg = "no moto_server: the test binary's TestMain must call mototest.Main"
		}
		if os.Getenv("STRATA_REQUIRE_AWS") != "" {
			t.Fatal(msg + " (STRATA_REQUIRE_AWS is set)")
		}
		t.Skip(msg)
	}
	if err := Reset(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func isURL(s string) bool { return len(s) > 7 && s[:7] == "http://" }

// Reset clears everything the server holds.
func Reset(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("mototest: reset %s: %w", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mototest: reset %s: HTTP %d", url, resp.StatusCode)
	}
	return nil
}

// Server is a moto_server process.
type Server struct {
	URL string
	cmd *exec.Cmd
}

// Start runs moto_server, with its validation of AMIs, key pairs and
// instance types on, on a free loopback port and waits until it answers.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, errors.New("moto_server is not installed")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), validation...)
	if os.Getenv("STRATA_MOTO_LOG") == "" {
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	} else {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	orphanProof(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	s := &Server{cmd: cmd, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if Reset(ctx, s.URL) == nil {
			return s, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("moto_server on port %d did not answer in 30 s", port)
}

// Stop ends the process by its PID and reaps it.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// freePort asks the kernel for a loopback port nobody listens on. Another
// process could take it before moto binds it; then start fails clearly.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
