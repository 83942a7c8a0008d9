package openstack

import (
	"cmp"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Config is how to reach an OpenStack cloud, as a front end gives it:
// provider settings, the environment (ConfigFromEnv), or the credentials
// of a cloud an openstack layer made (WithAccess). Every field is
// optional; see the package documentation for how the fields, the
// substrate block and clouds.yaml combine.
type Config struct {
	// Cloud names a clouds.yaml entry (OS_CLOUD).
	Cloud string
	// CloudsFile is an explicit clouds.yaml path (OS_CLIENT_CONFIG_FILE);
	// it replaces the search, and secure.yaml is read from beside it.
	CloudsFile string
	// HomeDir and ConfigHome ($HOME and $XDG_CONFIG_HOME) locate the
	// per-user clouds.yaml; empty ones are skipped.
	HomeDir, ConfigHome string

	AuthURL                     string // Keystone, e.g. https://keystone.example:5000/v3
	Username, UserID            string
	Password                    string
	ProjectName, ProjectID      string
	UserDomainName              string // defaults to the domain with id "default"
	ProjectDomainName           string // defaults to the domain with id "default"
	ApplicationCredentialID     string
	ApplicationCredentialName   string // needs Username or UserID with it
	ApplicationCredentialSecret string

	Region    string
	Interface string // public (default), internal or admin
	Insecure  bool   // skip TLS verification (lab clouds); true wins over clouds.yaml's verify
	CACert    string // PEM bundle to trust, a file path

	// ReadyTimeout bounds Ready's wait for ACTIVE; 0 means 10 minutes.
	ReadyTimeout time.Duration
	// DeleteTimeout bounds Delete's wait until a server is gone; 0 means
	// 5 minutes.
	DeleteTimeout time.Duration
	// HTTPClient, when set, carries every request as it is (its TLS
	// settings win over Insecure and CACert); else a client of our own.
	HTTPClient *http.Client
}

// String shows the settings without secrets, so a Config that ends up in
// a log or an error leaks nothing.
func (c Config) String() string {
	redact := func(s string) string {
		if s == "" {
			return `""`
		}
		return "(set)"
	}
	return fmt.Sprintf("openstack.Config{Cloud:%q CloudsFile:%q AuthURL:%q Username:%q UserID:%q Password:%s ProjectName:%q ProjectID:%q UserDomainName:%q ProjectDomainName:%q ApplicationCredentialID:%q ApplicationCredentialName:%q ApplicationCredentialSecret:%s Region:%q Interface:%q Insecure:%t CACert:%q}",
		c.Cloud, c.CloudsFile, c.AuthURL, c.Username, c.UserID, redact(c.Password), c.ProjectName, c.ProjectID,
		c.UserDomainName, c.ProjectDomainName, c.ApplicationCredentialID, c.ApplicationCredentialName,
		redact(c.ApplicationCredentialSecret), c.Region, c.Interface, c.Insecure, c.CACert)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// ConfigFromEnv reads the variables the OpenStack CLI reads. getenv is
// os.Getenv in a main; the package itself never reads the environment.
func ConfigFromEnv(getenv func(string) string) Config {
	domain := getenv("OS_DOMAIN_NAME") // the default for both domains, as openstacksdk has it
	insecure, _ := strconv.ParseBool(getenv("OS_INSECURE"))
	return Config{
		Cloud:                       getenv("OS_CLOUD"),
		CloudsFile:                  getenv("OS_CLIENT_CONFIG_FILE"),
		HomeDir:                     getenv("HOME"),
		ConfigHome:                  getenv("XDG_CONFIG_HOME"),
		AuthURL:                     getenv("OS_AUTH_URL"),
		Username:                    getenv("OS_USERNAME"),
		UserID:                      getenv("OS_USER_ID"),
		Password:                    getenv("OS_PASSWORD"),
		ProjectName:                 cmp.Or(getenv("OS_PROJECT_NAME"), getenv("OS_TENANT_NAME")),
		ProjectID:                   cmp.Or(getenv("OS_PROJECT_ID"), getenv("OS_TENANT_ID")),
		UserDomainName:              cmp.Or(getenv("OS_USER_DOMAIN_NAME"), domain),
		ProjectDomainName:           cmp.Or(getenv("OS_PROJECT_DOMAIN_NAME"), domain),
		ApplicationCredentialID:     getenv("OS_APPLICATION_CREDENTIAL_ID"),
		ApplicationCredentialName:   getenv("OS_APPLICATION_CREDENTIAL_NAME"),
		ApplicationCredentialSecret: getenv("OS_APPLICATION_CREDENTIAL_SECRET"),
		Region:                      getenv("OS_REGION_NAME"),
		Interface:                   getenv("OS_INTERFACE"),
		Insecure:                    insecure,
		CACert:                      getenv("OS_CACERT"),
	}
}

// WithAccess returns c with the credentials of a cloud a layer became
// (stacks.Substrate.Access) laid over it: every key set in a wins. A map
// naming auth_url or cloud describes a cloud of its own, so c's identity
// settings (from the environment, say) are dropped first and cannot mix
// with it; transport settings (CA, TLS, timeouts, the HTTP client, where
// clouds.yaml is) are kept.
func (c Config) WithAccess(a map[string]string) Config {
	if len(a) == 0 {
		return c
	}
	if a["auth_url"] != "" || a["cloud"] != "" {
		c.Cloud, c.AuthURL, c.Username, c.UserID, c.Password = "", "", "", "", ""
		c.ProjectName, c.ProjectID, c.UserDomainName, c.ProjectDomainName = "", "", "", ""
		c.ApplicationCredentialID, c.ApplicationCredentialName, c.ApplicationCredentialSecret = "", "", ""
		c.Region, c.Interface = "", ""
	}
	set := func(dst *string, key string) {
		if v := a[key]; v != "" {
			*dst = v
		}
	}
	set(&c.AuthURL, "auth_url")
	set(&c.Username, "username")
	set(&c.Password, "password")
	set(&c.ProjectName, "project_name")
	set(&c.UserDomainName, "user_domain_name")
	set(&c.ProjectDomainName, "project_domain_name")
	set(&c.Region, "region")
	set(&c.Cloud, "cloud")
	return c
}

// auth is the outcome of combining Config, the substrate block and a
// clouds.yaml entry: everything Open needs.
type auth struct {
	authURL                               string
	username                              string
	userID                                string
	password                              string
	project                               string // name
	projectID                             string
	userDomainName, userDomainID          string
	projectDomainName, projectDomainID    string
	appCredID, appCredName, appCredSecret string
	region                                string
	iface                                 string
	insecure                              bool
	caCert                                string
	clientCert, clientKey                 string
}

// usesAppCred reports whether to log in with an application credential:
// one is named and its secret is known.
func (a auth) usesAppCred() bool {
	return a.appCredSecret != "" && (a.appCredID != "" || a.appCredName != "")
}

// who names the identity for messages (never a secret).
func (a auth) who() string {
	if a.usesAppCred() {
		return "application credential " + quoteOr(cmp.Or(a.appCredID, a.appCredName), "")
	}
	s := "user " + quoteOr(cmp.Or(a.username, a.userID), "(none)")
	if p := cmp.Or(a.project, a.projectID); p != "" {
		s += " in project " + strconv.Quote(p)
	}
	return s
}

// domain picks one domain, by name or by id (Keystone takes one of the
// two): the Config's name, else clouds.yaml's user_/project_domain_id or
// _name, else its domain_id or domain_name, the defaults for both.
func domain(explicit, name, id, anyName, anyID string) (string, string) {
	switch {
	case explicit != "":
		return explicit, ""
	case id != "":
		return "", id
	case name != "":
		return name, ""
	case anyID != "":
		return "", anyID
	}
	return anyName, ""
}

func quoteOr(s, none string) string {
	if s == "" {
		return none
	}
	return strconv.Quote(s)
}

// resolve combines the settings, the more specific first: the substrate
// block's cloud, auth_url and region, then the Config (provider block or
// environment), then the clouds.yaml entry. A block that names a cloud is
// reached as that entry says alone: the Config's identity (a sourced
// openrc for another cloud, say) must not mix with it.
func resolve(c Config, sub substrateSettings) (auth, error) {
	if sub.cloud != "" {
		c = c.WithAccess(map[string]string{"cloud": sub.cloud})
	}
	c.AuthURL = cmp.Or(sub.authURL, c.AuthURL)
	c.Region = cmp.Or(sub.region, c.Region)
	name := c.Cloud
	var e cloudEntry
	var file string
	if name != "" {
		var err error
		e, file, err = findCloud(c, name)
		if err != nil {
			return auth{}, err
		}
	}
	ea := e.Auth
	a := auth{
		authURL:       cmp.Or(c.AuthURL, ea.AuthURL),
		username:      cmp.Or(c.Username, ea.Username),
		userID:        cmp.Or(c.UserID, ea.UserID),
		password:      cmp.Or(c.Password, ea.Password),
		project:       cmp.Or(c.ProjectName, ea.ProjectName, ea.TenantName),
		projectID:     cmp.Or(c.ProjectID, ea.ProjectID, ea.TenantID),
		appCredID:     cmp.Or(c.ApplicationCredentialID, ea.ApplicationCredentialID),
		appCredName:   cmp.Or(c.ApplicationCredentialName, ea.ApplicationCredentialName),
		appCredSecret: cmp.Or(c.ApplicationCredentialSecret, ea.ApplicationCredentialSecret),
		region:        cmp.Or(c.Region, e.region()),
		iface:         cmp.Or(c.Interface, e.Interface, e.EndpointType),
		insecure:      c.Insecure || (e.Verify != nil && !*e.Verify),
		caCert:        cmp.Or(c.CACert, e.CACert),
		clientCert:    e.Cert,
		clientKey:     e.Key,
	}
	a.userDomainName, a.userDomainID = domain(c.UserDomainName, ea.UserDomainName, ea.UserDomainID, ea.DomainName, ea.DomainID)
	a.projectDomainName, a.projectDomainID = domain(c.ProjectDomainName, ea.ProjectDomainName, ea.ProjectDomainID, ea.DomainName, ea.DomainID)
	// A project named explicitly beats an id from clouds.yaml, and the
	// other way round: drop the lower level's other half.
	if c.ProjectName != "" && c.ProjectID == "" {
		a.projectID = ""
	}
	if c.ProjectID != "" && c.ProjectName == "" {
		a.project = ""
	}

	from := "set cloud (a clouds.yaml entry) or auth_url in the substrate block, OS_CLOUD or OS_AUTH_URL, or the provider's openstack block"
	if name != "" {
		from = fmt.Sprintf("clouds.yaml entry %q in %s sets no auth.auth_url", name, file)
	}
	switch {
	case a.authURL == "":
		return a, fmt.Errorf("openstack: no auth_url (Keystone): %s", from)
	case e.IdentityAPIVersion != "" && e.IdentityAPIVersion != "3" && !strings.HasPrefix(e.IdentityAPIVersion, "3."):
		return a, fmt.Errorf("openstack: clouds.yaml entry %q asks for identity_api_version %s: only Keystone v3 is supported", name, e.IdentityAPIVersion)
	}
	switch t := strings.ReplaceAll(e.AuthType, "-", "_"); t {
	case "", "password", "v3password", "v3applicationcredential", "applicationcredential", "application_credential", "v3_application_credential":
	default:
		return a, fmt.Errorf("openstack: clouds.yaml entry %q uses auth_type %q: strata logs in with a password or an application credential (auth_type password or v3applicationcredential)", name, e.AuthType)
	}
	switch i := a.iface; i {
	case "", "public", "publicURL", "internal", "internalURL", "admin", "adminURL":
	default:
		return a, fmt.Errorf("openstack: interface %q is not one of public, internal, admin", i)
	}
	if a.usesAppCred() {
		if a.appCredID == "" && a.username == "" && a.userID == "" {
			return a, fmt.Errorf("openstack: application credential %q is named, not given by id, so it needs the user it belongs to: set username (OS_USERNAME) or use application_credential_id", a.appCredName)
		}
		return a, nil
	}
	if a.appCredID != "" || a.appCredName != "" {
		return a, fmt.Errorf("openstack: application credential %q has no secret: set application_credential_secret in clouds.yaml or secure.yaml, or OS_APPLICATION_CREDENTIAL_SECRET", cmp.Or(a.appCredID, a.appCredName))
	}
	if a.username == "" && a.userID == "" {
		return a, fmt.Errorf("openstack: no user for %s: set username in clouds.yaml, OS_USERNAME, or the provider's openstack.user_name (or use an application credential)", a.authURL)
	}
	if a.password == "" {
		return a, fmt.Errorf("openstack: no password for %s at %s: set it in clouds.yaml or secure.yaml, OS_PASSWORD, or the provider's openstack.password", a.who(), a.authURL)
	}
	if a.project == "" && a.projectID == "" {
		return a, fmt.Errorf("openstack: no project for %s at %s: set project_name or project_id in clouds.yaml, OS_PROJECT_NAME, or the provider's openstack.project_name", a.who(), a.authURL)
	}
	return a, nil
}
