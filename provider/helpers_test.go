package provider

import (
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/stratastack/strata/provisioners/fakesub"
)

// testProvider is the provider with its substrates served by mem, an
// in-memory vsphere substrate: the provider's own tests check what it
// does with the engine's results (plans, state, diagnostics) without a
// simulator. The real substrate is tested end to end under acceptance/.
func testProvider(mem *fakesub.Substrate) map[string]func() (tfprotov6.ProviderServer, error) {
	p := &StrataProvider{version: "test", open: mem.Open}
	return map[string]func() (tfprotov6.ProviderServer, error){"strata": providerserver.NewProtocol6WithError(p)}
}

var errBadLogin = errors.New("vsphere: login to https://vc.example/sdk as \"u\" failed: wrong user name or password")

// errDatastoreFull is how the substrate fails to create machine name.
func errDatastoreFull(name string) error { return fmt.Errorf("clone %s: the datastore is full", name) }

// errLocked is how the substrate fails to delete machine name.
func errLocked(name string) error {
	return fmt.Errorf("destroy %s: the VM is locked by another task", name)
}
