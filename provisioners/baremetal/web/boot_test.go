package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stratastack/strata/provisioners/baremetal/api"
	"github.com/stratastack/strata/provisioners/baremetal/inventory"
)

const userData = "#cloud-config\nhostname: m1\nruncmd: [echo secret-join-token-xyz]\n"

// bootFixture is a server with profile p1 (relative kernel and initrd) and
// two machines on it.
func bootFixture(t *testing.T, mod func(*Config)) (f *fixture, m1, m2 inventory.Machine, kernel, initrd []byte) {
	f = newFixture(t, mod)
	kernel = f.writeAsset("vmlinuz", 100_000)
	initrd = f.writeAsset("images/initrd.img", 50_000)
	f.putProfile(inventory.Profile{Name: "p1", Kernel: "vmlinuz", Initrd: []string{"/assets/images/initrd.img"},
		Cmdline: "console=ttyS0", UserData: []byte(userData)})
	m1 = f.register("m1", "52:54:00:00:00:01", "p1")
	m2 = f.register("m2", "52:54:00:00:00:02", "p1")
	return f, m1, m2, kernel, initrd
}

// TestBootChain follows a known machine from DHCP's script URL to its
// phone-home, checking each answer and that each step is recorded in order.
func TestBootChain(t *testing.T) {
	f, m1, _, kernel, initrd := bootFixture(t, nil)
	prefix := f.base + "/machines/m1/" + m1.Token + "/"

	// 1. The URL DHCP gives iPXE; the MAC in another notation still matches.
	st, script := f.get("/boot.ipxe?mac=52-54-00-00-00-01")
	if st != http.StatusOK || !bytes.HasPrefix(script, []byte("#!ipxe\n")) {
		t.Fatalf("boot.ipxe: %d\n%s", st, script)
	}
	chain := scriptLine(t, chainRE, script)[1]
	if want := f.base + "/machines/m1/boot.ipxe?token=" + m1.Token; chain != want {
		t.Fatalf("chain %s, want %s", chain, want)
	}
	f.wantStates("m1", api.StateRegistered, api.StateDHCP)

	// 2. The machine's own script.
	st, script = f.get(chain)
	if st != http.StatusOK {
		t.Fatalf("machine script: %d %s", st, script)
	}
	args := strings.Fields(scriptLine(t, kernelRE, script)[1])
	wantArgs := []string{prefix + "assets/vmlinuz", "initrd=initrd0", "console=ttyS0", "ds=nocloud-net;s=" + prefix}
	if !slices.Equal(args, wantArgs) {
		t.Errorf("kernel line args\n got %q\nwant %q", args, wantArgs)
	}
	rd := scriptLine(t, initrdRE, script)
	if rd[1] != "initrd0" || rd[2] != prefix+"assets/images/initrd.img" {
		t.Errorf("initrd line %q", rd[0])
	}
	if !bytes.HasSuffix(script, []byte("\nboot\n")) {
		t.Errorf("script does not end with boot:\n%s", script)
	}
	f.wantStates("m1", api.StateRegistered, api.StateDHCP, api.StateScriptFetched)

	// 3. Kernel and initrd, through the machine's prefix.
	for _, a := range []struct {
		url  string
		want []byte
	}{{args[0], kernel}, {rd[2], initrd}} {
		if st, b := f.get(a.url); st != http.StatusOK || !bytes.Equal(b, a.want) {
			t.Fatalf("GET %s: %d, %d bytes, want %d", a.url, st, len(b), len(a.want))
		}
	}
	f.waitStates("m1", api.StateRegistered, api.StateDHCP, api.StateScriptFetched, api.StateKernelFetched)

	// 4. cloud-init's NoCloud seed.
	seed := strings.TrimPrefix(wantArgs[3], "ds=nocloud-net;s=")
	st, md := f.get(seed + "meta-data")
	if st != http.StatusOK || !bytes.Contains(md, []byte(`local-hostname: "m1"`)) || !bytes.Contains(md, []byte(`instance-id: "strata-m1-`)) {
		t.Errorf("meta-data: %d\n%s", st, md)
	}
	if st, ud := f.get(seed + "user-data"); st != http.StatusOK || string(ud) != userData {
		t.Errorf("user-data: %d %q", st, ud)
	}
	if st, vd := f.get(seed + "vendor-data"); st != http.StatusOK || len(vd) != 0 {
		t.Errorf("vendor-data: %d %q", st, vd)
	}

	// 5. Phone-home with the user-data's checksum, as the lab's init does.
	sum := sha256.Sum256([]byte(userData))
	st, b, _ := f.do(http.MethodPost, seed+"phone-home", strings.NewReader(`{"checksum":"`+hex.EncodeToString(sum[:])+`"}`),
		map[string]string{"Content-Type": "application/json"})
	if st != http.StatusOK {
		t.Fatalf("phone-home: %d %s", st, b)
	}
	f.wantStates("m1", api.StateRegistered, api.StateDHCP, api.StateScriptFetched,
		api.StateKernelFetched, api.StateReady)

	// The API shows the state, the history and the phone-home report.
	st, b = f.api(http.MethodGet, "/api/v1/machines/m1", nil)
	var v api.MachineView
	if err := json.Unmarshal(b, &v); st != http.StatusOK || err != nil {
		t.Fatalf("GET machine: %d %v %s", st, err, b)
	}
	if v.State != api.StateReady || len(v.History) != 5 || v.PhoneHome == nil ||
		v.PhoneHome.Checksum != hex.EncodeToString(sum[:]) || v.PhoneHome.ChecksumMatches == nil || !*v.PhoneHome.ChecksumMatches {
		t.Errorf("machine view after phone-home: %s", b)
	}
	if bytes.Contains(b, []byte(m1.Token)) {
		t.Errorf("API answer contains the machine token: %s", b)
	}
}

// TestBootScriptRecordsDHCP: /boot.ipxe records dhcp unless the DHCP server
// already did, and a HEAD probe records nothing.
func TestBootScriptRecordsDHCP(t *testing.T) {
	tests := []struct {
		name   string
		before []inventory.State // SetState calls before the request
		method string
		want   []inventory.State
	}{
		{"fresh machine", nil, http.MethodGet, []inventory.State{"registered", "dhcp"}},
		{"dhcp already seen", []inventory.State{"dhcp"}, http.MethodGet, []inventory.State{"registered", "dhcp"}},
		{"reboot after ready", []inventory.State{"dhcp", "ready"}, http.MethodGet, []inventory.State{"registered", "dhcp", "ready", "dhcp"}},
		{"HEAD records nothing", nil, http.MethodHead, []inventory.State{"registered"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, _, _, _ := bootFixture(t, nil)
			for _, s := range tt.before {
				if _, err := f.store.SetState(t.Context(), "m1", s); err != nil {
					t.Fatal(err)
				}
			}
			if st, _, _ := f.do(tt.method, "/boot.ipxe?mac=52:54:00:00:00:01", nil, nil); st != http.StatusOK {
				t.Fatalf("status %d", st)
			}
			f.wantStates("m1", tt.want...)
		})
	}
}

// TestForeignTokenForbidden: every per-machine route refuses another
// machine's token, a missing or made-up one, and an unknown machine, with
// 403, without leaking anything or recording progress.
func TestForeignTokenForbidden(t *testing.T) {
	f, m1, m2, kernel, _ := bootFixture(t, nil)
	routes := []struct{ name, method, path string }{
		{"script", "GET", "/machines/%s/boot.ipxe?token=%s"},
		{"user-data", "GET", "/machines/%s/%s/user-data"},
		{"meta-data", "GET", "/machines/%s/%s/meta-data"},
		{"vendor-data", "GET", "/machines/%s/%s/vendor-data"},
		{"kernel", "GET", "/machines/%s/%s/assets/vmlinuz"},
		{"phone-home", "POST", "/machines/%s/%s/phone-home"},
	}
	creds := []struct{ name, machine, token string }{
		{"other machine's token", "m1", m2.Token},
		{"own token on other machine", "m2", m1.Token},
		{"empty token", "m1", ""},
		{"made-up token", "m1", strings.Repeat("0", 64)},
		{"token prefix", "m1", m1.Token[:32]},
		{"unknown machine", "nope", m1.Token},
	}
	for _, r := range routes {
		for _, c := range creds {
			t.Run(r.name+"/"+c.name, func(t *testing.T) {
				path := strings.Replace(strings.Replace(r.path, "%s", c.machine, 1), "%s", c.token, 1)
				if c.token == "" && strings.Contains(path, "//") {
					path = strings.Replace(path, "//", "/", 1) // no empty segment: the token is just missing
				}
				st, b, _ := f.do(r.method, path, strings.NewReader(`{"checksum":"x"}`), nil)
				if st != http.StatusForbidden && !(c.token == "" && st == http.StatusNotFound) {
					t.Errorf("%s %s: %d, want 403", r.method, path, st)
				}
				if bytes.Contains(b, []byte("secret-join-token")) || bytes.Contains(b, kernel[:64]) || bytes.Contains(b, []byte("kernel ")) {
					t.Errorf("refused answer leaks content: %q", b)
				}
			})
		}
	}
	f.wantStates("m1", api.StateRegistered)
	f.wantStates("m2", api.StateRegistered)
}

// TestUnknownMAC: unknown MACs get a message script and exit, or the
// discovery profile when one is configured and marked for discovery.
func TestUnknownMAC(t *testing.T) {
	disc := inventory.Profile{Name: "disc", Kernel: "vmlinuz", Initrd: []string{"initrd.img"}, Cmdline: "quiet",
		UserData: []byte("#cloud-config\n# discovery\n"), Discovery: true}
	notFlagged := disc
	notFlagged.Discovery = false
	const mac = "52:54:00:00:00:99"
	tests := []struct {
		name      string
		discovery string
		profile   *inventory.Profile
		query     string
		wantIn    []string // substrings of the script
		discovers bool     // the script boots discovery
		seed      bool     // the discovery seed is served (whatever this request got)
	}{
		{"no discovery", "", nil, "?mac=" + mac, []string{"echo strata boot server: no machine is registered with MAC " + mac, "\nexit\n"}, false, false},
		{"discovery profile missing", "disc", nil, "?mac=" + mac, []string{"echo ", "discovery is not available", "\nexit\n"}, false, false},
		{"discovery profile not flagged", "disc", &notFlagged, "?mac=" + mac, []string{"discovery is not available", "\nexit\n"}, false, false},
		{"discovery", "disc", &disc, "?mac=" + strings.ToUpper(mac), []string{"kernel %BASE%/assets/vmlinuz initrd=initrd0 quiet ds=nocloud-net;s=%BASE%/discovery/52-54-00-00-00-99/\n",
			"initrd --name initrd0 %BASE%/assets/initrd.img\n", "\nboot\n"}, true, true},
		{"no mac parameter", "", nil, "", []string{"echo ", "needs ?mac=", "got nothing", "\nexit\n"}, false, false},
		{"malformed mac", "", nil, "?mac=$%7Bmac%7D", []string{"echo ", "got '?{mac}'", "\nexit\n"}, false, false},
		{"iPXE operator in mac", "", nil, "?mac=a%20%7C%7C%20reboot", []string{"got 'a????reboot'", "\nexit\n"}, false, false},
		{"broadcast mac", "disc", &disc, "?mac=ff:ff:ff:ff:ff:ff", []string{"\nexit\n"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.DiscoveryProfile = tt.discovery })
			f.putProfile(inventory.Profile{Name: "p1", Kernel: "vmlinuz", UserData: []byte(userData)})
			f.register("m1", "52:54:00:00:00:01", "p1")
			if tt.profile != nil {
				f.putProfile(*tt.profile)
			}
			st, b := f.get("/boot.ipxe" + tt.query)
			if st != http.StatusOK || !bytes.HasPrefix(b, []byte("#!ipxe\n")) {
				t.Fatalf("status %d\n%s", st, b)
			}
			for _, w := range tt.wantIn {
				if w = strings.ReplaceAll(w, "%BASE%", f.base); !bytes.Contains(b, []byte(w)) {
					t.Errorf("script lacks %q:\n%s", w, b)
				}
			}
			if bytes.ContainsAny(b, "$|&") {
				t.Errorf("script has a '$' iPXE would expand or an operator:\n%s", b)
			}
			seed := f.base + "/discovery/52-54-00-00-00-99/"
			stUD, ud := f.get(seed + "user-data")
			stMD, md := f.get(seed + "meta-data")
			if tt.discovers != bytes.Contains(b, []byte("/discovery/")) {
				t.Errorf("script boots discovery = %t, want %t", !tt.discovers, tt.discovers)
			}
			if tt.seed {
				if stUD != http.StatusOK || !bytes.Equal(ud, disc.UserData) {
					t.Errorf("discovery user-data: %d %q", stUD, ud)
				}
				if stMD != http.StatusOK || !bytes.Contains(md, []byte(`instance-id: "discovery-52-54-00-00-00-99"`)) {
					t.Errorf("discovery meta-data: %d %q", stMD, md)
				}
			} else if stUD != http.StatusNotFound || stMD != http.StatusNotFound {
				t.Errorf("discovery seed served without discovery: %d %d", stUD, stMD)
			}
			f.wantStates("m1", api.StateRegistered)
		})
	}
}

// TestPhoneHomeBody: the body forms a small init can send, and what is
// refused.
func TestPhoneHomeBody(t *testing.T) {
	good := sha256.Sum256([]byte(userData))
	goodHex := hex.EncodeToString(good[:])
	tests := []struct {
		name, ctype, body string
		wantStatus        int
		wantSum           string
		wantMatch         *bool
	}{
		{"empty", "", "", 200, "", nil},
		{"json", "application/json", `{"checksum":"` + goodHex + `"}`, 200, goodHex, ptr(true)},
		{"json upper-case sum", "application/json", `{"checksum":"` + strings.ToUpper(goodHex) + `"}`, 200, strings.ToUpper(goodHex), ptr(true)},
		{"form", "application/x-www-form-urlencoded", "checksum=" + goodHex, 200, goodHex, ptr(true)},
		{"sha256sum output", "text/plain", goodHex + "  -\n", 200, goodHex, ptr(true)},
		{"other machine's data", "", strings.Repeat("ab", 32), 200, strings.Repeat("ab", 32), ptr(false)},
		{"md5 is kept, not judged", "", "d41d8cd98f00b204e9800998ecf8427e", 200, "d41d8cd98f00b204e9800998ecf8427e", nil},
		{"bad json", "application/json", `{"checksum":`, 400, "", nil},
		{"checksum too long", "", strings.Repeat("a", 300), 400, "", nil},
		{"control chars", "application/json", `{"checksum":"a\u0007b"}`, 400, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, m1, _, _, _ := bootFixture(t, nil)
			st, b, _ := f.do(http.MethodPost, "/machines/m1/"+m1.Token+"/phone-home", strings.NewReader(tt.body), map[string]string{"Content-Type": tt.ctype})
			if st != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", st, tt.wantStatus, b)
			}
			if st != http.StatusOK {
				f.wantStates("m1", api.StateRegistered)
				return
			}
			f.wantStates("m1", api.StateRegistered, api.StateReady)
			cur, err := f.h.store.GetMachine(t.Context(), "m1")
			if err != nil {
				t.Fatal(err)
			}
			ph := f.h.viewMachine(cur).PhoneHome
			if ph == nil || ph.Checksum != tt.wantSum || ph.BodyBytes != len(tt.body) {
				t.Fatalf("report %+v", ph)
			}
			if (ph.ChecksumMatches == nil) != (tt.wantMatch == nil) || (tt.wantMatch != nil && *ph.ChecksumMatches != *tt.wantMatch) {
				t.Errorf("checksum match %v, want %v", ph.ChecksumMatches, tt.wantMatch)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestScriptSafety: profile text cannot add iPXE commands, and a profile
// that picks its own initrd= and datasource keeps them.
func TestScriptSafety(t *testing.T) {
	h := &Handler{}
	p := inventory.Profile{Name: "p", Kernel: "http://mirror/vmlinuz", Initrd: []string{"a b"},
		Cmdline: "console=ttyS0\nshell\rexit initrd=mine ds=ec2"}
	s := h.kernelScript("c\nshell", p, "http://x/assets/", "http://x/seed/")
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	want := []string{"#!ipxe", "# strata boot server: c shell",
		"kernel http://mirror/vmlinuz console=ttyS0 shell exit initrd=mine ds=ec2",
		"initrd --name initrd0 http://x/assets/a%20b", "boot"}
	if !slices.Equal(lines, want) {
		t.Errorf("script lines\n got %q\nwant %q", lines, want)
	}
}
