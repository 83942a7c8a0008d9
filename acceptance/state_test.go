package acceptance

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratastack/strata/internal/pgstate"
	"github.com/stratastack/strata/internal/pgstate/pgtest"
)

// The shared state backend, as CI runners use it: strata against a real
// PostgreSQL (pgtest) and the vSphere simulator, from separate processes.

const stateKey = "acceptance state key"

// pgEnv is the simulator's environment with the PostgreSQL backend.
func pgEnv(t *testing.T) (env []string, url string, names func() []string) {
	t.Helper()
	url = pgtest.Start(t)
	s, e := simEnv(t)
	env = append(e, "STRATA_STATE="+url, "STRATA_STATE_KEY="+stateKey)
	return env, url, func() []string {
		got := vmNames(t, s, "cli-")
		slices.Sort(got)
		return got
	}
}

// killMidApply runs strata with args in dir and SIGKILLs it, as when a
// runner dies, once names lists n machines.
func killMidApply(t *testing.T, dir string, env []string, names func() []string, n int, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); len(names()) < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("strata %v made %v in 30 s:\n%s", args, names(), out.String())
		}
	}
}

// stackDir is a folder holding the CLI test stack.
func stackDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.strata.hcl"), []byte(cliStack), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestStateKilledRunner: a runner killed mid-apply holds no lock (its
// session ended with it); the next runner, in another folder with no
// .strata, adopts what exists and ends with exactly the machines asked
// for; two runs at once take turns.
func TestStateKilledRunner(t *testing.T) {
	env, _, names := pgEnv(t)
	killMidApply(t, stackDir(t), env, names, 3, "up", "s.strata.hcl", "-parallelism", "1")
	made := len(names())
	if made >= 8 {
		t.Fatalf("the first run finished (%d VMs) before it was killed; the test wants it halfway", made)
	}
	// A second runner elsewhere, with a short lock timeout: the dead
	// runner's lock must already be gone.
	second, code := strataIn(t, stackDir(t), env, "up", "s.strata.hcl", "-lock-timeout", "10s")
	if code != 0 {
		t.Fatalf("the second run: exit %d\n%s", code, second)
	}
	want := []string{"cli-infra-0", "cli-infra-1", "cli-infra-2", "cli-infra-3", "cli-infra-4", "cli-infra-5", "cli-infra-6", "cli-infra-7"}
	if got := names(); !slices.Equal(got, want) {
		t.Fatalf("after the second run: %v, want %v", got, want)
	}

	// Two runs at once: both succeed, one after the other.
	var wg sync.WaitGroup
	outs, codes := make([]string, 2), make([]int, 2)
	for i := range 2 {
		wg.Go(func() { outs[i], codes[i] = strataIn(t, stackDir(t), env, "up", "s.strata.hcl", "-var", "agents=2") })
	}
	wg.Wait()
	for i := range 2 {
		if codes[i] != 0 {
			t.Fatalf("concurrent run %d: exit %d\n%s", i, codes[i], outs[i])
		}
	}
	if got := names(); len(got) != 5 {
		t.Fatalf("after two runs of 5 machines: %v", got)
	}
	if out, code := strataIn(t, stackDir(t), env, "down", "s.strata.hcl"); code != 0 || len(names()) != 0 {
		t.Fatalf("down: exit %d, left %v\n%s", code, names(), out)
	}
}

// TestStateSealedAndMigrated: the seed is in neither the database nor any
// output in clear; a wrong STRATA_STATE_KEY fails before anything is
// touched; strata state migrate moves a stack brought up with local files
// into the database, from where it is taken down.
func TestStateSealedAndMigrated(t *testing.T) {
	env, url, names := pgEnv(t)
	local := stackDir(t)
	fileEnv := slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "STRATA_STATE=") })
	if out, code := strataIn(t, local, fileEnv, "up", "s.strata.hcl", "-var", "agents=1", "-ttl", "2h"); code != 0 {
		t.Fatalf("up with local files: exit %d\n%s", code, out)
	}
	out, code := strataIn(t, local, env, "state", "migrate", "-from", ".strata", "-to", url)
	if code != 0 || !strings.Contains(out, `Migrated stack "cli" (4 machines)`) {
		t.Fatalf("state migrate: exit %d\n%s", code, out)
	}
	seedFile, err := os.ReadFile(filepath.Join(local, ".strata", "cli.seed"))
	if err != nil {
		t.Fatal(err)
	}
	seed := strings.TrimSpace(string(seedFile))
	b, err := pgstate.Open(t.Context(), url, stateKey)
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := b.Load(t.Context(), "cli")
	b.Close()
	if err != nil || got.Hex() != seed {
		t.Fatalf("the migrated seed differs (%v)", err)
	}
	dump, err := exec.Command("pg_dump", "--data-only", url).CombinedOutput()
	if err != nil {
		dump, err = pgDump(url)
	}
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, dump)
	}
	if bytes.Contains(dump, []byte(seed)) || !bytes.Contains(dump, []byte("strata_stacks")) {
		t.Fatal("the database holds the seed in clear (or pg_dump saw no strata_stacks)")
	}

	elsewhere := stackDir(t)
	status, code := strataIn(t, elsewhere, env, "status")
	if code != 0 || !strings.Contains(status, "cli") || strings.Contains(status, seed) {
		t.Fatalf("status from the database: exit %d\n%s", code, status)
	}
	wrong := append(slices.Clone(env), "STRATA_STATE_KEY=not the key")
	before := names()
	out, code = strataIn(t, elsewhere, wrong, "up", "s.strata.hcl", "-var", "agents=3")
	if code == 0 || !strings.Contains(out, "STRATA_STATE_KEY does not open") || strings.Contains(out, seed) {
		t.Fatalf("up with a wrong key: exit %d\n%s", code, out)
	}
	if after := names(); !slices.Equal(before, after) {
		t.Fatalf("a wrong key changed the machines: %v -> %v", before, after)
	}
	if out, code := strataIn(t, elsewhere, env, "down", "s.strata.hcl", "-var", "agents=1"); code != 0 || len(names()) != 0 {
		t.Fatalf("down from the database: exit %d, left %v\n%s", code, names(), out)
	}
}

// pgDump runs Debian's pg_dump from its versioned folder.
func pgDump(url string) ([]byte, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	if len(found) == 0 {
		return nil, exec.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return exec.CommandContext(ctx, found[len(found)-1], "--data-only", url).CombinedOutput()
}

// TestStateJanitor: a runner that dies mid-apply of a stack with a TTL
// leaves a record; once the TTL runs out, `strata down -expired` on
// another runner — another folder, no .strata, not even the stack file —
// removes every machine, from the source the record keeps.
func TestStateJanitor(t *testing.T) {
	env, _, names := pgEnv(t)
	dir := stackDir(t)
	varFile := filepath.Join(dir, "ci.tfvars")
	if err := os.WriteFile(varFile, []byte("agents = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	killMidApply(t, dir, env, names, 2, "up", "s.strata.hcl", "-var-file", "ci.tfvars", "-ttl", "2s", "-parallelism", "1")
	if err := os.RemoveAll(dir); err != nil { // the runner is gone, and its workspace
		t.Fatal(err)
	}
	if n := len(names()); n == 0 || n >= 5 {
		t.Fatalf("the job left %d machines; the test wants it halfway", n)
	}
	janitor := t.TempDir()
	out, code := strataIn(t, janitor, env, "down", "-expired")
	if code != 0 || !strings.Contains(out, "No expired stacks recorded.") {
		t.Fatalf("janitor before the TTL ran out: exit %d\n%s", code, out)
	}
	time.Sleep(2500 * time.Millisecond)
	out, code = strataIn(t, janitor, env, "down", "-expired")
	if code != 0 || !strings.Contains(out, `Stack "cli" expired at`) || !strings.Contains(out, `Stack "cli" is down`) {
		t.Fatalf("janitor: exit %d\n%s", code, out)
	}
	if left := names(); len(left) != 0 {
		t.Fatalf("the janitor left %v\n%s", left, out)
	}
	if out, _ := strataIn(t, janitor, env, "status"); strings.Contains(out, "cli ") {
		t.Errorf("the stack is still recorded:\n%s", out)
	}
}
