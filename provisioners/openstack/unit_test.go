package openstack

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/stratastack/strata/provisioners"
)

func TestPickFlavor(t *testing.T) {
	fl := func(id, name string, cpus, ram, disk int) flavors.Flavor {
		return flavors.Flavor{ID: id, Name: name, VCPUs: cpus, RAM: ram, Disk: disk}
	}
	all := []flavors.Flavor{
		fl("5", "m1.xlarge", 8, 16384, 160),
		fl("1", "m1.tiny", 1, 512, 1),
		fl("3", "m1.medium", 2, 4096, 40),
		fl("2", "m1.small", 1, 2048, 20),
		fl("4", "m1.large", 4, 8192, 80),
		fl("6", "c1.medium", 2, 4096, 40), // the same size as m1.medium: the name breaks the tie
		fl("7", "r1.big-disk", 2, 4096, 500),
		fl("8", "m1.tiny", 1, 512, 1), // a duplicate name
	}
	for _, tc := range []struct {
		name    string
		ref     string
		need    need
		want    string // flavor id
		wantErr []string
	}{
		{"no constraint: the smallest", "", need{}, "1", nil},
		{"cpus first", "", need{CPUs: 2}, "6", nil},
		{"then memory", "", need{CPUs: 1, MemoryMB: 1024}, "2", nil},
		{"then disk", "", need{CPUs: 2, MemoryMB: 4096, DiskGB: 100}, "7", nil},
		{"memory beyond the 2-cpu flavors", "", need{CPUs: 2, MemoryMB: 5000}, "4", nil},
		{"the pool's defaults (2 cpus, 4096 MiB, 20 GiB)", "", need{CPUs: 2, MemoryMB: 4096, DiskGB: 20}, "6", nil},
		{"by id", "4", need{CPUs: 64}, "4", nil},
		{"by name, size ignored", "m1.large", need{CPUs: 64}, "4", nil},
		{"none fits", "", need{CPUs: 16}, "", []string{"no flavor has at least 16 vCPUs; flavors: m1.tiny (1 vCPU, 512 MiB, 1 GiB), ", "m1.xlarge (8 vCPU, 16384 MiB, 160 GiB)", "set the pool's flavor, or lower cpus, memory_mb or disk_gb"}},
		{"unknown name", "m9.huge", need{}, "", []string{`flavor "m9.huge" (the pool's flavor) not found; flavors: m1.tiny`}},
		{"ambiguous name", "m1.tiny", need{}, "", []string{`flavor name "m1.tiny" (the pool's flavor) is ambiguous: 2 flavors have it (ids 1, 8)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickFlavor(all, tc.ref, tc.need)
			if tc.wantErr != nil {
				for _, w := range tc.wantErr {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("error %v, want %q", err, w)
					}
				}
				return
			}
			if err != nil || got.ID != tc.want {
				t.Errorf("got %s (%s), %v; want %s", got.ID, got.Name, err, tc.want)
			}
		})
	}
	if _, err := pickFlavor(nil, "", need{}); err == nil || !strings.Contains(err.Error(), "flavors: (none)") {
		t.Errorf("no flavors: %v", err)
	}
}

// httpErr is the error gophercloud returns for an HTTP status it did not
// expect.
func httpErr(code int, body string, header ...string) error {
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return gophercloud.ErrUnexpectedResponseCode{URL: "http://nova/servers", Method: "POST", Expected: []int{202}, Actual: code, Body: []byte(body), ResponseHeader: h}
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		want      string
		transient bool
	}{
		{"quota for instances", httpErr(403, `{"forbidden": {"code": 403, "message": "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances"}}`),
			"openstack: create x: quota exceeded for instances: 2 of 2 used, 1 more requested", false},
		{"quota for cores and ram", httpErr(403, `{"forbidden": {"code": 403, "message": "Quota exceeded for cores, ram: Requested 4, but already used 10 of 12 cores"}}`),
			"quota exceeded for cores, ram: 10 of 12 used, 4 more requested", false},
		{"quota on older Nova (413)", httpErr(413, `{"overLimit": {"code": 413, "message": "Quota exceeded for ram: Requested 8192, but already used 0 of 4096 ram", "retryAfter": "0"}}`),
			"quota exceeded for ram: 0 of 4096 used, 8192 more requested", false},
		{"server group quota", httpErr(403, `{"forbidden": {"code": 403, "message": "Quota exceeded, too many server groups."}}`),
			`quota exceeded (Nova: "Quota exceeded, too many server groups.")`, false},
		{"forbidden, not quota", httpErr(403, `{"forbidden": {"code": 403, "message": "Policy doesn't allow os_compute_api:servers:create to be performed."}}`),
			"openstack: create x: HTTP 403: Policy doesn't allow", false},
		{"conflict", httpErr(409, `{"conflictingRequest": {"code": 409, "message": "Cannot 'delete' instance while it is in task_state spawning"}}`),
			"HTTP 409: Cannot 'delete' instance while it is in task_state spawning", true},
		{"unavailable", httpErr(503, "<html><body><h1>503 Service Unavailable</h1>No server is available.</body></html>"),
			"HTTP 503: 503 Service Unavailable No server is available.", true},
		{"rate limited", httpErr(429, `{"message": "Too many requests"}`), "HTTP 429: Too many requests", true},
		{"bad gateway", httpErr(502, ""), "HTTP 502: Bad Gateway", true},
		{"not found", httpErr(404, `{"itemNotFound": {"code": 404, "message": "Flavor 99 could not be found."}}`), "HTTP 404: Flavor 99 could not be found.", false},
		{"neutron", httpErr(400, `{"NeutronError": {"type": "InvalidInput", "message": "Invalid input for operation", "detail": ""}}`), "HTTP 400: Invalid input for operation", false},
		{"keystone", httpErr(401, `{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}`), "HTTP 401: The request you have made requires authentication.", false},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, "dial tcp: connection refused", true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), "connection reset", true},
		{"eof", io.ErrUnexpectedEOF, "unexpected EOF", true},
		{"cancelled", context.Canceled, "context canceled", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := fail(tc.err, "create %s", "x")
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q does not say %q", err, tc.want)
			}
			if provisioners.IsTransient(err) != tc.transient {
				t.Errorf("transient = %v, want %v", provisioners.IsTransient(err), tc.transient)
			}
			switch {
			case strings.Contains(tc.name, "quota"):
			case statusOf(tc.err) != 0:
				if statusOf(err) != statusOf(tc.err) {
					t.Errorf("%v does not wrap the HTTP %d", err, statusOf(tc.err))
				}
			case !errors.Is(err, tc.err):
				t.Errorf("%v does not wrap %v", err, tc.err)
			}
		})
	}
	// gophercloud returns some response errors as pointers.
	p := httpErr(503, "busy").(gophercloud.ErrUnexpectedResponseCode)
	if err := fail(&p, "list"); !provisioners.IsTransient(err) || !strings.Contains(err.Error(), "HTTP 503: busy") {
		t.Errorf("pointer: %v", err)
	}
}

func TestBackoffDelay(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		n      uint
		want   time.Duration
	}{
		{"3", 1, 3 * time.Second},
		{"0", 1, 0},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 1, 7 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 1, 0},
		{"", 1, time.Second},
		{"", 3, 4 * time.Second},
		{"soon", 2, 2 * time.Second},
	} {
		if got := backoffDelay(tc.header, tc.n, now); got != tc.want {
			t.Errorf("backoffDelay(%q, %d) = %s, want %s", tc.header, tc.n, got, tc.want)
		}
	}
}

// fakeNova serves a few compute routes from a handler, behind a provider
// client set up as Open sets one up.
func fakeNova(t *testing.T, h http.HandlerFunc) *Provisioner {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	pc := &gophercloud.ProviderClient{HTTPClient: *srv.Client(), RetryBackoffFunc: retryAfter, MaxBackoffRetries: maxBackoffRetries}
	pc.SetToken("token")
	return &Provisioner{
		provider: pc, http: srv.Client(), where: "project \"p\" at fake",
		compute:      &gophercloud.ServiceClient{ProviderClient: pc, Endpoint: srv.URL + "/", Type: "compute", Microversion: "2.93"},
		readyTimeout: 5 * time.Second, deleteTimeout: 5 * time.Second,
		groups: map[string]groupInfo{},
	}
}

func TestRateLimitHonoursRetryAfter(t *testing.T) {
	var calls atomic.Int32
	p := fakeNova(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, `{"server": {"id": "s1", "name": "n", "status": "ACTIVE", "metadata": {"strata:stack": "x"}}}`)
	})
	in, err := p.Read(t.Context(), "s1")
	if err != nil || in.State != provisioners.StateRunning || calls.Load() != 3 {
		t.Fatalf("Read = %+v, %v after %d calls", in, err, calls.Load())
	}

	// Rate limited for good: after the in-request retries the engine's
	// backoff takes over.
	calls.Store(-100)
	_, err = p.Read(t.Context(), "s1")
	if !provisioners.IsTransient(err) || !strings.Contains(err.Error(), "HTTP 429") || calls.Load() != -100+1+maxBackoffRetries {
		t.Fatalf("Read = %v after %d calls", err, calls.Load()+100)
	}
	// A Retry-After longer than a minute is not waited out in the request.
	p = fakeNova(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	start := time.Now()
	if _, err := p.Read(t.Context(), "s1"); !provisioners.IsTransient(err) || time.Since(start) > 2*time.Second {
		t.Fatalf("long Retry-After: %v after %s", err, time.Since(start))
	}
}

func TestReadyErrorFault(t *testing.T) {
	var mu sync.Mutex
	status, faultMsg, code := "BUILD", "", 0
	deleted := false
	p := fakeNova(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodDelete:
			deleted = true
			w.WriteHeader(http.StatusNoContent)
		case deleted:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"itemNotFound": {"code": 404, "message": "Instance s1 could not be found."}}`)
		default:
			fmt.Fprintf(w, `{"server": {"id": "s1", "name": "web-0", "status": %q, "metadata": {"strata:stack": "x"}, "fault": {"code": %d, "message": %q}}}`, status, code, faultMsg)
			status = "ERROR" // BUILD once, then ERROR
		}
	})
	faultMsg, code = "No valid host was found. There are not enough hosts available.", 500
	_, err := p.Ready(t.Context(), "s1")
	if err == nil || provisioners.IsTransient(err) || !strings.Contains(err.Error(), `server "web-0" (s1) failed in project "p" at fake: No valid host was found. There are not enough hosts available. (fault code 500)`) {
		t.Fatalf("Ready: %v", err)
	}
	if deleted {
		t.Error("a failed server was deleted")
	}

	// Nova's quota recheck failed the server: it is deleted, and the
	// error names the quota.
	status, faultMsg, code = "ERROR", "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances", 413
	_, err = p.Ready(t.Context(), "s1")
	if err == nil || provisioners.IsTransient(err) || !strings.Contains(err.Error(), "quota exceeded for instances: 2 of 2 used, 1 more requested") ||
		!strings.Contains(err.Error(), "the refused server was deleted") || !deleted {
		t.Fatalf("Ready after a quota recheck: %v (deleted %v)", err, deleted)
	}
	// Gone is gone.
	if in, err := p.Read(t.Context(), "s1"); err != nil || in.State != provisioners.StateGone {
		t.Errorf("Read of a deleted server: %+v %v", in, err)
	}
	if _, err := p.Ready(t.Context(), "s1"); err == nil || !strings.Contains(err.Error(), "is gone") {
		t.Errorf("Ready of a deleted server: %v", err)
	}
}

func TestReadyTimeout(t *testing.T) {
	p := fakeNova(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"server": {"id": "s1", "name": "web-0", "status": "BUILD", "OS-EXT-STS:task_state": "spawning", "metadata": {}}}`)
	})
	p.readyTimeout = 600 * time.Millisecond
	_, err := p.Ready(t.Context(), "s1")
	if err == nil || !strings.Contains(err.Error(), `server "web-0" (s1) is still BUILD (task spawning) after 600ms`) {
		t.Fatalf("Ready: %v", err)
	}
}

func TestDeleteRefusesForeignServer(t *testing.T) {
	p := fakeNova(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			t.Errorf("%s %s", r.Method, r.URL)
		}
		fmt.Fprint(w, `{"server": {"id": "s1", "name": "db", "status": "ACTIVE", "metadata": {"owner": "dba"}}}`)
	})
	if err := p.Delete(t.Context(), "s1"); err == nil || !strings.Contains(err.Error(), `refusing to delete server "db" (s1): it carries no strata:stack metadata`) {
		t.Fatalf("Delete: %v", err)
	}
}

func TestMetadataLimits(t *testing.T) {
	ok := map[string]string{"strata:stack": "lab", "strata:layer": "mesos.core", "user tag_1-x": strings.Repeat("v", 255)}
	if md, err := metadata(ok); err != nil || len(md) != 3 {
		t.Errorf("metadata(ok) = %v, %v", md, err)
	}
	many := map[string]string{}
	for i := range 129 {
		many[fmt.Sprint("k", i)] = "v"
	}
	for _, tc := range []struct {
		tags map[string]string
		want string
	}{
		{map[string]string{"strata:pool": strings.Repeat("é", 256)}, `tag "strata:pool": its value is 256 characters; Nova metadata values hold at most 255`},
		{map[string]string{strings.Repeat("k", 256): "v"}, "keys are 1 to 255 letters"},
		{map[string]string{"strata/stack": "v"}, `tag "strata/stack" cannot be Nova metadata`},
		{map[string]string{"": "v"}, `tag "" cannot be Nova metadata`},
		{many, "129 tags, but Nova keeps at most 128 metadata items"},
	} {
		if _, err := metadata(tc.tags); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want %q", err, tc.want)
		}
	}
}

func TestUserData(t *testing.T) {
	got, err := userData("m", []byte("#cloud-config\n"))
	if err != nil || string(got) != base64.StdEncoding.EncodeToString([]byte("#cloud-config\n")) {
		t.Errorf("userData = %q, %v", got, err)
	}
	if got, err := userData("m", nil); got != nil || err != nil {
		t.Errorf("no user data = %q, %v", got, err)
	}
	// What gophercloud sends is exactly our base64.
	b, err := servers.CreateOpts{Name: "m", UserData: got}.ToServerCreateMap()
	if err != nil || *(b["server"].(map[string]any)["user_data"].(*string)) != string(got) {
		t.Errorf("sent %v, %v", b, err)
	}
	if _, err := userData("big", make([]byte, 50000)); err == nil || !strings.Contains(err.Error(), "user_data of big is 50000 bytes (66668 in base64); Nova takes at most 65535") {
		t.Errorf("too big: %v", err)
	}
}

func TestAddressesAndStates(t *testing.T) {
	s := servers.Server{
		AccessIPv4: "203.0.113.9",
		Addresses: map[string]any{
			"b-net": []any{
				map[string]any{"addr": "198.51.100.7", "version": float64(4), "OS-EXT-IPS:type": "floating"},
				map[string]any{"addr": "10.1.0.5", "version": float64(4), "OS-EXT-IPS:type": "fixed"},
			},
			"a-net": []any{
				map[string]any{"addr": "fd00::5", "version": float64(6), "OS-EXT-IPS:type": "fixed"},
				map[string]any{"addr": "10.0.0.5", "version": float64(4), "OS-EXT-IPS:type": "fixed"},
				map[string]any{"addr": "203.0.113.9", "version": float64(4), "OS-EXT-IPS:type": "floating"},
			},
		},
	}
	want := []string{"203.0.113.9", "10.0.0.5", "10.1.0.5", "fd00::5", "198.51.100.7"}
	if got := addresses(s); !slices.Equal(got, want) {
		t.Errorf("addresses = %v, want %v", got, want)
	}
	if got := addresses(servers.Server{Addresses: map[string]any{}}); len(got) != 0 {
		t.Errorf("network none: %v", got)
	}
	for status, want := range map[string]string{
		"BUILD": provisioners.StatePending, "REBUILD": provisioners.StatePending, "UNKNOWN": provisioners.StatePending, "ACTIVE": provisioners.StateRunning, "REBOOT": provisioners.StateRunning,
		"VERIFY_RESIZE": provisioners.StateRunning, "SHUTOFF": provisioners.StateStopped, "SUSPENDED": provisioners.StateStopped, "SHELVED_OFFLOADED": provisioners.StateStopped,
		"PAUSED": provisioners.StateStopped, "ERROR": provisioners.StateError, "DELETED": provisioners.StateGone, "SOFT_DELETED": provisioners.StateGone,
	} {
		if got := state(status); got != want {
			t.Errorf("state(%s) = %s, want %s", status, got, want)
		}
	}
}

func TestServerGroupNames(t *testing.T) {
	if got := groupName("lab-mesos.core-master"); got != "strata-lab-mesos.core-master" {
		t.Errorf("groupName = %q", got)
	}
	if got := groupName(""); got != "" {
		t.Errorf("no group: %q", got)
	}
	if policyOf(values()) != "soft-anti-affinity" || policyOf(values("server_group_policy", "anti-affinity")) != "anti-affinity" {
		t.Error("policyOf")
	}
}

func TestInterfaces(t *testing.T) {
	for iface, want := range map[string]gophercloud.Availability{
		"": gophercloud.AvailabilityPublic, "public": gophercloud.AvailabilityPublic, "internal": gophercloud.AvailabilityInternal,
		"internalURL": gophercloud.AvailabilityInternal, "admin": gophercloud.AvailabilityAdmin, "adminURL": gophercloud.AvailabilityAdmin,
	} {
		if got := availability(iface); got != want {
			t.Errorf("availability(%q) = %s, want %s", iface, got, want)
		}
	}
}

func TestMicroversions(t *testing.T) {
	for _, tc := range []struct {
		v, min string
		want   bool
	}{
		{"2.93", "2.64", true}, {"2.64", "2.64", true}, {"2.63", "2.64", false}, {"2.100", "2.93", true}, {"3.0", "2.93", true}, {"x", "2.1", false},
	} {
		if got := atLeast(tc.v, tc.min); got != tc.want {
			t.Errorf("atLeast(%s, %s) = %v", tc.v, tc.min, got)
		}
	}
}
