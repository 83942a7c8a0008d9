// Package netnstest gives a test its own network namespace.
package netnstest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"

	"github.com/stratastack/strata/provisioners/baremetal/netns"
)

// Scratch creates a namespace for one test and deletes it when the test
// ends, pass or fail (everything in it goes too). It skips the test when
// namespaces cannot be made: not root, or no ip command.
func Scratch(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (Debian's iproute2)")
	}
	name := fmt.Sprintf("strata-t%d-%d", os.Getpid(), seq.Add(1))
	if err := netns.Add(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := netns.Delete(context.Background(), name); err != nil {
			t.Error(err)
		}
	})
	return name
}

// seq tells apart the namespaces of one test process.
var seq atomic.Int64
