package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/inventory"
)

// Size limits for request bodies. Everything a client may send is small; the
// limits keep a broken or hostile client from making the server buffer
// megabytes per request.
const (
	// MaxPhoneHomeBytes bounds a phone-home body: a checksum and perhaps a
	// short report, never a log dump.
	MaxPhoneHomeBytes = 64 << 10
	// MaxAPIBodyBytes bounds an API request body. Profiles carry user-data,
	// which cloud-init keeps small (EC2 caps it at 16 KiB); 1 MiB leaves room
	// for large cloud-configs with embedded files.
	MaxAPIBodyBytes = 1 << 20
	// minAPITokenLen refuses API tokens short enough to guess: the token is
	// the only thing between the network and registering machines.
	minAPITokenLen = 16
)

// Config is what New needs.
type Config struct {
	// Store is the inventory the server reads machines and profiles from and
	// records boot progress in. Required.
	Store *inventory.Store
	// APIToken is the bearer token every /api/v1/ request must carry.
	// Required, at least 16 characters.
	APIToken string
	// PublicURL is the base URL machines reach this server at, e.g.
	// http://10.0.0.2:8080. Scripts and the cloud-init seed URL are built on
	// it, because cloud-init needs an absolute URL on the kernel command
	// line. Required.
	PublicURL string
	// AssetsDir holds kernels and initrds. Optional: without it /assets/
	// answers 404 and profiles must use absolute kernel/initrd URLs.
	AssetsDir string
	// DiscoveryProfile is the profile unknown MACs boot. Optional; the
	// profile must also have Discovery set, see the package documentation.
	DiscoveryProfile string
	// Log receives one line per state change and per refused request. Nil
	// discards.
	Log *slog.Logger
	// Progress, when set, records boot steps in the background (see
	// inventory.Progress) instead of before each answer.
	Progress *inventory.Progress
	// StuckAfter is how long a machine may make no boot progress before
	// the status page marks it stuck; DefaultStuckAfter when zero.
	StuckAfter time.Duration
	// Power, when set, gives the status page the machines' power states.
	// Optional: the boot server holds no BMC passwords of its own.
	Power PowerReader
}

// Handler is the boot server's HTTP side. It is safe for concurrent use.
type Handler struct {
	store     *inventory.Store
	apiKey    [sha256.Size]byte // hash of the API token, see authorized
	base      string            // PublicURL without a trailing slash
	assets    *os.Root          // nil when no AssetsDir
	discovery string
	log       *slog.Logger
	progress  *inventory.Progress
	page      *statusPage
	mux       *http.ServeMux
}

// New checks cfg and returns the handler. The caller must Close it to release
// the assets directory.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("web: Config.Store is required")
	}
	if len(cfg.APIToken) < minAPITokenLen || strings.TrimSpace(cfg.APIToken) != cfg.APIToken {
		return nil, fmt.Errorf("web: Config.APIToken must be at least %d characters without surrounding spaces (generate one with e.g. `openssl rand -hex 32`)", minAPITokenLen)
	}
	base, err := checkPublicURL(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		store:     cfg.Store,
		apiKey:    sha256.Sum256([]byte(cfg.APIToken)),
		base:      base,
		discovery: cfg.DiscoveryProfile,
		log:       cfg.Log,
		progress:  cfg.Progress,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.page, err = newStatusPage(cfg, h); err != nil {
		return nil, err
	}
	if cfg.AssetsDir != "" {
		root, err := os.OpenRoot(cfg.AssetsDir)
		if err != nil {
			return nil, fmt.Errorf("web: assets directory: %w", err)
		}
		h.assets = root
	}
	h.routes()
	return h, nil
}

// checkPublicURL insists on an absolute http(s) URL: it ends up in iPXE
// scripts and on kernel command lines, where a relative or odd URL fails on
// the machine's console, far from whoever configured it.
func checkPublicURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, " \t\r\n") {
		return "", fmt.Errorf("web: Config.PublicURL %q is not a plain http(s) base URL; write e.g. \"http://10.0.0.2:8080\"", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// tokenMatches reports whether tok is the API token. Both sides are
// hashed before the constant-time compare, so neither the content nor the
// length of the configured token leaks through response timing.
func (h *Handler) tokenMatches(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], h.apiKey[:]) == 1
}

// Close ends the status page's event streams and BMC questions and
// releases the assets directory.
func (h *Handler) Close() error {
	h.stopStreams()
	if h.assets != nil {
		return h.assets.Close()
	}
	return nil
}

func (h *Handler) routes() {
	m := http.NewServeMux()
	// Boot chain. "GET" patterns also match HEAD; handlers record boot
	// progress only for GET, so a probe does not move a machine along.
	m.HandleFunc("GET /boot.ipxe", h.bootScript)
	m.HandleFunc("GET /machines/{name}/boot.ipxe", h.machineScript)
	m.HandleFunc("GET /machines/{name}/{token}/user-data", h.userData)
	m.HandleFunc("GET /machines/{name}/{token}/meta-data", h.metaData)
	m.HandleFunc("GET /machines/{name}/{token}/vendor-data", h.vendorData)
	m.HandleFunc("GET /machines/{name}/{token}/assets/{path...}", h.machineAsset)
	m.HandleFunc("POST /machines/{name}/{token}/phone-home", h.phoneHomeReport)
	m.HandleFunc("GET /assets/{path...}", h.publicAsset)
	m.HandleFunc("GET /discovery/{mac}/{file}", h.discoveryData)

	// API. Methods are dispatched inside the handlers rather than in the
	// patterns so that 404 and 405 answers are JSON like every other API
	// error, and so that authentication runs before the mux says anything
	// about which paths exist.
	m.Handle("/api/v1/machines", h.auth(h.apiMachines))
	m.Handle("/api/v1/machines/{name}", h.auth(h.apiMachine))
	m.Handle("/api/v1/profiles", h.auth(h.apiProfiles))
	m.Handle("/api/v1/profiles/{name}", h.auth(h.apiProfile))
	m.Handle("/api/v1/", h.auth(func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "no such API endpoint: "+r.URL.Path, "")
	}))
	h.pageRoutes(m)
	h.mux = m
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}
