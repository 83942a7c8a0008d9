package provider

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/stratastack/strata/provisioners/fakesub"
	"github.com/stratastack/strata/provisioners/openstack"
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
	m := providerModel{VSphere: &vsphereModel{User: types.StringValue("explicit")}}
	got, problems := resolve(m, func(k string) string { return env[k] })
	if len(problems) > 0 {
		t.Fatalf("problems: %+v", problems)
	}
	want := settings{
		VSphere:   vsphereSettings{Server: "vc.example", User: "explicit", Password: "env-pass", Insecure: true},
		OpenStack: openstackSettings{Config: openstack.Config{Cloud: "devstack", ProjectName: "legacy", UserDomainName: "Default", ProjectDomainName: "Default"}},
		AWS:       awsSettings{Region: "eu-west-1", Profile: "lab"},
		BareMetal: baremetalSettings{BootServer: "http://10.0.0.2:8080", Token: "tok"},
	}
	// BMC passwords are read from the environment when a BMC is used.
	env["IPMI_PW"] = "calvin"
	if pw, err := got.bmcPasswords("r1n1", "IPMI_PW"); err != nil || pw != "calvin" {
		t.Fatalf("bmc password: %q %v", pw, err)
	}
	if _, err := got.bmcPasswords("r1n1", ""); err == nil || !strings.Contains(err.Error(), "STRATA_BMC_PASSWORD") {
		t.Fatalf("missing bmc password: %v", err)
	}
	got.bmcPasswords = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("resolved\n%+v\nwant\n%+v", got, want)
	}

	// An explicit false beats the environment's true; an unknown value
	// defers the kind's checks to apply.
	m = providerModel{VSphere: &vsphereModel{AllowUnverifiedSSL: types.BoolValue(false), Server: types.StringUnknown()}}
	got, _ = resolve(m, func(k string) string { return env[k] })
	if got.VSphere.Insecure || !got.VSphere.Unknown || got.OpenStack.Unknown {
		t.Fatalf("got %+v", got.VSphere)
	}
}

// The openstack block wins over the OS_* environment, which fills the rest
// (clouds.yaml's location and the application credential included).
func TestResolveOpenStackBlockWins(t *testing.T) {
	env := map[string]string{
		"OS_CLOUD": "env-cloud", "OS_CLIENT_CONFIG_FILE": "/etc/my-clouds.yaml", "OS_PASSWORD": "env-pass",
		"OS_REGION_NAME": "EnvRegion", "OS_APPLICATION_CREDENTIAL_SECRET": "s", "HOME": "/home/u", "OS_INSECURE": "1",
	}
	m := providerModel{OpenStack: &openstackModel{
		Cloud: types.StringValue("block-cloud"), Password: types.StringValue("block-pass"), Insecure: types.BoolValue(false),
		Region: types.StringNull(),
	}}
	got, problems := resolve(m, func(k string) string { return env[k] })
	if len(problems) > 0 {
		t.Fatalf("problems: %+v", problems)
	}
	want := openstack.Config{
		Cloud: "block-cloud", CloudsFile: "/etc/my-clouds.yaml", HomeDir: "/home/u", Password: "block-pass",
		Region: "EnvRegion", ApplicationCredentialSecret: "s",
	}
	if !reflect.DeepEqual(got.OpenStack.Config, want) || got.OpenStack.Unknown {
		t.Fatalf("resolved %s, want %s", got.OpenStack.Config, want)
	}
	if got.connectConfig().OpenStack.Password != "block-pass" {
		t.Error("connectConfig drops the openstack settings")
	}
}

func TestResolveRejectsABadBoolean(t *testing.T) {
	_, problems := resolve(providerModel{}, func(k string) string {
		if k == "VSPHERE_ALLOW_UNVERIFIED_SSL" {
			return "sometimes"
		}
		return ""
	})
	if len(problems) != 1 || !strings.Contains(problems[0].detail, `VSPHERE_ALLOW_UNVERIFIED_SSL="sometimes" is not a boolean`) {
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
