package acceptance

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	gopenstack "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"sigs.k8s.io/yaml"

	"github.com/stratastack/strata/provisioners/openstack/cloudtest"
)

// The OpenStack tests run against the real control plane that
// acceptance/openstack/up.sh brings up on 127.0.0.1 (make test does, and
// sets STRATA_REQUIRE_OPENSTACK so that a missing cloud fails rather than
// skips). They inspect it as admin with gophercloud directly, not through
// strata: admin is the one who sees a server's user_data.

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
	t.Setenv("OS_CLIENT_CONFIG_FILE", filepath.Join(cloudtest.Dir(t), "clouds.yaml"))
}

// admin is a compute client of the test cloud's admin, from its openrc.
func admin(t *testing.T) *gophercloud.ServiceClient {
	t.Helper()
	c, _ := adminClients(t)
	return c
}

// adminClients are the test cloud admin's compute and identity clients.
func adminClients(t *testing.T) (compute, identity *gophercloud.ServiceClient) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cloudtest.Dir(t), "admin-openrc"))
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
	id, err := gopenstack.NewIdentityV3(pc, gophercloud.EndpointOpts{Region: v["OS_REGION_NAME"]})
	if err != nil {
		t.Fatal(err)
	}
	return c, id
}

// quotaCloud makes a project of its own for one test, with room for
// instances servers, the strata user a member of it, and a clouds.yaml
// entry named after it (in a copy of the test cloud's clouds.yaml that
// OS_CLIENT_CONFIG_FILE then points at). Quota tests sharing a project
// would count each other's servers.
func quotaCloud(t *testing.T, name string, instances int) {
	t.Helper()
	ctx := context.Background()
	compute, identity := adminClients(t)
	proj, err := projects.Create(ctx, identity, projects.CreateOpts{Name: name, DomainID: "default", Description: "strata acceptance: " + t.Name()}).Extract()
	if err != nil {
		t.Fatalf("creating project %s: %v", name, err)
	}
	t.Cleanup(func() { projects.Delete(context.Background(), identity, proj.ID) })
	userID, roleID := "", ""
	if err := users.List(identity, users.ListOpts{Name: "strata"}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		us, err := users.ExtractUsers(p)
		if len(us) > 0 {
			userID = us[0].ID
		}
		return false, err
	}); err != nil || userID == "" {
		t.Fatalf("finding user strata: %v", err)
	}
	if err := roles.List(identity, roles.ListOpts{Name: "member"}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		rs, err := roles.ExtractRoles(p)
		if len(rs) > 0 {
			roleID = rs[0].ID
		}
		return false, err
	}); err != nil || roleID == "" {
		t.Fatalf("finding role member: %v", err)
	}
	if err := roles.Assign(ctx, identity, roleID, roles.AssignOpts{UserID: userID, ProjectID: proj.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := quotasets.Update(ctx, compute, proj.ID, quotasets.UpdateOpts{Instances: &instances}).Extract(); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(cloudtest.Dir(t), "clouds.yaml")
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Clouds map[string]map[string]any `json:"clouds"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	entry := maps.Clone(doc.Clouds["strata"])
	auth := maps.Clone(entry["auth"].(map[string]any))
	auth["project_name"] = name
	entry["auth"] = auth
	doc.Clouds[name] = entry
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := os.WriteFile(f, out, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", f)
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
