package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/vsphere"
	"github.com/stratastack/strata/stacks"
)

// memory is an in-memory vsphere substrate for the provider's own tests:
// they check what the provider does with the engine's results (plans,
// state, diagnostics) without a simulator. The real substrate is tested
// end to end under acceptance/.
type memory struct {
	mu       sync.Mutex
	vms      map[string]provisioners.Instance
	userData map[string][]byte
	next     int
	// openErr, when set, fails Open (bad credentials, a missing template).
	openErr error
	// failCreate names a machine whose create fails for good.
	failCreate string
	// failDelete names a machine whose delete fails for good.
	failDelete string
	opens      int
}

func newMemory() *memory {
	return &memory{vms: map[string]provisioners.Instance{}, userData: map[string][]byte{}}
}

func (m *memory) Spec() provisioners.Spec { return vsphere.Spec() }

func (m *memory) Create(ctx context.Context, mc provisioners.Machine) (provisioners.Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mc.Name == m.failCreate {
		return provisioners.Instance{}, fmt.Errorf("clone %s: the datastore is full", mc.Name)
	}
	m.next++
	in := provisioners.Instance{ID: fmt.Sprintf("vm-%d", m.next), Name: mc.Name, Tags: maps.Clone(mc.Tags), State: "pending"}
	m.vms[in.ID] = in
	m.userData[mc.Name] = mc.UserData
	return in, nil
}

func (m *memory) Ready(ctx context.Context, id string) (provisioners.Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	in, ok := m.vms[id]
	if !ok {
		return in, fmt.Errorf("%s is gone", id)
	}
	var n int
	fmt.Sscanf(id, "vm-%d", &n)
	in.State, in.Addresses = "running", []string{fmt.Sprintf("10.0.%d.%d", n/250, n%250+1)}
	m.vms[id] = in
	return in, nil
}

func (m *memory) Read(ctx context.Context, id string) (provisioners.Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	in, ok := m.vms[id]
	if !ok {
		return provisioners.Instance{ID: id, State: "gone"}, nil
	}
	return in, nil
}

func (m *memory) Delete(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if in, ok := m.vms[id]; ok {
		if in.Name == m.failDelete {
			return fmt.Errorf("destroy %s: the VM is locked by another task", in.Name)
		}
		delete(m.userData, in.Name)
	}
	delete(m.vms, id)
	return nil
}

func (m *memory) List(ctx context.Context, tags map[string]string) ([]provisioners.Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []provisioners.Instance
	for _, in := range m.vms {
		match := true
		for k, v := range tags {
			match = match && in.Tags[k] == v
		}
		if match {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// names lists the machines that exist, sorted.
func (m *memory) names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, in := range m.vms {
		out = append(out, in.Name)
	}
	sort.Strings(out)
	return out
}

// ids maps machine names to ids.
func (m *memory) ids() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for id, in := range m.vms {
		out[in.Name] = id
	}
	return out
}

// testProvider is the provider with its vsphere kind served by mem.
func testProvider(mem *memory) map[string]func() (tfprotov6.ProviderServer, error) {
	kinds := builtinKinds()
	kinds["vsphere"] = substrateKind{open: func(ctx context.Context, _ *settings, _ *stacks.Substrate) (provisioners.Provisioner, error) {
		mem.mu.Lock()
		defer mem.mu.Unlock()
		mem.opens++
		if mem.openErr != nil {
			return nil, mem.openErr
		}
		return mem, nil
	}}
	p := &StrataProvider{version: "test", kinds: kinds}
	return map[string]func() (tfprotov6.ProviderServer, error){"strata": providerserver.NewProtocol6WithError(p)}
}

var errBadLogin = errors.New("vsphere: login to https://vc.example/sdk as \"u\" failed: wrong user name or password")
