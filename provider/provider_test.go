package provider

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/stratastack/strata/internal/catalog"
	"github.com/stratastack/strata/provisioners/fakesub"
	"github.com/stratastack/strata/provisioners/openstack"
	"github.com/stratastack/strata/provisioners/vsphere"
)

// TestProviderSchema asks the provider for its schema the way Terraform
// does; the framework validates every schema on the way.
func TestProviderSchema(t *testing.T) {
	srv, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("%s: %s: %s", d.Severity, d.Summary, d.Detail)
	}
	if _, ok := resp.ResourceSchemas["strata_stack"]; !ok {
		t.Errorf("no strata_stack resource; have %v", resp.ResourceSchemas)
	}
	if _, ok := resp.DataSourceSchemas["strata_bootstrap"]; !ok {
		t.Errorf("no strata_bootstrap data source; have %v", resp.DataSourceSchemas)
	}
	sensitive := map[string]bool{}
	for _, b := range resp.Provider.Block.BlockTypes {
		for _, a := range b.Block.Attributes {
			if a.Sensitive {
				sensitive[b.TypeName+"."+a.Name] = true
			}
		}
	}
	for _, want := range []string{"vsphere.password", "openstack.password", "baremetal.token"} {
		if !sensitive[want] {
			t.Errorf("%s is not sensitive", want)
		}
	}
}

func TestResolveFallsBackToTheEnvironment(t *testing.T) {
	env := map[string]string{
		"VSPHERE_SERVER": "vc.example", "VSPHERE_USER": "env-user", "VSPHERE_PASSWORD": "env-pass",
		"VSPHERE_ALLOW_UNVERIFIED_SSL": "true",
		"OS_CLOUD":                     "devstack", "OS_TENANT_NAME": "legacy", "OS_DOMAIN_NAME": "Default",
		"AWS_DEFAULT_REGION": "eu-west-1", "AWS_PROFILE": "lab",
		"STRATA_BOOT_SERVER": "http://10.0.0.2:8080", "STRATA_BOOT_TOKEN": "tok",
	}
	getenv := func(k string) string { return env[k] }
	got, problems := resolve(catalog.Kinds(), map[string]map[string]string{"vsphere": {"user": "explicit"}}, getenv)
	if len(problems) > 0 {
		t.Fatalf("problems: %+v", problems)
	}
	if v, want := vsphere.ConfigFrom(got.env["vsphere"]), (vsphere.Config{Server: "vc.example", User: "explicit", Password: "env-pass", Insecure: true}); v != want {
		t.Errorf("vsphere %+v, want %+v", v, want)
	}
	if o, want := openstack.ConfigFrom(got.env["openstack"]), (openstack.Config{Cloud: "devstack", ProjectName: "legacy", UserDomainName: "Default", ProjectDomainName: "Default"}); !reflect.DeepEqual(o, want) {
		t.Errorf("openstack %s, want %s", o, want)
	}
	if a, want := got.env["aws"].Settings, (map[string]string{"region": "eu-west-1", "profile": "lab", "role_arn": ""}); !reflect.DeepEqual(a, want) {
		t.Errorf("aws %v, want %v", a, want)
	}
	if b, want := got.env["baremetal"].Settings, (map[string]string{"boot_server": "http://10.0.0.2:8080", "token": "tok"}); !reflect.DeepEqual(b, want) {
		t.Errorf("baremetal %v, want %v", b, want)
	}
	// BMC passwords are read from the environment when a BMC is used.
	r := &machineResource{client: &client{settings: got}}
	env["IPMI_PW"] = "calvin"
	if pw, err := r.bmcPasswords()("r1n1", "IPMI_PW"); err != nil || pw != "calvin" {
		t.Fatalf("bmc password: %q %v", pw, err)
	}
	if _, err := r.bmcPasswords()("r1n1", ""); err == nil || !strings.Contains(err.Error(), "STRATA_BMC_PASSWORD") {
		t.Fatalf("missing bmc password: %v", err)
	}

	// An explicit false beats the environment's true.
	got, _ = resolve(catalog.Kinds(), map[string]map[string]string{"vsphere": {"allow_unverified_ssl": "false"}}, getenv)
	if vsphere.ConfigFrom(got.env["vsphere"]).Insecure {
		t.Fatalf("got %+v", got.env["vsphere"])
	}
}

// blockValues reads what a provider block wrote; an unknown value defers
// the kind's checks to apply.
func TestBlockValues(t *testing.T) {
	types3 := map[string]attr.Type{"server": types.StringType, "user": types.StringType, "allow_unverified_ssl": types.BoolType}
	cases := []struct {
		name        string
		block       types.Object
		want        map[string]string
		wantUnknown bool
	}{
		{"no block", types.ObjectNull(types3), map[string]string{}, false},
		{"written", types.ObjectValueMust(types3, map[string]attr.Value{
			"server": types.StringValue("vc"), "user": types.StringNull(), "allow_unverified_ssl": types.BoolValue(false),
		}), map[string]string{"server": "vc", "allow_unverified_ssl": "false"}, false},
		{"unknown", types.ObjectValueMust(types3, map[string]attr.Value{
			"server": types.StringUnknown(), "user": types.StringValue("u"), "allow_unverified_ssl": types.BoolNull(),
		}), map[string]string{"user": "u"}, true},
	}
	for _, c := range cases {
		got, unknown := blockValues(c.block)
		if !reflect.DeepEqual(got, c.want) || unknown != c.wantUnknown {
			t.Errorf("%s: %v %v, want %v %v", c.name, got, unknown, c.want, c.wantUnknown)
		}
	}
}

// The openstack block wins over the OS_* environment, which fills the rest
// (clouds.yaml's location and the application credential included).
func TestResolveOpenStackBlockWins(t *testing.T) {
	env := map[string]string{
		"OS_CLOUD": "env-cloud", "OS_CLIENT_CONFIG_FILE": "/etc/my-clouds.yaml", "OS_PASSWORD": "env-pass",
		"OS_REGION_NAME": "EnvRegion", "OS_APPLICATION_CREDENTIAL_SECRET": "s", "HOME": "/home/u", "OS_INSECURE": "1",
	}
	written := map[string]map[string]string{"openstack": {"cloud": "block-cloud", "password": "block-pass", "insecure": "false"}}
	got, problems := resolve(catalog.Kinds(), written, func(k string) string { return env[k] })
	if len(problems) > 0 {
		t.Fatalf("problems: %+v", problems)
	}
	want := openstack.Config{
		Cloud: "block-cloud", CloudsFile: "/etc/my-clouds.yaml", HomeDir: "/home/u", Password: "block-pass",
		Region: "EnvRegion", ApplicationCredentialSecret: "s",
	}
	if o := openstack.ConfigFrom(got.env["openstack"]); !reflect.DeepEqual(o, want) {
		t.Fatalf("resolved %s, want %s", o, want)
	}
}

func TestResolveRejectsABadBoolean(t *testing.T) {
	_, problems := resolve(catalog.Kinds(), nil, func(k string) string {
		if k == "VSPHERE_ALLOW_UNVERIFIED_SSL" {
			return "sometimes"
		}
		return ""
	})
	if len(problems) != 1 || !strings.Contains(problems[0].detail, `VSPHERE_ALLOW_UNVERIFIED_SSL="sometimes" is not a boolean`) ||
		!problems[0].path.Equal(path.Root("vsphere").AtName("allow_unverified_ssl")) {
		t.Fatalf("problems: %+v", problems)
	}
}

func TestProviderRejectsZeroParallelism(t *testing.T) {
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProvider(fakesub.New()),
		Steps: []resource.TestStep{{
			Config: `
provider "strata" {
  parallelism = 0
}

data "strata_bootstrap" "x" {
  source = "stack {\n  name = \"x\"\n}\n"
  node   = "p/0"
}`,
			ExpectError: wrapped(`Invalid parallelism`, `parallelism must be at least 1, got 0.`),
		}},
	})
}
