package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stratastack/strata/provisioners/baremetal/api"
	"github.com/stratastack/strata/provisioners/baremetal/inventory"
)

// TestAPIAuth: every API path needs the bearer token, before anything else
// is said about it.
func TestAPIAuth(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name, auth string
		wantStatus int
		wantChal   string
	}{
		{"no header", "", 401, `Bearer realm="strata"`},
		{"basic auth", "Basic dXNlcjpwYXNz", 401, `Bearer realm="strata"`},
		{"bearer without token", "Bearer", 401, `Bearer realm="strata"`},
		{"wrong token", "Bearer wrong-token-0123456789abcdef", 401, `Bearer realm="strata", error="invalid_token"`},
		{"token prefix", "Bearer " + testAPIToken[:len(testAPIToken)-1], 401, `Bearer realm="strata", error="invalid_token"`},
		{"token with suffix", "Bearer " + testAPIToken + "x", 401, `Bearer realm="strata", error="invalid_token"`},
		{"right token", "Bearer " + testAPIToken, 200, ""},
		{"scheme is case-insensitive", "bearer " + testAPIToken, 200, ""},
	}
	// What each path answers once authenticated.
	paths := []struct {
		path   string
		authed int
	}{{"/api/v1/machines", 200}, {"/api/v1/profiles", 200}, {"/api/v1/machines/x", 404}, {"/api/v1/nope", 404}}
	for _, p := range paths {
		for _, tt := range tests {
			t.Run(p.path+"/"+tt.name, func(t *testing.T) {
				st, b, h := f.do(http.MethodGet, p.path, nil, map[string]string{"Authorization": tt.auth})
				want := tt.wantStatus
				if want == 200 {
					want = p.authed
				}
				if st != want {
					t.Fatalf("status %d, want %d: %s", st, want, b)
				}
				if got := h.Get("WWW-Authenticate"); got != tt.wantChal {
					t.Errorf("WWW-Authenticate %q, want %q", got, tt.wantChal)
				}
				var e api.Error
				if st >= 400 && (json.Unmarshal(b, &e) != nil || e.Error == "") {
					t.Errorf("error body is not JSON {\"error\": ...}: %s", b)
				}
			})
		}
	}
}

// apiStep is one API call and what it must answer.
type apiStep struct {
	name       string
	method     string
	path       string
	body       any
	wantStatus int
	wantField  string           // for errors: the "field" named
	check      func([]byte) any // returns a non-nil value to report when the answer is wrong
}

func runSteps(t *testing.T, f *fixture, steps []apiStep) {
	t.Helper()
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			st, b := f.api(s.method, s.path, s.body)
			if st != s.wantStatus {
				t.Fatalf("%s %s: %d, want %d: %s", s.method, s.path, st, s.wantStatus, b)
			}
			if st >= 400 {
				var e api.Error
				if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
					t.Errorf("error body is not JSON {\"error\": ...}: %s", b)
				}
				if e.Field != s.wantField {
					t.Errorf("field %q, want %q (%s)", e.Field, s.wantField, e.Error)
				}
			}
			if s.check != nil {
				if bad := s.check(b); bad != nil {
					t.Errorf("%v\n%s", bad, b)
				}
			}
		})
	}
}

// machineNames decodes a list answer to its names.
func machineNames(b []byte) string {
	var ms []api.MachineView
	json.Unmarshal(b, &ms)
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	return strings.Join(names, ",")
}

func wantNames(want string) func([]byte) any {
	return func(b []byte) any {
		if got := machineNames(b); got != want {
			return "names " + got + ", want " + want
		}
		return nil
	}
}

// TestAPIMachines: register, re-register, list by tags, get, delete, and
// the errors, with the token never in any answer.
func TestAPIMachines(t *testing.T) {
	f := newFixture(t, nil)
	f.putProfile(inventory.Profile{Name: "p1", Kernel: "vmlinuz", UserData: []byte(userData)})
	f.putProfile(inventory.Profile{Name: "p2", Kernel: "vmlinuz"})
	tags := map[string]string{"strata:stack": "s1", "strata:pool": "a"}
	m1 := api.MachineRequest{Name: "m1", MAC: "52:54:00:00:00:01", Profile: "p1", Tags: tags, BMC: "ipmi://10.0.0.9:623", BMCUser: "admin", IP: "10.0.0.11"}
	m2 := api.MachineRequest{Name: "m2", MAC: "52-54-00-00-00-02", Profile: "p1", Tags: map[string]string{"strata:stack": "s1", "strata:pool": "b"}}
	m3 := api.MachineRequest{Name: "m3", MAC: "52:54:00:00:00:03", Profile: "p2", Tags: map[string]string{"strata:stack": "s2"}}
	m1moved := m1
	m1moved.Profile = "p2"
	withTokenField := `{"name":"m9","mac":"52:54:00:00:00:09","profile":"p1","token":"` + strings.Repeat("a", 64) + `"}`

	runSteps(t, f, []apiStep{
		{name: "register m1", method: "POST", path: "/api/v1/machines", body: m1, wantStatus: 201, check: func(b []byte) any {
			var v api.MachineView
			json.Unmarshal(b, &v)
			if v.Name != "m1" || v.State != api.StateRegistered || v.IP.String() != "10.0.0.11" || v.Tags["strata:pool"] != "a" {
				return "wrong machine view"
			}
			return nil
		}},
		{name: "register m2", method: "POST", path: "/api/v1/machines", body: m2, wantStatus: 201, check: func(b []byte) any {
			if !bytes.Contains(b, []byte(`"mac": "52:54:00:00:00:02"`)) {
				return "MAC not canonical"
			}
			return nil
		}},
		{name: "register m3", method: "POST", path: "/api/v1/machines", body: m3, wantStatus: 201},
		{name: "re-register m1 unchanged", method: "POST", path: "/api/v1/machines", body: m1, wantStatus: 200},
		{name: "list all", method: "GET", path: "/api/v1/machines", wantStatus: 200, check: wantNames("m1,m2,m3")},
		{name: "list by stack", method: "GET", path: "/api/v1/machines?tag=strata:stack=s1", wantStatus: 200, check: wantNames("m1,m2")},
		{name: "list by stack and pool", method: "GET", path: "/api/v1/machines?tag=strata:stack=s1&tag=strata:pool=b", wantStatus: 200, check: wantNames("m2")},
		{name: "list no match", method: "GET", path: "/api/v1/machines?tag=strata:stack=zz", wantStatus: 200, check: func(b []byte) any {
			if strings.TrimSpace(string(b)) != "[]" {
				return "want []"
			}
			return nil
		}},
		{name: "list misspelt filter", method: "GET", path: "/api/v1/machines?tags=strata:stack=s1", wantStatus: 400, wantField: "tags"},
		{name: "list malformed tag", method: "GET", path: "/api/v1/machines?tag=nokey", wantStatus: 400, wantField: "tag"},
		{name: "get m1", method: "GET", path: "/api/v1/machines/m1", wantStatus: 200, check: func(b []byte) any {
			var v api.MachineView
			json.Unmarshal(b, &v)
			if v.State != api.StateRegistered || len(v.History) != 1 || v.BMC != "ipmi://10.0.0.9:623" {
				return "wrong state/history/bmc"
			}
			return nil
		}},
		{name: "move m1 to p2", method: "POST", path: "/api/v1/machines", body: m1moved, wantStatus: 200, check: func(b []byte) any {
			var v api.MachineView
			json.Unmarshal(b, &v)
			if v.Profile != "p2" || len(v.History) != 2 {
				return "re-registration with another profile should restart progress"
			}
			return nil
		}},
		{name: "get missing", method: "GET", path: "/api/v1/machines/nope", wantStatus: 404},
		{name: "MAC of another machine", method: "POST", path: "/api/v1/machines", body: api.MachineRequest{Name: "m4", MAC: "52:54:00:00:00:01", Profile: "p1"}, wantStatus: 409, wantField: "mac"},
		{name: "missing profile", method: "POST", path: "/api/v1/machines", body: api.MachineRequest{Name: "m4", MAC: "52:54:00:00:00:04", Profile: "nope"}, wantStatus: 400, wantField: "profile"},
		{name: "no mac", method: "POST", path: "/api/v1/machines", body: api.MachineRequest{Name: "m4", Profile: "p1"}, wantStatus: 400, wantField: "mac"},
		{name: "bad mac", method: "POST", path: "/api/v1/machines", body: api.MachineRequest{Name: "m4", MAC: "zz", Profile: "p1"}, wantStatus: 400, wantField: "mac"},
		{name: "bad ip", method: "POST", path: "/api/v1/machines", body: api.MachineRequest{Name: "m4", MAC: "52:54:00:00:00:04", Profile: "p1", IP: "10.0.0.300"}, wantStatus: 400, wantField: "ip"},
		{name: "bad bmc", method: "POST", path: "/api/v1/machines", body: api.MachineRequest{Name: "m4", MAC: "52:54:00:00:00:04", Profile: "p1", BMC: "10.0.0.9"}, wantStatus: 400, wantField: "bmc"},
		{name: "bad name", method: "POST", path: "/api/v1/machines", body: api.MachineRequest{Name: "a/b", MAC: "52:54:00:00:00:04", Profile: "p1"}, wantStatus: 400, wantField: "name"},
		{name: "token is not settable", method: "POST", path: "/api/v1/machines", body: withTokenField, wantStatus: 400, wantField: "token"},
		{name: "no BMC passwords", method: "POST", path: "/api/v1/machines", body: `{"name":"m9","mac":"52:54:00:00:00:09","profile":"p1","bmc_password":"hunter2"}`, wantStatus: 400, wantField: "bmc_password"},
		{name: "wrong type", method: "POST", path: "/api/v1/machines", body: `{"name":"m9","mac":"52:54:00:00:00:09","profile":"p1","tags":["a"]}`, wantStatus: 400, wantField: "tags"},
		{name: "not JSON", method: "POST", path: "/api/v1/machines", body: `name=m9`, wantStatus: 400},
		{name: "empty body", method: "POST", path: "/api/v1/machines", body: ``, wantStatus: 400},
		{name: "trailing data", method: "POST", path: "/api/v1/machines", body: `{"name":"m9","mac":"52:54:00:00:00:09","profile":"p1"} {}`, wantStatus: 400},
		{name: "re-tag m1", method: "PATCH", path: "/api/v1/machines/m1", body: api.TagsRequest{Tags: map[string]string{"strata:expires": "2031-01-02T03:04:05Z"}}, wantStatus: 200, check: func(b []byte) any {
			var v api.MachineView
			json.Unmarshal(b, &v)
			if v.Tags["strata:expires"] != "2031-01-02T03:04:05Z" || v.Tags["strata:stack"] != "s1" || v.State != api.StateRegistered {
				return "PATCH should merge the tags and keep the rest"
			}
			return nil
		}},
		{name: "re-tag with nothing", method: "PATCH", path: "/api/v1/machines/m1", body: `{"tags":{}}`, wantStatus: 400, wantField: "tags"},
		{name: "re-tag missing", method: "PATCH", path: "/api/v1/machines/nope", body: api.TagsRequest{Tags: map[string]string{"a": "b"}}, wantStatus: 404},
		{name: "wrong method", method: "PUT", path: "/api/v1/machines/m1", wantStatus: 405},
		{name: "delete m2", method: "DELETE", path: "/api/v1/machines/m2", wantStatus: 204},
		{name: "delete m2 again", method: "DELETE", path: "/api/v1/machines/m2", wantStatus: 404},
		{name: "list after delete", method: "GET", path: "/api/v1/machines?tag=strata:stack=s1", wantStatus: 200, check: wantNames("m1")},
	})
	var tokens []string
	ms, _ := f.store.ListMachines(t.Context(), nil)
	for _, m := range ms {
		tokens = append(tokens, m.Token)
	}
	if len(tokens) != 2 {
		t.Fatalf("%d machines left, want 2", len(tokens))
	}
	f.noLeaks(append(tokens, "secret-join-token", "hunter2")...)
}

// TestAPIProfiles: put, get, list, delete, user-data write-only (never
// returned, kept when a PUT leaves it out), and the errors.
func TestAPIProfiles(t *testing.T) {
	f := newFixture(t, nil)
	ud := userData
	empty := ""
	bin := base64.StdEncoding.EncodeToString([]byte{0x1f, 0x8b, 0x08, 0x00, 0xff})
	p1 := api.ProfileRequest{Kernel: "vmlinuz", Initrd: []string{"initrd.img"}, Cmdline: "console=ttyS0", UserData: &ud}
	p1noUD := api.ProfileRequest{Kernel: "vmlinuz2", Cmdline: "quiet"}
	userDataBytes := func(n int) func([]byte) any {
		return func(b []byte) any {
			var v api.ProfileView
			if err := json.Unmarshal(b, &v); err != nil || v.UserDataBytes != n {
				return "user_data_bytes wrong"
			}
			return nil
		}
	}
	runSteps(t, f, []apiStep{
		{name: "create p1", method: "PUT", path: "/api/v1/profiles/p1", body: p1, wantStatus: 201, check: userDataBytes(len(userData))},
		{name: "replace p1", method: "PUT", path: "/api/v1/profiles/p1", body: p1, wantStatus: 200},
		{name: "get p1", method: "GET", path: "/api/v1/profiles/p1", wantStatus: 200, check: userDataBytes(len(userData))},
		{name: "replace p1 without user_data keeps it", method: "PUT", path: "/api/v1/profiles/p1", body: p1noUD, wantStatus: 200, check: userDataBytes(len(userData))},
		{name: "create p2 by name in body", method: "PUT", path: "/api/v1/profiles/p2", body: api.ProfileRequest{Name: "p2", Kernel: "http://mirror.example/vmlinuz", Discovery: true}, wantStatus: 201},
		{name: "binary user-data", method: "PUT", path: "/api/v1/profiles/p3", body: api.ProfileRequest{Kernel: "vmlinuz", UserDataBase64: &bin}, wantStatus: 201, check: userDataBytes(5)},
		{name: "clear user-data", method: "PUT", path: "/api/v1/profiles/p3", body: api.ProfileRequest{Kernel: "vmlinuz", UserData: &empty}, wantStatus: 200, check: userDataBytes(0)},
		{name: "list", method: "GET", path: "/api/v1/profiles", wantStatus: 200, check: func(b []byte) any {
			var vs []api.ProfileView
			json.Unmarshal(b, &vs)
			if len(vs) != 3 || vs[0].Name != "p1" || vs[1].Kernel != "http://mirror.example/vmlinuz" || !vs[1].Discovery {
				return "wrong list"
			}
			return nil
		}},
		{name: "name mismatch", method: "PUT", path: "/api/v1/profiles/p1", body: api.ProfileRequest{Name: "other", Kernel: "vmlinuz"}, wantStatus: 400, wantField: "name"},
		{name: "no kernel", method: "PUT", path: "/api/v1/profiles/p4", body: api.ProfileRequest{}, wantStatus: 400, wantField: "kernel"},
		{name: "kernel outside assets", method: "PUT", path: "/api/v1/profiles/p4", body: api.ProfileRequest{Kernel: "../../etc/shadow"}, wantStatus: 400, wantField: "kernel"},
		{name: "kernel with space", method: "PUT", path: "/api/v1/profiles/p4", body: api.ProfileRequest{Kernel: "vmlinuz boot"}, wantStatus: 400, wantField: "kernel"},
		{name: "initrd odd scheme", method: "PUT", path: "/api/v1/profiles/p4", body: api.ProfileRequest{Kernel: "vmlinuz", Initrd: []string{"a", "file:///x"}}, wantStatus: 400, wantField: "initrd[1]"},
		{name: "cmdline newline", method: "PUT", path: "/api/v1/profiles/p4", body: api.ProfileRequest{Kernel: "vmlinuz", Cmdline: "quiet\nshell"}, wantStatus: 400, wantField: "cmdline"},
		{name: "both user-data forms", method: "PUT", path: "/api/v1/profiles/p4", body: api.ProfileRequest{Kernel: "vmlinuz", UserData: &ud, UserDataBase64: &bin}, wantStatus: 400, wantField: "user_data_base64"},
		{name: "bad base64", method: "PUT", path: "/api/v1/profiles/p4", body: `{"kernel":"vmlinuz","user_data_base64":"!!"}`, wantStatus: 400, wantField: "user_data_base64"},
		{name: "bad profile name", method: "PUT", path: "/api/v1/profiles/-x", body: api.ProfileRequest{Kernel: "vmlinuz"}, wantStatus: 400, wantField: "name"},
		{name: "register a user of p1", method: "POST", path: "/api/v1/machines", body: api.MachineRequest{Name: "m1", MAC: "52:54:00:00:00:01", Profile: "p1"}, wantStatus: 201},
		{name: "delete in use", method: "DELETE", path: "/api/v1/profiles/p1", wantStatus: 409},
		{name: "delete p3", method: "DELETE", path: "/api/v1/profiles/p3", wantStatus: 204},
		{name: "get deleted", method: "GET", path: "/api/v1/profiles/p3", wantStatus: 404},
		{name: "delete missing", method: "DELETE", path: "/api/v1/profiles/p3", wantStatus: 404},
		{name: "POST to collection", method: "POST", path: "/api/v1/profiles", body: p1, wantStatus: 405},
	})
	// The user-data survived the PUT that left it out: the machine gets it.
	m, err := f.store.GetMachine(t.Context(), "m1")
	if err != nil {
		t.Fatal(err)
	}
	f.noLeaks("secret-join-token", m.Token)
	if st, b := f.get("/machines/m1/" + m.Token + "/user-data"); st != 200 || string(b) != userData {
		t.Errorf("machine user-data after PUT without user_data: %d %q", st, b)
	}
}

// TestBodyLimits: oversized bodies are refused with 413, and a large but
// allowed phone-home is accepted.
func TestBodyLimits(t *testing.T) {
	f, m1, _, _, _ := bootFixture(t, nil)
	pad := func(n int) string { return `{"checksum":"abc","pad":"` + strings.Repeat("x", n) + `"}` }
	const overhead = len(`{"checksum":"abc","pad":""}`)
	phone := "/machines/m1/" + m1.Token + "/phone-home"
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"phone-home at the limit", "POST", phone, pad(MaxPhoneHomeBytes - overhead), 200},
		{"phone-home over the limit", "POST", phone, pad(MaxPhoneHomeBytes - overhead + 1), 413},
		{"machine body over the limit", "POST", "/api/v1/machines", pad(MaxAPIBodyBytes), 413},
		{"profile body over the limit", "PUT", "/api/v1/profiles/big", `{"kernel":"vmlinuz","user_data":"` + strings.Repeat("x", MaxAPIBodyBytes) + `"}`, 413},
		{"profile body under the limit", "PUT", "/api/v1/profiles/big", `{"kernel":"vmlinuz","user_data":"` + strings.Repeat("x", MaxAPIBodyBytes-100) + `"}`, 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, b, _ := f.do(tt.method, tt.path, strings.NewReader(tt.body), map[string]string{"Authorization": "Bearer " + testAPIToken})
			if st != tt.want {
				t.Errorf("status %d, want %d: %.200s", st, tt.want, b)
			}
		})
	}
}

// TestNew: configurations New refuses.
func TestNew(t *testing.T) {
	f := newFixture(t, nil)
	ok := Config{Store: f.store, APIToken: testAPIToken, PublicURL: "http://10.0.0.2:8080/"}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"ok", func(*Config) {}, ""},
		{"no store", func(c *Config) { c.Store = nil }, "Store"},
		{"no token", func(c *Config) { c.APIToken = "" }, "APIToken"},
		{"short token", func(c *Config) { c.APIToken = "short" }, "APIToken"},
		{"token with spaces", func(c *Config) { c.APIToken = " " + testAPIToken }, "APIToken"},
		{"no public URL", func(c *Config) { c.PublicURL = "" }, "PublicURL"},
		{"relative public URL", func(c *Config) { c.PublicURL = "10.0.0.2:8080" }, "PublicURL"},
		{"public URL with query", func(c *Config) { c.PublicURL = "http://10.0.0.2/?x=1" }, "PublicURL"},
		{"missing assets dir", func(c *Config) { c.AssetsDir = "/nonexistent/assets" }, "assets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			h, err := New(cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if h.base != "http://10.0.0.2:8080" {
					t.Errorf("base %q: trailing slash kept", h.base)
				}
				h.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}
