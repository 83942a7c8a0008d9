package netns_test

import (
	"net"
	"testing"

	"github.com/stratastack/strata/provisioners/baremetal/netns"
	"github.com/stratastack/strata/provisioners/baremetal/netns/netnstest"
)

func TestAddDoDelete(t *testing.T) {
	ns := netnstest.Scratch(t)
	if !netns.Exists(ns) {
		t.Fatalf("%s does not exist after Add", ns)
	}
	if err := netns.IP(t.Context(), ns, "link", "add", "dummy0", "type", "bridge"); err != nil {
		t.Fatal(err)
	}
	// Inside, dummy0 exists; here, after Do, it does not.
	var inside bool
	if err := netns.Do(ns, func() error {
		_, err := net.InterfaceByName("dummy0")
		inside = err == nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !inside {
		t.Error("dummy0 not visible inside the namespace")
	}
	if _, err := net.InterfaceByName("dummy0"); err == nil {
		t.Error("dummy0 visible outside the namespace: Do did not move the thread back")
	}
	got := make(chan bool, 1)
	if err := <-netns.Go(ns, func() error {
		_, err := net.InterfaceByName("dummy0")
		got <- err == nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !<-got {
		t.Error("Go did not run inside the namespace")
	}
	if out, err := netns.Command(t.Context(), ns, "ip", "link", "show", "dummy0").CombinedOutput(); err != nil {
		t.Errorf("Command: %v: %s", err, out)
	}
}

func TestErrors(t *testing.T) {
	if err := netns.Do("strata-no-such-ns", func() error { return nil }); err == nil {
		t.Error("Do in a missing namespace succeeded")
	}
	if err := netns.Delete(t.Context(), "strata-no-such-ns"); err != nil {
		t.Errorf("Delete of a missing namespace: %v", err)
	}
}
