package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stratastack/strata/provisioners/baremetal/api"
	"github.com/stratastack/strata/provisioners/baremetal/inventory"
)

// iPXE scripts are plain text; iPXE ignores the type but curl users and
// proxies should not guess.
const scriptType = "text/plain; charset=utf-8"

// bootScript answers GET /boot.ipxe?mac=${mac}, the URL DHCP hands iPXE.
func (h *Handler) bootScript(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	raw := r.URL.Query().Get("mac")
	mac, err := api.CanonicalMAC(raw)
	if err != nil {
		// 200 with a script, not 400: iPXE only shows a script's output, and
		// a console that says why is worth more than "Operation not
		// permitted (https://ipxe.org/...)".
		h.log.Warn("boot script asked for without a valid MAC", "mac", consoleSafe(raw), "remote", r.RemoteAddr)
		writeScript(w, messageScript("strata boot server: the boot script URL needs ?mac=<the NIC's MAC>, got "+quoteForConsole(raw)))
		return
	}
	m, err := h.store.MachineByMAC(ctx, mac)
	switch {
	case errors.Is(err, inventory.ErrNotFound):
		h.unknownMAC(w, r, mac)
		return
	case err != nil:
		h.internalError(w, "looking up MAC", err)
		return
	}
	if r.Method == http.MethodGet && m.State != api.StateDHCP {
		// iPXE asking by MAC proves the machine got an address, even when
		// another DHCP server gave it (proxy mode, a lab's own DHCP), and the
		// provisioner's "no DHCP seen" must not blame a machine that is
		// already this far. Our DHCP server usually recorded it already.
		h.setState(r, m.Name, api.StateDHCP)
	}
	u := h.base + "/machines/" + url.PathEscape(m.Name) + "/boot.ipxe?token=" + url.QueryEscape(m.Token)
	writeScript(w, "#!ipxe\n# strata boot server: machine "+m.Name+"\nchain "+u+"\n")
}

// unknownMAC serves the discovery profile, or a message and exit so that
// the firmware goes on to its next boot device (typically the local disk):
// a machine we do not know must not be stuck in a PXE loop.
func (h *Handler) unknownMAC(w http.ResponseWriter, r *http.Request, mac string) {
	if h.discovery == "" {
		h.log.Info("unknown MAC asked for a boot script", "mac", mac, "remote", r.RemoteAddr)
		writeScript(w, messageScript("strata boot server: no machine is registered with MAC "+mac+"; booting the next device"))
		return
	}
	p, ok := h.discoveryProfile(r.Context())
	if !ok {
		writeScript(w, messageScript("strata boot server: MAC "+mac+" is unknown and discovery is not available (see the server log)"))
		return
	}
	h.log.Info("unknown MAC sent to discovery", "mac", mac, "profile", p.Name, "remote", r.RemoteAddr)
	seed := h.base + "/discovery/" + strings.ReplaceAll(mac, ":", "-") + "/"
	writeScript(w, h.kernelScript("discovery of "+mac, p, h.base+"/assets/", seed))
}

// discoveryProfile returns the configured discovery profile if it exists and
// is marked Discovery. The flag is a second opt-in: whatever a discovery
// profile holds is served to any unknown machine, so a profile with secrets
// cannot become the discovery profile by a typo in the server's flags.
func (h *Handler) discoveryProfile(ctx context.Context) (inventory.Profile, bool) {
	p, err := h.store.GetProfile(ctx, h.discovery)
	if err != nil {
		h.log.Warn("discovery profile unavailable", "profile", h.discovery, "err", err)
		return inventory.Profile{}, false
	}
	if !p.Discovery {
		h.log.Warn("discovery profile is not marked discovery; refusing to serve it to unknown machines", "profile", p.Name)
		return inventory.Profile{}, false
	}
	return p, true
}

// machineScript answers GET /machines/<name>/boot.ipxe?token=T.
func (h *Handler) machineScript(w http.ResponseWriter, r *http.Request) {
	m, ok := h.machine(w, r, r.PathValue("name"), r.URL.Query().Get("token"))
	if !ok {
		return
	}
	p, ok := h.profile(w, r, m)
	if !ok {
		return
	}
	prefix := h.machinePrefix(m)
	if r.Method == http.MethodGet {
		h.setState(r, m.Name, api.StateScriptFetched)
	}
	writeScript(w, h.kernelScript("machine "+m.Name+", profile "+p.Name, p, prefix+"assets/", prefix))
}

// machinePrefix is the token-bound URL prefix of a machine's files: the
// cloud-init seed, its assets and its phone-home. The token is in the path,
// not the query, because NoCloud appends "user-data" and "meta-data" to the
// seed URL.
func (h *Handler) machinePrefix(m inventory.Machine) string {
	return h.base + "/machines/" + url.PathEscape(m.Name) + "/" + m.Token + "/"
}

// kernelScript renders the iPXE script that boots p. assetBase is where
// relative kernel/initrd paths are fetched from; seed is the NoCloud seed URL.
//
// Each initrd is given a name and listed as initrd=<name> on the command
// line: UEFI kernels (the EFI stub) find their initrds that way, BIOS ones
// ignore it. Profile strings go through scriptSafe because a newline in a
// command line would otherwise start a new iPXE command.
func (h *Handler) kernelScript(comment string, p inventory.Profile, assetBase, seed string) string {
	var b strings.Builder
	b.WriteString("#!ipxe\n# strata boot server: " + scriptSafe(comment) + "\n")
	args := []string{assetURL(assetBase, p.Kernel)}
	userSetInitrd := false
	for f := range strings.FieldsSeq(p.Cmdline) {
		userSetInitrd = userSetInitrd || strings.HasPrefix(f, "initrd=")
	}
	if !userSetInitrd {
		for i := range p.Initrd {
			args = append(args, fmt.Sprintf("initrd=initrd%d", i))
		}
	}
	if c := strings.TrimSpace(p.Cmdline); c != "" {
		args = append(args, c)
	}
	if !hasDatasource(p.Cmdline) {
		// nocloud-net rather than nocloud: older cloud-init only fetches a
		// seed over HTTP under that name, newer releases accept it as an
		// alias.
		args = append(args, "ds=nocloud-net;s="+seed)
	}
	b.WriteString("kernel " + scriptSafe(strings.Join(args, " ")) + "\n")
	for i, rd := range p.Initrd {
		fmt.Fprintf(&b, "initrd --name initrd%d %s\n", i, scriptSafe(assetURL(assetBase, rd)))
	}
	b.WriteString("boot\n")
	return b.String()
}

// hasDatasource reports whether the profile picks its own cloud-init
// datasource, in which case ours is not appended.
func hasDatasource(cmdline string) bool {
	for f := range strings.FieldsSeq(cmdline) {
		if strings.HasPrefix(f, "ds=") {
			return true
		}
	}
	return false
}

// messageScript prints msg on the console and returns to the firmware.
func messageScript(msg string) string {
	return "#!ipxe\necho " + scriptSafe(msg) + "\nexit\n"
}

func writeScript(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", scriptType)
	// Scripts carry tokens and change with the inventory.
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, s)
}

// scriptSafe replaces control characters (newlines above all) with spaces so
// that text from a profile or a request stays on its iPXE line.
func scriptSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// quoteForConsole shows a request value on the console, short and reduced
// to characters a MAC could plausibly contain: iPXE would expand "$" as a
// setting, and a space would let "||" or "&&" in the value become an iPXE
// operator on the echo line.
func quoteForConsole(s string) string {
	if s == "" {
		return "nothing"
	}
	return "'" + consoleSafe(s) + "'"
}

func consoleSafe(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', strings.ContainsRune(":-._{}", r):
			return r
		}
		return '?'
	}, s)
}

// machine looks up the machine a per-machine request names and checks its
// token. An unknown machine gets the same 403 as a wrong token, so the
// answer does not say which machine names exist.
func (h *Handler) machine(w http.ResponseWriter, r *http.Request, name, token string) (inventory.Machine, bool) {
	m, err := h.store.GetMachine(r.Context(), name)
	if err != nil && !errors.Is(err, inventory.ErrNotFound) {
		h.internalError(w, "looking up machine", err)
		return inventory.Machine{}, false
	}
	if err != nil || !m.TokenMatches(token) {
		// The path holds the presented token: log the route, not the URL.
		h.log.Warn("refused a per-machine request: unknown machine or wrong token",
			"machine", name, "route", r.Pattern, "remote", r.RemoteAddr)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "forbidden: this URL belongs to another machine or its token is wrong", http.StatusForbidden)
		return inventory.Machine{}, false
	}
	return m, true
}

func (h *Handler) profile(w http.ResponseWriter, r *http.Request, m inventory.Machine) (inventory.Profile, bool) {
	p, err := h.store.GetProfile(r.Context(), m.Profile)
	if err != nil {
		// The inventory refuses to delete a profile in use, so this is a
		// broken store or a race with re-registration, not a client error.
		h.internalError(w, "machine "+m.Name+": reading its profile", err)
		return inventory.Profile{}, false
	}
	return p, true
}

// userData answers GET /machines/<name>/<token>/user-data.
func (h *Handler) userData(w http.ResponseWriter, r *http.Request) {
	m, ok := h.machine(w, r, r.PathValue("name"), r.PathValue("token"))
	if !ok {
		return
	}
	p, ok := h.profile(w, r, m)
	if !ok {
		return
	}
	writeData(w, p.UserData)
}

// metaData answers GET /machines/<name>/<token>/meta-data with the NoCloud
// meta-data cloud-init requires.
func (h *Handler) metaData(w http.ResponseWriter, r *http.Request) {
	m, ok := h.machine(w, r, r.PathValue("name"), r.PathValue("token"))
	if !ok {
		return
	}
	p, ok := h.profile(w, r, m)
	if !ok {
		return
	}
	writeData(w, metaData(instanceID(m, p), m.Name))
}

// instanceID changes whenever what the machine should run changes (a new
// registration, another profile, other user-data), because cloud-init runs
// its once-per-instance modules again only when the instance-id changes. It
// is a hash, so it reveals nothing about the user-data or the token.
func instanceID(m inventory.Machine, p inventory.Profile) string {
	sum := sha256.New()
	fmt.Fprintf(sum, "%s\x00%s\x00", m.Created.UTC().Format(time.RFC3339Nano), p.Name)
	sum.Write(p.UserData)
	return "strata-" + m.Name + "-" + hex.EncodeToString(sum.Sum(nil))[:12]
}

// metaData renders NoCloud meta-data. Values are double-quoted so that YAML
// reads a name like "true" or "1e3" as a string; names and MACs never
// contain quotes or backslashes.
func metaData(instanceID, hostname string) []byte {
	return fmt.Appendf(nil, "instance-id: %q\nlocal-hostname: %q\n", instanceID, hostname)
}

// vendorData answers an empty vendor-data: some cloud-init releases fetch it
// from a NoCloud seed, and an empty 200 is quieter than a 404.
func (h *Handler) vendorData(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.machine(w, r, r.PathValue("name"), r.PathValue("token")); ok {
		writeData(w, nil)
	}
}

// discoveryData answers GET /discovery/<mac>/{user-data,meta-data,vendor-data}
// for unknown machines booted into discovery. There is no token: the machine
// is unknown, and the discovery profile is by definition given to anyone.
func (h *Handler) discoveryData(w http.ResponseWriter, r *http.Request) {
	mac, err := api.CanonicalMAC(r.PathValue("mac"))
	file := r.PathValue("file")
	if err != nil || h.discovery == "" || (file != "user-data" && file != "meta-data" && file != "vendor-data") {
		http.NotFound(w, r)
		return
	}
	p, ok := h.discoveryProfile(r.Context())
	if !ok {
		http.NotFound(w, r)
		return
	}
	var body []byte // vendor-data stays empty
	switch file {
	case "user-data":
		body = p.UserData
	case "meta-data":
		id := "discovery-" + strings.ReplaceAll(mac, ":", "-")
		body = metaData(id, id)
	}
	writeData(w, body)
}

func writeData(w http.ResponseWriter, b []byte) {
	ct := "text/plain; charset=utf-8"
	if !utf8.Valid(b) {
		ct = "application/octet-stream" // e.g. gzip-compressed user-data
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// maxChecksumLen bounds the reported checksum kept in memory and shown by
// the API; real checksums are at most 128 hex digits (SHA-512).
const maxChecksumLen = 256

// phoneHomeReport answers POST /machines/<name>/<token>/phone-home: the
// booted OS says it is up, and the machine becomes ready.
func (h *Handler) phoneHomeReport(w http.ResponseWriter, r *http.Request) {
	m, ok := h.machine(w, r, r.PathValue("name"), r.PathValue("token"))
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPhoneHomeBytes))
	if err != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			http.Error(w, fmt.Sprintf("phone-home body larger than %d bytes; send a checksum, not a log", MaxPhoneHomeBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading phone-home body: "+err.Error(), http.StatusBadRequest)
		return
	}
	checksum, err := parseChecksum(r.Header.Get("Content-Type"), body)
	if err != nil {
		h.log.Warn("refused phone-home body", "machine", m.Name, "err", err)
		http.Error(w, "phone-home body: "+err.Error(), http.StatusBadRequest)
		return
	}
	rep := inventory.PhoneHome{At: time.Now().UTC(), Remote: r.RemoteAddr, Checksum: checksum, BodyBytes: len(body)}
	bs := sha256.Sum256(body)
	rep.BodySHA256 = hex.EncodeToString(bs[:])
	if isSHA256Hex(checksum) {
		if p, err := h.store.GetProfile(r.Context(), m.Profile); err == nil {
			us := sha256.Sum256(p.UserData)
			match := strings.EqualFold(checksum, hex.EncodeToString(us[:]))
			rep.ChecksumMatches = &match
		}
	}
	if _, err := h.store.RecordPhoneHome(r.Context(), m.Name, rep); err != nil {
		// Not recorded means not ready: fail so the machine retries.
		h.internalError(w, "machine "+m.Name+": recording phone-home", err)
		return
	}
	attrs := []any{"machine", m.Name, "state", api.StateReady, "checksum", checksum, "remote", r.RemoteAddr}
	if rep.ChecksumMatches != nil {
		attrs = append(attrs, "checksum_matches_user_data", *rep.ChecksumMatches)
	}
	h.log.Info("machine phoned home", attrs...)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ready\n")
}

// parseChecksum takes the checksum from a phone-home body in the forms a
// small init can produce: JSON {"checksum": "..."}, a form "checksum=...",
// or plain text whose first word is the checksum (`sha256sum` output). An
// empty body is fine: the phone-home itself is what marks the machine ready.
func parseChecksum(contentType string, body []byte) (string, error) {
	trimmed := bytes.TrimSpace(body)
	var sum string
	switch {
	case len(trimmed) == 0:
		return "", nil
	case strings.HasPrefix(contentType, "application/json") || trimmed[0] == '{':
		var v struct {
			Checksum string `json:"checksum"`
		}
		if err := json.Unmarshal(trimmed, &v); err != nil {
			return "", fmt.Errorf("not valid JSON: %w", err)
		}
		sum = v.Checksum
	case strings.HasPrefix(contentType, "application/x-www-form-urlencoded") || bytes.Contains(trimmed, []byte("checksum=")):
		q, err := url.ParseQuery(string(trimmed))
		if err != nil {
			return "", fmt.Errorf("not a valid form: %w", err)
		}
		sum = q.Get("checksum")
	default:
		sum = strings.Fields(string(trimmed))[0]
	}
	if len(sum) > maxChecksumLen {
		return "", fmt.Errorf("checksum longer than %d characters", maxChecksumLen)
	}
	for _, c := range []byte(sum) {
		if c <= ' ' || c >= 0x7f {
			return "", errors.New("checksum must be printable ASCII without spaces")
		}
	}
	return sum, nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// setState records boot progress. A failure is logged, not returned to the
// machine: a boot that works matters more than its bookkeeping, and the
// provisioner's timeout reports a machine whose progress was not recorded.
func (h *Handler) setState(r *http.Request, name string, st inventory.State) {
	if h.progress != nil {
		h.progress.Record(name, st) // it logs its own failures
		h.log.Info("boot progress", "machine", name, "state", st, "remote", r.RemoteAddr)
		return
	}
	if _, err := h.store.SetState(r.Context(), name, st); err != nil {
		h.log.Error("recording boot progress failed", "machine", name, "state", st, "err", err)
		return
	}
	h.log.Info("boot progress", "machine", name, "state", st, "remote", r.RemoteAddr)
}

func (h *Handler) internalError(w http.ResponseWriter, what string, err error) {
	h.log.Error(what, "err", err)
	http.Error(w, "internal error: "+what, http.StatusInternalServerError)
}
