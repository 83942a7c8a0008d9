package openstack

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want Config
	}{
		{"openrc", map[string]string{
			"OS_AUTH_URL": "http://k:5000/v3", "OS_USERNAME": "u", "OS_PASSWORD": "p", "OS_PROJECT_NAME": "pr", "OS_PROJECT_ID": "pid",
			"OS_USER_DOMAIN_NAME": "ud", "OS_PROJECT_DOMAIN_NAME": "pd", "OS_DOMAIN_NAME": "ignored", "OS_REGION_NAME": "R",
			"OS_INTERFACE": "internal", "OS_CACERT": "/ca.pem", "OS_INSECURE": "true", "HOME": "/home/u", "XDG_CONFIG_HOME": "/xdg",
		}, Config{
			AuthURL: "http://k:5000/v3", Username: "u", Password: "p", ProjectName: "pr", ProjectID: "pid",
			UserDomainName: "ud", ProjectDomainName: "pd", Region: "R", Interface: "internal", CACert: "/ca.pem", Insecure: true,
			HomeDir: "/home/u", ConfigHome: "/xdg",
		}},
		{"cloud", map[string]string{"OS_CLOUD": "c", "OS_CLIENT_CONFIG_FILE": "/etc/c.yaml"}, Config{Cloud: "c", CloudsFile: "/etc/c.yaml"}},
		{"legacy tenant, one domain for both", map[string]string{"OS_TENANT_NAME": "t", "OS_TENANT_ID": "tid", "OS_DOMAIN_NAME": "D", "OS_INSECURE": "no"},
			Config{ProjectName: "t", ProjectID: "tid", UserDomainName: "D", ProjectDomainName: "D"}},
		{"application credential", map[string]string{"OS_APPLICATION_CREDENTIAL_ID": "id", "OS_APPLICATION_CREDENTIAL_NAME": "n", "OS_APPLICATION_CREDENTIAL_SECRET": "s", "OS_USER_ID": "uid"},
			Config{ApplicationCredentialID: "id", ApplicationCredentialName: "n", ApplicationCredentialSecret: "s", UserID: "uid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestWithAccess(t *testing.T) {
	env := Config{
		Cloud: "mine", CloudsFile: "/c.yaml", AuthURL: "http://env:5000/v3", Username: "envuser", Password: "envpass",
		ProjectName: "envproj", ProjectID: "envpid", ApplicationCredentialSecret: "s", Region: "EnvRegion",
		Interface: "internal", CACert: "/ca.pem", Insecure: true, ReadyTimeout: 7,
	}
	for _, tc := range []struct {
		name   string
		access map[string]string
		want   Config
	}{
		{"none keeps the config", nil, env},
		{"a region alone overrides only it", map[string]string{"region": "R2"}, func() Config { c := env; c.Region = "R2"; return c }()},
		{"an endpoint replaces the identity", map[string]string{
			"auth_url": "https://layer:5000/v3", "username": "admin", "password": "derived", "project_name": "admin",
			"user_domain_name": "Default", "project_domain_name": "Default", "region": "RegionOne",
		}, Config{
			CloudsFile: "/c.yaml", AuthURL: "https://layer:5000/v3", Username: "admin", Password: "derived", ProjectName: "admin",
			UserDomainName: "Default", ProjectDomainName: "Default", Region: "RegionOne", CACert: "/ca.pem", Insecure: true, ReadyTimeout: 7,
		}},
		{"a cloud replaces the identity", map[string]string{"cloud": "layer", "region": "RegionOne"},
			Config{Cloud: "layer", CloudsFile: "/c.yaml", Region: "RegionOne", CACert: "/ca.pem", Insecure: true, ReadyTimeout: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := env.WithAccess(tc.access); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestConfigStringHidesSecrets(t *testing.T) {
	c := Config{Username: "u", Password: "hunter2", ApplicationCredentialSecret: "s3cr3t"}
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "s3cr3t") || !strings.Contains(s, `Username:"u"`) {
			t.Errorf("%s", s)
		}
	}
}

// writeFile writes content to dir/name, making dir.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func cloudsYAML(names ...string) string {
	s := "clouds:\n"
	for _, n := range names {
		s += fmt.Sprintf("  %s:\n    auth:\n      auth_url: http://%s:5000/v3\n      username: u\n      password: p\n      project_name: pr\n", n, n)
	}
	return s
}

func TestCloudsSearch(t *testing.T) {
	root := t.TempDir()
	cwd := filepath.Join(root, "cwd")
	home := filepath.Join(root, "home")
	xdg := filepath.Join(root, "xdg")
	writeFile(t, filepath.Join(home, ".config", "openstack"), "clouds.yaml", cloudsYAML("home", "both"))
	writeFile(t, filepath.Join(xdg, "openstack"), "clouds.yaml", cloudsYAML("xdg"))
	explicit := writeFile(t, filepath.Join(root, "elsewhere"), "my-clouds.yaml", cloudsYAML("explicit"))
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(cwd)

	for _, tc := range []struct {
		name    string
		cfg     Config
		cloud   string
		wantURL string
		wantErr string
	}{
		{"home", Config{HomeDir: home}, "home", "http://home:5000/v3", ""},
		{"XDG_CONFIG_HOME replaces ~/.config", Config{HomeDir: home, ConfigHome: xdg}, "xdg", "http://xdg:5000/v3", ""},
		{"only the first file found counts", Config{HomeDir: home, ConfigHome: xdg}, "home", "", `cloud "home" is not in ` + filepath.Join(xdg, "openstack", "clouds.yaml") + "; its clouds: xdg"},
		{"explicit file", Config{HomeDir: home, CloudsFile: explicit}, "explicit", "http://explicit:5000/v3", ""},
		{"explicit file missing", Config{CloudsFile: filepath.Join(root, "nope.yaml")}, "x", "", "clouds file " + filepath.Join(root, "nope.yaml") + " (OS_CLIENT_CONFIG_FILE) does not exist"},
		{"nothing found", Config{HomeDir: filepath.Join(root, "empty")}, "x", "", `cloud "x": no clouds.yaml found (looked for clouds.yaml, clouds.yml, ` + filepath.Join(root, "empty", ".config", "openstack", "clouds.yaml")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _, err := findCloud(tc.cfg, tc.cloud)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case e.Auth.AuthURL != tc.wantURL:
				t.Errorf("auth_url %q, want %q", e.Auth.AuthURL, tc.wantURL)
			}
		})
	}

	// The current directory comes first.
	writeFile(t, cwd, "clouds.yaml", cloudsYAML("cwd"))
	if e, file, err := findCloud(Config{HomeDir: home}, "cwd"); err != nil || e.Auth.AuthURL != "http://cwd:5000/v3" || file != "clouds.yaml" {
		t.Errorf("cwd: %+v %q %v", e, file, err)
	}
	if _, _, err := findCloud(Config{HomeDir: home}, "home"); err == nil || !strings.Contains(err.Error(), "its clouds: cwd") {
		t.Errorf("cwd shadows home: %v", err)
	}
}

func TestCloudsEntries(t *testing.T) {
	dir := t.TempDir()
	clouds := writeFile(t, dir, "clouds.yaml", `
clouds:
  pw:
    auth:
      auth_url: https://keystone.example:5000/v3
      username: alice
      project_name: web
      user_domain_name: Users
      project_domain_id: p-dom
    region_name: RegionTwo
    interface: internal
    identity_api_version: 3
    verify: false
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example:5000/v3
      application_credential_id: ac-id
    regions:
      - name: North
      - South
  domain:
    auth:
      auth_url: https://keystone.example:5000/v3
      username: bob
      password: from-clouds
      project_name: ops
      domain_name: Corp
    cacert: /etc/ssl/corp.pem
  v2:
    identity_api_version: 2
    auth: {auth_url: "https://old:5000/v2.0", username: u, password: p, project_name: x}
  token:
    auth_type: v3token
    auth: {auth_url: "https://k:5000/v3", token: abc}
  nopass:
    auth: {auth_url: "https://k:5000/v3", username: carol, project_name: x}
  mixed:
    auth: {auth_url: "https://k:5000/v3", username: dave, password: p, project_name: x, user_domain_id: u-dom, domain_name: Corp}
`)
	writeFile(t, dir, "secure.yaml", `
clouds:
  pw:
    auth:
      password: from-secure
  appcred:
    auth:
      application_credential_secret: ac-secret
  domain:
    auth:
      password: secure-wins
`)
	cfg := Config{CloudsFile: clouds}
	for _, tc := range []struct {
		cloud   string
		cfg     Config
		sub     substrateSettings
		check   func(a auth) bool
		wantErr string
	}{
		{cloud: "pw", check: func(a auth) bool {
			return a.password == "from-secure" && a.username == "alice" && a.project == "web" && a.userDomainName == "Users" &&
				a.projectDomainID == "p-dom" && a.region == "RegionTwo" && a.iface == "internal" && a.insecure && !a.usesAppCred()
		}},
		{cloud: "appcred", check: func(a auth) bool {
			return a.usesAppCred() && a.appCredID == "ac-id" && a.appCredSecret == "ac-secret" && a.region == "North"
		}},
		{cloud: "domain", check: func(a auth) bool {
			return a.password == "secure-wins" && a.userDomainName == "Corp" && a.projectDomainName == "Corp" && a.caCert == "/etc/ssl/corp.pem" && !a.insecure
		}},
		// Precedence: the substrate block, then Config fields, then clouds.yaml.
		{cloud: "pw", cfg: Config{Region: "FromConfig", Password: "explicit", ProjectID: "pid"}, sub: substrateSettings{region: "FromBlock", authURL: "https://block:5000/v3"},
			check: func(a auth) bool {
				return a.region == "FromBlock" && a.password == "explicit" && a.authURL == "https://block:5000/v3" && a.projectID == "pid" && a.project == ""
			}},
		// A block naming its cloud is reached as that entry says alone: the
		// front end's cloud and identity (an openrc of another) do not mix in.
		{cloud: "appcred", cfg: Config{Username: "mallory", Password: "other-cloud", ProjectID: "pid"}, sub: substrateSettings{cloud: "pw"},
			check: func(a auth) bool {
				return a.username == "alice" && a.password == "from-secure" && a.project == "web" && a.projectID == "" && !a.usesAppCred()
			}},
		{cloud: "pw", sub: substrateSettings{region: "FromBlock"}, check: func(a auth) bool { return a.region == "FromBlock" }},
		{cloud: "domain", cfg: Config{UserDomainName: "Other"}, check: func(a auth) bool {
			return a.userDomainName == "Other" && a.userDomainID == "" && a.projectDomainName == "Corp"
		}},
		{cloud: "mixed", check: func(a auth) bool {
			return a.userDomainID == "u-dom" && a.userDomainName == "" && a.projectDomainName == "Corp" && a.projectDomainID == ""
		}},
		{cloud: "v2", wantErr: `clouds.yaml entry "v2" asks for identity_api_version 2: only Keystone v3 is supported`},
		{cloud: "token", wantErr: `clouds.yaml entry "token" uses auth_type "v3token"`},
		{cloud: "nopass", wantErr: `no password for user "carol" in project "x" at https://k:5000/v3`},
		{cloud: "missing", wantErr: `cloud "missing" is not in ` + clouds + "; its clouds: appcred, domain, mixed, nopass, pw, token, v2"},
	} {
		t.Run(tc.cloud, func(t *testing.T) {
			c := tc.cfg
			c.CloudsFile, c.Cloud = cfg.CloudsFile, tc.cloud
			a, err := resolve(c, tc.sub)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(a) {
				t.Errorf("resolved %+v", a)
			}
		})
	}

	// The substrate block's cloud is used when the Config names none.
	if a, err := resolve(Config{CloudsFile: clouds}, substrateSettings{cloud: "appcred"}); err != nil || a.appCredID != "ac-id" {
		t.Errorf("block cloud: %+v %v", a, err)
	}
}

func TestResolveErrorsHideSecrets(t *testing.T) {
	const secret = "pa55-w0rd-x"
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Password: secret}, "no auth_url (Keystone): set cloud"},
		{Config{AuthURL: "http://k/v3", Password: secret}, "no user for http://k/v3"},
		{Config{AuthURL: "http://k/v3", Username: "u", Password: secret}, `no project for user "u" at http://k/v3`},
		{Config{AuthURL: "http://k/v3", ApplicationCredentialID: "ac"}, `application credential "ac" has no secret`},
		{Config{AuthURL: "http://k/v3", ApplicationCredentialName: "n", ApplicationCredentialSecret: secret}, `application credential "n" is named, not given by id, so it needs the user`},
		{Config{AuthURL: "http://k/v3", Username: "u", Password: secret, ProjectName: "p", Interface: "private"}, `interface "private" is not one of public, internal, admin`},
	} {
		_, err := resolve(tc.cfg, substrateSettings{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: %v, want %q without the secret", tc.cfg, err, tc.want)
		}
	}
}

func TestAuthOptions(t *testing.T) {
	a := auth{authURL: "http://k/v3", username: "u", password: "p", project: "pr"}
	ao := a.options()
	if ao.DomainID != "default" || ao.Scope == nil || ao.Scope.ProjectName != "pr" || ao.Scope.DomainID != "default" || !ao.AllowReauth {
		t.Errorf("defaults: %+v scope %+v", ao, ao.Scope)
	}
	a = auth{authURL: "http://k/v3", appCredID: "id", appCredSecret: "s", username: "ignored"}
	ao = a.options()
	if ao.ApplicationCredentialID != "id" || ao.Scope != nil || ao.Username != "" || ao.Password != "" {
		t.Errorf("appcred: %+v", ao)
	}
	a = auth{authURL: "http://k/v3", appCredName: "n", appCredSecret: "s", username: "u", userDomainName: "D"}
	ao = a.options()
	if ao.ApplicationCredentialName != "n" || ao.Username != "u" || ao.DomainName != "D" {
		t.Errorf("named appcred: %+v", ao)
	}
}
