package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Dir is where iproute2 keeps its namespace handles.
const Dir = "/run/netns"

// Exists reports whether the named namespace exists.
func Exists(name string) bool {
	_, err := os.Stat(filepath.Join(Dir, name))
	return err == nil
}

// Add creates the named namespace and brings its loopback up.
func Add(ctx context.Context, name string) error {
	if err := IP(ctx, "", "netns", "add", name); err != nil {
		return err
	}
	return IP(ctx, name, "link", "set", "lo", "up")
}

// Delete removes the named namespace; every interface in it goes with it
// (a veth's peer too). A namespace that does not exist is not an error.
func Delete(ctx context.Context, name string) error {
	if !Exists(name) {
		return nil
	}
	return IP(ctx, "", "netns", "delete", name)
}

// IP runs `ip ARGS...`, inside the named namespace when ns is not "".
// The error carries ip's own message.
func IP(ctx context.Context, ns string, args ...string) error {
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	cmd := exec.CommandContext(ctx, "ip", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return errors.New("the ip command is missing: install Debian's iproute2")
		}
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Command returns a command that runs argv inside the named namespace.
func Command(ctx context.Context, ns string, argv ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...)
}

// Do runs fn on an OS thread moved into the named namespace, then moves the
// thread back. Sockets fn opens stay in the namespace after Do returns.
func Do(name string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	home, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	defer home.Close()
	if err := enter(name); err != nil {
		return err
	}
	ferr := fn()
	if err := setns(int(home.Fd())); err != nil {
		// The thread cannot go home: keep it locked so Go discards it
		// when this goroutine ends, rather than reuse it elsewhere.
		runtime.LockOSThread()
		return errors.Join(ferr, fmt.Errorf("netns: returning from %s: %w", name, err))
	}
	return ferr
}

// Go runs fn in a new goroutine whose OS thread is in the named namespace
// for all of fn, for long-running servers. The thread is never reused: Go
// ends a thread whose goroutine exits while locked to it. The returned
// channel gets fn's error (or the error entering the namespace).
func Go(name string, fn func() error) <-chan error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: see above
		if err := enter(name); err != nil {
			done <- err
			return
		}
		done <- fn()
	}()
	return done
}

func enter(name string) error {
	f, err := os.Open(filepath.Join(Dir, name))
	if err != nil {
		return fmt.Errorf("netns: namespace %q: %w", name, err)
	}
	defer f.Close()
	if err := setns(int(f.Fd())); err != nil {
		return fmt.Errorf("netns: entering %q (needs root or CAP_SYS_ADMIN): %w", name, err)
	}
	return nil
}
