package acceptance

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	gopenstack "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

// The OpenStack tests run against the real control plane that
// acceptance/openstack/up.sh brings up on 127.0.0.1 (make test does, and
// sets STRATA_REQUIRE_OPENSTACK so that a missing cloud fails rather than
// skips). They inspect it as admin with gophercloud directly, not through
// strata: admin is the one who sees a server's user_data.

// osDir is where up.sh keeps the cloud's clouds.yaml and openrc files.
func osDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("STRATA_OPENSTACK_DIR")
	if dir == "" {
		dir = "/tmp/strata-openstack"
	}
	if _, err := os.Stat(filepath.Join(dir, "clouds.yaml")); err != nil {
		msg := "no OpenStack test cloud at " + dir + ": bring it up with `bash acceptance/openstack/up.sh` (make test does)"
		if os.Getenv("STRATA_REQUIRE_OPENSTACK") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

// useCloud points strata (the in-process provider, and CLI runs given
// os.Environ()) at the test cloud's clouds.yaml. Other OS_* variables
// would override its entries, so they are cleared for the test.
func useCloud(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OS_") {
			t.Setenv(k, "")
		}
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", filepath.Join(osDir(t), "clouds.yaml"))
}

// admin is a compute client of the test cloud's admin, from its openrc.
func admin(t *testing.T) *gophercloud.ServiceClient {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(osDir(t), "admin-openrc"))
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]string{}
	for line := range strings.Lines(string(b)) {
		for _, f := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "export ")) {
			if k, val, ok := strings.Cut(f, "="); ok {
				v[k] = val
			}
		}
	}
	ctx := context.Background()
	pc, err := gopenstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
		IdentityEndpoint: v["OS_AUTH_URL"], Username: v["OS_USERNAME"], Password: v["OS_PASSWORD"],
		DomainName: v["OS_USER_DOMAIN_NAME"], TenantName: v["OS_PROJECT_NAME"],
	})
	if err != nil {
		t.Fatalf("admin login to the test cloud: %v", err)
	}
	c, err := gopenstack.NewComputeV2(pc, gophercloud.EndpointOpts{Region: v["OS_REGION_NAME"]})
	if err != nil {
		t.Fatal(err)
	}
	c.Microversion = "2.64" // server groups with their policy
	return c
}

// osServer is a server as admin sees it.
type osServer struct {
	servers.Server
	UserData string
}

// adminFields are what servers.Server does not decode. They are decoded on
// their own: servers.Server's UnmarshalJSON, promoted into a struct that
// embeds it, would drop them.
type adminFields struct {
	ID       string `json:"id"`
	UserData string `json:"OS-EXT-SRV-ATTR:user_data"`
}

func (s osServer) userData() ([]byte, error) { return base64.StdEncoding.DecodeString(s.UserData) }

// stackServers lists, across projects, the servers tagged for stack, by
// name; a name held twice is an error.
func stackServers(ctx context.Context, c *gophercloud.ServiceClient, stack string) (map[string]osServer, error) {
	pages, err := servers.List(c, servers.ListOpts{AllTenants: true}).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	all, err := servers.ExtractServers(pages)
	if err != nil {
		return nil, err
	}
	var extra []adminFields
	if err := servers.ExtractServersInto(pages, &extra); err != nil {
		return nil, err
	}
	userData := map[string]string{}
	for _, x := range extra {
		userData[x.ID] = x.UserData
	}
	out := map[string]osServer{}
	for _, srv := range all {
		s := osServer{Server: srv, UserData: userData[srv.ID]}
		if s.Metadata["strata:stack"] != stack {
			continue
		}
		if prev, dup := out[s.Name]; dup {
			return nil, fmt.Errorf("two servers are named %s: %s and %s", s.Name, prev.ID, s.ID)
		}
		out[s.Name] = s
	}
	return out, nil
}

// stackGroups are the server groups, across projects, whose name carries
// the stack's.
func stackGroups(ctx context.Context, c *gophercloud.ServiceClient, stack string) ([]servergroups.ServerGroup, error) {
	pages, err := servergroups.List(c, servergroups.ListOpts{AllProjects: true}).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	all, err := servergroups.ExtractServerGroups(pages)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(g servergroups.ServerGroup) bool { return !strings.Contains(g.Name, "-"+stack+"-") }), nil
}
