package openstack

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	gos "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/utils"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/memo"
	"github.com/stratastack/strata/stacks/schema"
)

// Compute API microversions. 2.37 is the least strata works with
// (networks "none" and "auto"); it asks for the highest the cloud offers
// up to maxMicroversion, the highest tested (Zed's). Server groups take a
// single policy from 2.64 on, a list of policies before.
const (
	minMicroversion    = "2.37"
	maxMicroversion    = "2.93"
	groupPolicyVersion = "2.64"
)

// Provisioner makes Nova servers in one project of one cloud. It is safe
// for concurrent use.
type Provisioner struct {
	provider *gophercloud.ProviderClient
	compute  *gophercloud.ServiceClient
	glance   *gophercloud.ServiceClient
	eo       gophercloud.EndpointOpts
	http     *http.Client

	where        string // "project P at URL", for messages
	microversion string
	policyField  bool // server groups take "policy" (>= 2.64), not "policies"

	readyTimeout, deleteTimeout time.Duration

	sub substrateSettings // the substrate block's defaults for pools

	memo memo.Memo // flavors, images, networks

	groupMu sync.Mutex // serializes finding, making and removing server groups
	groups  map[string]groupInfo
}

var _ provisioners.Provisioner = (*Provisioner)(nil)

// substrateSettings are the substrate block's settings.
type substrateSettings struct {
	cloud, authURL, region string
	image, network         string
	keyName, zone          string
	securityGroups         []string
}

func settingsOf(v schema.Values) substrateSettings {
	return substrateSettings{
		cloud: v.String("cloud"), authURL: v.String("auth_url"), region: v.String("region"),
		image: v.String("image"), network: v.String("network"),
		keyName: v.String("key_name"), zone: v.String("availability_zone"),
		securityGroups: v.Strings("security_groups"),
	}
}

// Open logs in to Keystone (v3: password or application credential),
// finds the compute and image endpoints of the region and interface,
// agrees a compute microversion, and resolves the substrate block's image
// and network, so a wrong name fails here, before anything is made.
func Open(ctx context.Context, cfg Config, substrate schema.Values) (*Provisioner, error) {
	sub := settingsOf(substrate)
	a, err := resolve(cfg, sub)
	if err != nil {
		return nil, err
	}
	hc, err := httpClient(cfg, a)
	if err != nil {
		return nil, err
	}
	pc, err := gos.NewClient(a.authURL)
	if err != nil {
		return nil, fmt.Errorf("openstack: auth_url %q is not a URL: %w", a.authURL, err)
	}
	pc.HTTPClient = *hc
	pc.UserAgent.Prepend("strata")
	pc.RetryBackoffFunc = retryAfter
	pc.MaxBackoffRetries = maxBackoffRetries
	ao := a.options()
	if err := gos.AuthenticateV3(ctx, pc, &ao, gophercloud.EndpointOpts{}); err != nil {
		hc.CloseIdleConnections()
		return nil, loginError(a, err)
	}

	p := &Provisioner{
		provider: pc, http: hc,
		eo:           gophercloud.EndpointOpts{Region: a.region, Availability: availability(a.iface)},
		readyTimeout: cmp.Or(cfg.ReadyTimeout, 10*time.Minute), deleteTimeout: cmp.Or(cfg.DeleteTimeout, 5*time.Minute),
		sub: sub, groups: map[string]groupInfo{},
	}
	p.where = fmt.Sprintf("%s at %s", a.scope(pc), a.authURL)
	if err := p.endpoints(ctx, a); err != nil {
		_ = p.Close()
		return nil, err
	}
	if sub.image != "" {
		if _, err := p.lookupImage(ctx, sub.image); err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("%w (the substrate's image)", err)
		}
	}
	if sub.network != "" {
		if _, err := p.lookupNetwork(ctx, sub.network); err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("%w (the substrate's network)", err)
		}
	}
	if sub.keyName != "" {
		if err := keypairs.Get(ctx, p.compute, sub.keyName, nil).Err; err != nil {
			_ = p.Close()
			if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				return nil, fmt.Errorf("openstack: key pair %q (the substrate's key_name) not found for %s; key pairs belong to the user: create it with `openstack keypair create`", sub.keyName, p.where)
			}
			return nil, fail(err, "look up key pair %q", sub.keyName)
		}
	}
	return p, nil
}

// Close drops idle connections; the token simply expires.
func (p *Provisioner) Close() error {
	p.http.CloseIdleConnections()
	return nil
}

// Spec is what `substrate "openstack"` accepts.
func (p *Provisioner) Spec() provisioners.Spec { return Spec() }

// Microversion is the compute API microversion agreed with the cloud.
func (p *Provisioner) Microversion() string { return p.microversion }

// options are gophercloud's login options.
func (a auth) options() gophercloud.AuthOptions {
	ao := gophercloud.AuthOptions{IdentityEndpoint: a.authURL, AllowReauth: true}
	if a.usesAppCred() {
		ao.ApplicationCredentialID, ao.ApplicationCredentialName, ao.ApplicationCredentialSecret = a.appCredID, a.appCredName, a.appCredSecret
		if a.appCredID == "" { // a named credential is looked up under its user
			ao.Username, ao.UserID = a.username, a.userID
			ao.DomainName, ao.DomainID = a.userDomain()
		}
		return ao
	}
	ao.Username, ao.UserID, ao.Password = a.username, a.userID, a.password
	if a.userID == "" {
		ao.DomainName, ao.DomainID = a.userDomain()
	}
	scope := &gophercloud.AuthScope{ProjectID: a.projectID}
	if a.projectID == "" {
		scope.ProjectName = a.project
		scope.DomainName, scope.DomainID = a.projectDomain()
	}
	ao.Scope = scope
	return ao
}

// userDomain and projectDomain are a domain name or id, defaulting to
// the domain with id "default" (Keystone's own default domain), as
// terraform-provider-openstack does.
func (a auth) userDomain() (name, id string) {
	if a.userDomainName == "" && a.userDomainID == "" {
		return "", "default"
	}
	return a.userDomainName, a.userDomainID
}

func (a auth) projectDomain() (name, id string) {
	if a.projectDomainName == "" && a.projectDomainID == "" {
		return "", "default"
	}
	return a.projectDomainName, a.projectDomainID
}

// scope names the project the token is for, from Keystone's answer when
// it has one (application credentials do not say their project).
func (a auth) scope(pc *gophercloud.ProviderClient) string {
	if r, ok := pc.GetAuthResult().(tokens.CreateResult); ok {
		if pr, err := r.ExtractProject(); err == nil && pr != nil && pr.Name != "" {
			return fmt.Sprintf("project %q", pr.Name)
		}
	}
	if p := cmp.Or(a.project, a.projectID); p != "" {
		return fmt.Sprintf("project %q", p)
	}
	return "the " + a.who() + "'s project"
}

// loginError says why Keystone did not give a token.
func loginError(a auth, err error) error {
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	switch code := statusOf(err); {
	case code == http.StatusUnauthorized:
		hint := "check the password and the user's and project's domains"
		if a.usesAppCred() {
			hint = "check the secret, and that the credential has not expired or been deleted"
		}
		return fmt.Errorf("openstack: OpenStack refused the credentials of %s at %s: %s", a.who(), a.authURL, hint)
	case code == http.StatusNotFound:
		return fmt.Errorf("openstack: no Keystone v3 at %s (HTTP 404); auth_url should be the identity endpoint, e.g. https://keystone.example:5000/v3", a.authURL)
	case errors.As(err, &certErr) || errors.As(err, &unknownCA):
		return fmt.Errorf("openstack: Keystone at %s presents a certificate this machine does not trust: %w; set cacert in clouds.yaml or OS_CACERT, or for a lab insecure (OS_INSECURE=true)", a.authURL, err)
	case code == 0 && transient(err):
		return provisioners.Transient(fmt.Errorf("openstack: cannot reach Keystone at %s: %w", a.authURL, err))
	}
	return fail(err, "log in to Keystone at %s as %s", a.authURL, a.who())
}

func availability(iface string) gophercloud.Availability {
	switch strings.TrimSuffix(iface, "URL") {
	case "internal":
		return gophercloud.AvailabilityInternal
	case "admin":
		return gophercloud.AvailabilityAdmin
	}
	return gophercloud.AvailabilityPublic
}

// httpClient is cfg.HTTPClient, or one of our own with the TLS settings.
func httpClient(cfg Config, a auth) (*http.Client, error) {
	if cfg.HTTPClient != nil {
		return cfg.HTTPClient, nil
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	// The engine runs many calls at once; Go's default of two idle
	// connections per host would make most of them reconnect.
	t.MaxIdleConnsPerHost = 64
	tc := &tls.Config{InsecureSkipVerify: a.insecure} //nolint:gosec // asked for: insecure / verify: false
	if a.caCert != "" && !a.insecure {
		pem, err := os.ReadFile(a.caCert)
		if err != nil {
			return nil, fmt.Errorf("openstack: cacert: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("openstack: cacert %s holds no PEM certificate", a.caCert)
		}
		tc.RootCAs = pool
	}
	if a.clientCert != "" || a.clientKey != "" {
		cert, err := tls.LoadX509KeyPair(a.clientCert, a.clientKey)
		if err != nil {
			return nil, fmt.Errorf("openstack: clouds.yaml cert/key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	t.TLSClientConfig = tc
	// A request that hangs this long has lost its server; the call is
	// retried (Create first looks for what the lost request made).
	return &http.Client{Transport: t, Timeout: 2 * time.Minute}, nil
}

// endpoints finds the compute and image services in the catalog and
// agrees the compute microversion.
func (p *Provisioner) endpoints(ctx context.Context, a auth) error {
	var err error
	if p.compute, err = gos.NewComputeV2(p.provider, p.eo); err != nil {
		return p.endpointError("compute", err)
	}
	if p.glance, err = gos.NewImageV2(p.provider, p.eo); err != nil {
		return p.endpointError("image", err)
	}
	mv, err := utils.GetSupportedMicroversions(ctx, p.compute)
	if err != nil {
		// A catalog URL with the project id in it is no version document:
		// ask the versioned root instead.
		base, berr := utils.BaseVersionedEndpoint(p.compute.Endpoint)
		if berr == nil && base != p.compute.Endpoint {
			c := *p.compute
			c.Endpoint = base
			mv, err = utils.GetSupportedMicroversions(ctx, &c)
		}
		if err != nil {
			return fail(err, "read the compute API version at %s", p.compute.Endpoint)
		}
	}
	max := fmt.Sprintf("%d.%d", mv.MaxMajor, mv.MaxMinor)
	if ok, _ := mv.IsSupported(minMicroversion); !ok {
		return fmt.Errorf("openstack: the compute API at %s offers microversions up to %s; strata needs %s or later (OpenStack Newton, 2016, or later)", p.compute.Endpoint, max, minMicroversion)
	}
	p.microversion = maxMicroversion
	if ok, _ := mv.IsSupported(maxMicroversion); !ok {
		p.microversion = max
	}
	p.compute.Microversion = p.microversion
	p.policyField = atLeast(p.microversion, groupPolicyVersion)
	return nil
}

// atLeast compares microversions "2.N".
func atLeast(v, min string) bool {
	vMaj, vMin, err1 := utils.ParseMicroversion(v)
	mMaj, mMin, err2 := utils.ParseMicroversion(min)
	return err1 == nil && err2 == nil && (vMaj > mMaj || vMaj == mMaj && vMin >= mMin)
}

// endpointError says which regions and interfaces the catalog does offer
// a service in, when the asked-for one is missing.
func (p *Provisioner) endpointError(kind string, err error) error {
	var nf *gophercloud.ErrEndpointNotFound
	var nfv gophercloud.ErrEndpointNotFound
	if !errors.As(err, &nf) && !errors.As(err, &nfv) {
		return fmt.Errorf("openstack: find the %s endpoint for %s: %w", kind, p.where, err)
	}
	var have []string
	if r, ok := p.provider.GetAuthResult().(tokens.CreateResult); ok {
		if cat, err := r.ExtractServiceCatalog(); err == nil {
			for _, e := range cat.Entries {
				if e.Type != kind {
					continue
				}
				for _, ep := range e.Endpoints {
					have = append(have, fmt.Sprintf("%s/%s", cmp.Or(ep.Region, ep.RegionID, "(no region)"), ep.Interface))
				}
			}
		}
	}
	slices.Sort(have)
	want := fmt.Sprintf("region %q, interface %s", p.eo.Region, p.eo.Availability)
	if p.eo.Region == "" {
		want = fmt.Sprintf("any region, interface %s", p.eo.Availability)
	}
	if len(have) == 0 {
		return fmt.Errorf("openstack: the catalog of %s has no %s service", p.where, kind)
	}
	return fmt.Errorf("openstack: the catalog of %s has no %s endpoint for %s; it has region/interface %s: set region (OS_REGION_NAME) or interface (OS_INTERFACE)", p.where, kind, want, strings.Join(slices.Compact(have), ", "))
}

// cached is memo.Get on the provisioner's memo.
func cached[T any](p *Provisioner, key string, compute func() (T, error)) (T, error) {
	return memo.Get(&p.memo, key, compute)
}
