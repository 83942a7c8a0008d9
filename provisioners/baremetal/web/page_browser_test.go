package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/stratastack/strata/provisioners/baremetal/boot"
	"github.com/stratastack/strata/provisioners/baremetal/dhcp"
	"github.com/stratastack/strata/provisioners/baremetal/inventory"
	"github.com/stratastack/strata/provisioners/baremetal/web"
	"github.com/stratastack/strata/provisioners/baremetal/web/webtest"
)

const browserToken = "browser-test-api-token-7f3c9a0e5d21"

// browserServer is the boot server as `strata boot serve` wires it (the
// inventory, background progress, the web handler on loopback, the DHCP
// responder reporting through boot.DHCPObserver), without sockets for DHCP:
// the test hands the responder its packets.
type browserServer struct {
	url   string
	store *inventory.Store
	dhcp  *dhcp.Responder
}

func startBrowserServer(t *testing.T, stuckAfter time.Duration) *browserServer {
	t.Helper()
	store, assets := webtest.Files(t)
	progress := store.NewProgress(nil)
	t.Cleanup(progress.Close) // before the store closes: cleanups run last first
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	log := slog.New(slog.DiscardHandler)
	h, err := web.New(web.Config{Store: store, APIToken: browserToken, PublicURL: base, AssetsDir: assets,
		Progress: progress, StuckAfter: stuckAfter, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close) // first: Close ends the page's event streams
	t.Cleanup(func() { h.Close() })

	serverIP := net.IPv4(192, 168, 77, 1).To4()
	leases, err := dhcp.NewMemoryLeases(net.IPv4(192, 168, 77, 100), net.IPv4(192, 168, 77, 150), serverIP)
	if err != nil {
		t.Fatal(err)
	}
	r, err := dhcp.New(dhcp.Config{
		Mode: dhcp.Full, ServerIP: serverIP, Leases: leases, SubnetMask: net.CIDRMask(24, 32),
		Known: func(mac net.HardwareAddr) bool {
			_, err := store.MachineByMAC(t.Context(), mac.String())
			return err == nil
		},
		ScriptURL: base + "/boot.ipxe?mac=${mac}",
		Observe:   boot.DHCPObserver(t.Context(), store, progress, log),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &browserServer{url: base, store: store, dhcp: r}
}

// call sends one request like a machine or an API client would and
// returns the body, failing on a status other than want.
func (s *browserServer) call(t *testing.T, method, url, token string, body any, want int) []byte {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		r = bytes.NewReader(raw)
	}
	if strings.HasPrefix(url, "/") {
		url = s.url + url
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s, want %d: %s", method, url, resp.Status, want, out)
	}
	return out
}

// discover is a BIOS PXE ROM's DHCPDISCOVER, answered by the server's own
// responder: a known MAC given a boot file is the "dhcp" step.
func (s *browserServer) discover(t *testing.T, mac string) {
	t.Helper()
	hw, _ := net.ParseMAC(mac)
	req, err := dhcpv4.NewDiscovery(hw,
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")),
		dhcpv4.WithOption(dhcpv4.OptClientArch(iana.INTEL_X86PC)))
	if err != nil {
		t.Fatal(err)
	}
	offer, err := s.dhcp.Reply(req)
	if err != nil || offer == nil || offer.BootFileName == "" {
		t.Fatalf("DHCP offer for %s: %v, %v; want one with a boot file", mac, offer, err)
	}
}

// browser is a headless Debian chromium for one test, and what it sent and
// received on the network.
type browser struct {
	ctx context.Context
	mu  sync.Mutex
	net []string // one line per request, response and event-stream message
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("STRATA_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("chromium is not installed and STRATA_REQUIRE_CHROMIUM=1: install it with make deps (apt-get install chromium)")
		}
		t.Skip("chromium is not installed (apt-get install chromium, or make deps): the status page's browser test needs it")
	}
	// The background-networking flags keep chromium from calling out:
	// on a closed network its refused connections would slow it down.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 720),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		// Both, whatever happened: chromedp then kills and reaps chromium.
		cancel()
		cancelAlloc()
	})
	b := &browser{ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.Func(func(context.Context, *chromedp.Target) error { return nil })); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	record := func(line string) {
		b.mu.Lock()
		b.net = append(b.net, line)
		b.mu.Unlock()
	}
	watch := func(seq func(func(string) bool)) {
		go func() {
			for line := range seq {
				record(line)
			}
		}()
	}
	watch(lines(chromedp.Events(ctx, network.RequestWillBeSent), func(e network.EventRequestWillBeSent) string {
		var post strings.Builder
		for _, p := range e.Request.PostDataEntries {
			post.Write(p.Bytes)
		}
		h, _ := json.Marshal(e.Request.Headers)
		return fmt.Sprintf("request %s %s %s body=%s", e.Request.Method, e.Request.URL, h, post.String())
	}))
	watch(lines(chromedp.Events(ctx, network.RequestWillBeSentExtraInfo), func(e network.EventRequestWillBeSentExtraInfo) string {
		h, _ := json.Marshal(e.Headers)
		return fmt.Sprintf("request-headers %s", h)
	}))
	watch(lines(chromedp.Events(ctx, network.ResponseReceived), func(e network.EventResponseReceived) string {
		h, _ := json.Marshal(e.Response.Headers)
		return fmt.Sprintf("response %d %s %s", e.Response.Status, e.Response.URL, h)
	}))
	watch(lines(chromedp.Events(ctx, network.EventSourceMessageReceived), func(e network.EventEventSourceMessageReceived) string {
		return "event " + e.EventName + " " + e.Data
	}))
	return b
}

// lines turns an event subscription into text lines until it ends.
func lines[E any](events func(func(E, error) bool), text func(E) string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for e, err := range events {
			if err != nil || !yield(text(e)) {
				return
			}
		}
	}
}

func (b *browser) network() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.net...)
}

func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// html is the page's DOM as it is now, serialised.
func (b *browser) html(t *testing.T) string {
	t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitProgress waits, without reloading, until the page's row for name
// says progress.
func (b *browser) waitProgress(t *testing.T, name, progress string) {
	t.Helper()
	expr := fmt.Sprintf(`(document.querySelector('tr[data-name=%q]') || {dataset: {}}).dataset.progress === %q`, name, progress)
	b.do(t, name+" reaching "+progress, void(chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))))
}

// void drops an action's value, so that it runs among others in do.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

var (
	chainRE  = regexp.MustCompile(`(?m)^chain (\S+)$`)
	kernelRE = regexp.MustCompile(`(?m)^kernel (\S+)`)
)

// TestPageInBrowser logs in to the status page in a real chromium, walks a
// machine through the boot chain with the requests a booting machine makes,
// and watches every step appear on the page without a reload.
func TestPageInBrowser(t *testing.T) {
	b := startBrowser(t)
	s := startBrowserServer(t, 3*time.Second)
	userData := "#cloud-config\n# USERDATA-MARKER-51c2\n"
	s.call(t, http.MethodPut, "/api/v1/profiles/mesos-agent", browserToken, map[string]any{
		"kernel": "vmlinuz", "initrd": []string{"initrd.img"}, "cmdline": "console=ttyS0", "user_data": userData}, http.StatusCreated)
	type machine struct{ name, mac, role string }
	machines := []machine{{"edge-nodes-0", "52:54:00:12:00:01", "master"}, {"edge-nodes-1", "52:54:00:12:00:02", "agent"}, {"edge-nodes-2", "52:54:00:12:00:03", "agent"}}
	for i, m := range machines {
		s.call(t, http.MethodPost, "/api/v1/machines", browserToken, map[string]any{
			"name": m.name, "mac": m.mac, "profile": "mesos-agent", "bmc": fmt.Sprintf("ipmi://10.0.9.%d:623", 11+i), "bmc_user": "admin",
			"tags": map[string]string{"strata:stack": "edge", "strata:pool": "nodes", "strata:index": fmt.Sprint(i),
				"strata:layer": "mesos.core", "strata:role": m.role}}, http.StatusCreated)
	}
	var tokens []string
	for _, m := range machines {
		im, err := s.store.GetMachine(t.Context(), m.name)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, im.Token)
	}

	// A wrong token: a message, and nothing of the machines.
	b.do(t, "wrong token",
		chromedp.Navigate(s.url+"/"),
		chromedp.SendKeys(chromedp.ID("token"), "not-the-token-at-all"),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS(".alert")),
	)
	if page := b.html(t); !strings.Contains(page, "Wrong token") || strings.Contains(page, "edge-nodes") || strings.Contains(page, "52:54:00") {
		t.Fatalf("after a wrong token the page says:\n%s", page)
	}

	b.do(t, "log in",
		chromedp.SendKeys(chromedp.ID("token"), browserToken),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="edge-nodes-2"]`)),
		void(chromedp.Poll[bool](`document.getElementById("live").dataset.state === "on"`, chromedp.WithPollingTimeout(20*time.Second))),
	)
	// A reload would lose this; the end of the test checks it is still there.
	b.do(t, "mark the page", void(chromedp.Evaluate[bool](`window.notReloaded = true`)))

	m0 := machines[0]
	b.waitProgress(t, m0.name, "waiting for DHCP")
	s.discover(t, m0.mac)
	b.waitProgress(t, m0.name, "waiting for script")

	script := s.call(t, http.MethodGet, "/boot.ipxe?mac="+m0.mac, "", nil, http.StatusOK)
	chain := chainRE.FindSubmatch(script)
	if chain == nil {
		t.Fatalf("boot.ipxe has no chain line:\n%s", script)
	}
	ms := s.call(t, http.MethodGet, string(chain[1]), "", nil, http.StatusOK)
	b.waitProgress(t, m0.name, "waiting for kernel")

	kernel := kernelRE.FindSubmatch(ms)
	if kernel == nil {
		t.Fatalf("the machine's script has no kernel line:\n%s", ms)
	}
	s.call(t, http.MethodGet, string(kernel[1]), "", nil, http.StatusOK)
	b.waitProgress(t, m0.name, "waiting for phone-home")

	sum := sha256.Sum256([]byte(userData))
	prefix := strings.TrimSuffix(string(kernel[1]), "assets/vmlinuz")
	s.call(t, http.MethodPost, prefix+"phone-home", "", hex.EncodeToString(sum[:]), http.StatusOK)
	b.waitProgress(t, m0.name, "phone-home, ready")

	// The second machine never boots: it stands out as stuck.
	b.waitProgress(t, machines[1].name, "stuck waiting for DHCP")
	if page := b.html(t); !regexp.MustCompile(`<tr class="stuck" data-name="edge-nodes-1"`).MatchString(page) ||
		!strings.Contains(page, "Stuck</strong> waiting for DHCP") {
		t.Errorf("the stuck machine does not stand out:\n%s", page)
	}
	// The third is on its way when the picture is taken.
	s.discover(t, machines[2].mac)
	b.waitProgress(t, machines[2].name, "waiting for script")

	page := b.html(t)
	for _, want := range []string{"edge-nodes-0", "52:54:00:12:00:01", "mesos-agent", "mesos.core", "master",
		"Ready: phoned home at", "not shown", "3 machines: 1 ready, 1 booting, 1 stuck."} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if reloaded, _ := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.notReloaded !== true`)); reloaded {
		t.Errorf("the page was reloaded: the steps must appear live")
	}

	shot := b.screenshot(t)
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())

	b.do(t, "log out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.ID("token")),
	)
	if page := b.html(t); strings.Contains(page, "edge-nodes") {
		t.Errorf("after logout the page still shows machines")
	}

	// Nothing the browser holds or sent carries a machine's token, the
	// API token (but in the login form's body) or user-data.
	secrets := append([]string{"USERDATA-MARKER-51c2", browserToken}, tokens...)
	for _, sec := range secrets {
		if strings.Contains(page, sec) || strings.Contains(loc, sec) {
			t.Errorf("the DOM or the URL %s holds the secret %q", loc, sec)
		}
	}
	netlog := b.network()
	logins := 0
	for _, line := range netlog {
		for _, sec := range secrets {
			if !strings.Contains(line, sec) {
				continue
			}
			if sec == browserToken && strings.HasPrefix(line, "request POST "+s.url+"/login ") &&
				strings.HasSuffix(line, "body=token="+browserToken) {
				logins++
				continue
			}
			t.Errorf("the browser's traffic carries the secret %q: %s", sec, line)
		}
	}
	if logins != 1 || len(netlog) < 10 {
		t.Errorf("saw the token in %d login posts (want 1) among %d network lines: the network watch is not working", logins, len(netlog))
	}
	if !strings.Contains(strings.Join(netlog, "\n"), "event machines ") {
		t.Errorf("no server-sent event reached the page:\n%s", strings.Join(netlog, "\n"))
	}

	if os.Getenv("STRATA_UPDATE_GOLDEN") == "1" {
		out := filepath.Join("..", "..", "..", "docs", "images", "status-page.png")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", out)
	}
}

// screenshot takes the whole page as PNG and checks that it shows
// something: a blank page has (almost) no variance in brightness.
func (b *browser) screenshot(t *testing.T) []byte {
	t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if v := lumaVariance(img); v < 100 {
		t.Errorf("the screenshot looks blank: brightness variance %.1f", v)
	}
	return shot
}

func lumaVariance(img image.Image) float64 {
	var sum, sq, n float64
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			sum += l
			sq += l * l
			n++
		}
	}
	mean := sum / n
	return sq/n - mean*mean
}
