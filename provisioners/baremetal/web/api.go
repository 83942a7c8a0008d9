package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"

	"github.com/stratastack/strata/provisioners/baremetal/api"
	"github.com/stratastack/strata/provisioners/baremetal/inventory"
)

// auth requires "Authorization: Bearer <APIToken>". Both sides are hashed
// before the constant-time compare, so neither the content nor the length of
// the configured token leaks through response timing.
func (h *Handler) auth(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " ")
		if !found || !strings.EqualFold(scheme, "Bearer") {
			// RFC 6750 section 3: no credentials, no error code.
			w.Header().Set("WWW-Authenticate", `Bearer realm="strata"`)
			apiError(w, http.StatusUnauthorized, "this API needs an Authorization: Bearer <token> header", "")
			return
		}
		if !h.tokenMatches(strings.TrimSpace(tok)) {
			h.log.Warn("refused an API request: wrong bearer token", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="strata", error="invalid_token"`)
			apiError(w, http.StatusUnauthorized, "wrong API token", "")
			return
		}
		next(w, r)
	})
}

func apiError(w http.ResponseWriter, status int, msg, field string) {
	writeJSON(w, status, api.Error{Error: msg, Field: field})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow ...string) {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	apiError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")), "")
}

// storeError answers an inventory error. Its messages name no secrets (the
// inventory keeps tokens and user-data out of them), so they are passed on.
func (h *Handler) storeError(w http.ResponseWriter, err error, field string) {
	switch {
	case errors.Is(err, inventory.ErrInvalid):
		apiError(w, http.StatusBadRequest, err.Error(), field)
	case errors.Is(err, inventory.ErrNotFound):
		apiError(w, http.StatusNotFound, err.Error(), "")
	case errors.Is(err, inventory.ErrConflict), errors.Is(err, inventory.ErrInUse):
		apiError(w, http.StatusConflict, err.Error(), field)
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer.
		apiError(w, http.StatusServiceUnavailable, "request cancelled", "")
	default:
		h.log.Error("inventory failure", "err", err)
		apiError(w, http.StatusInternalServerError, "internal error in the inventory; see the server log", "")
	}
}

// decodeJSON reads one JSON value into v, strictly: unknown fields are
// errors (a misspelt field must not be silently ignored), and so is
// trailing data. It answers the error itself and reports whether to go on.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxAPIBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			apiError(w, http.StatusBadRequest, "request body has data after the JSON object", "")
			return false
		}
		return true
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", MaxAPIBodyBytes), "")
		return false
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		apiError(w, http.StatusBadRequest, fmt.Sprintf("field %q: expected %s, got JSON %s", te.Field, te.Type, te.Value), te.Field)
		return false
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		msg := fmt.Sprintf("unknown field %q", f)
		switch f {
		case "token", "state", "history", "created", "updated":
			msg = fmt.Sprintf("field %q is set by the boot server, not by clients", f)
		case "bmc_password", "password":
			msg = fmt.Sprintf("field %q is refused: BMC passwords never reach the boot server; they come from the environment or write-only provider attributes", f)
		}
		apiError(w, http.StatusBadRequest, msg, f)
		return false
	}
	if errors.Is(err, io.EOF) {
		apiError(w, http.StatusBadRequest, "request body is empty; send a JSON object", "")
		return false
	}
	apiError(w, http.StatusBadRequest, "request body is not valid JSON: "+err.Error(), "")
	return false
}

func (h *Handler) viewMachine(m inventory.Machine) api.MachineView {
	v := api.MachineView{
		Name: m.Name, MAC: m.MAC, IP: m.IP, BMC: m.BMC, BMCUser: m.BMCUser, Profile: m.Profile,
		Labels: m.Labels, Tags: m.Tags, State: m.State, History: m.History,
		Created: m.Created, Updated: m.Updated, PhoneHome: m.PhoneHome,
	}
	return v
}

func (h *Handler) apiMachines(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.listMachines(w, r)
	case http.MethodPost:
		h.registerMachine(w, r)
	default:
		methodNotAllowed(w, r, "GET", "POST")
	}
}

// listMachines answers GET /api/v1/machines?tag=KEY=VALUE&tag=...: machines
// whose tags include every pair. Any other query parameter is an error,
// because a misspelt filter that was ignored would list every machine, and
// the caller may be about to delete what it lists.
func (h *Handler) listMachines(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if k != "tag" {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("unknown query parameter %q; filter with tag=KEY=VALUE", k), k)
			return
		}
	}
	tags := map[string]string{}
	for _, t := range q["tag"] {
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("tag filter %q: write tag=KEY=VALUE", t), "tag")
			return
		}
		if old, dup := tags[k]; dup && old != v {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("tag %q is filtered on twice with different values", k), "tag")
			return
		}
		tags[k] = v
	}
	ms, err := h.store.ListMachines(r.Context(), tags)
	if err != nil {
		h.storeError(w, err, "")
		return
	}
	out := make([]api.MachineView, 0, len(ms))
	for _, m := range ms {
		out = append(out, h.viewMachine(m))
	}
	writeJSON(w, http.StatusOK, out)
}

// registerMachine answers POST /api/v1/machines. It is an upsert, like
// inventory.PutMachine: 201 when the machine is new, 200 when it was
// re-registered (which keeps its token and progress unless its MAC or
// profile changed), so a provisioner retrying after a crash needs no
// special case.
func (h *Handler) registerMachine(w http.ResponseWriter, r *http.Request) {
	var req api.MachineRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	for _, f := range []struct{ name, val string }{{"name", req.Name}, {"mac", req.MAC}, {"profile", req.Profile}} {
		if f.val == "" {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("field %q is required", f.name), f.name)
			return
		}
	}
	if _, err := api.CanonicalMAC(req.MAC); err != nil {
		apiError(w, http.StatusBadRequest, "field \"mac\": "+err.Error(), "mac")
		return
	}
	m := inventory.Machine{
		Name: req.Name, MAC: req.MAC, BMC: req.BMC, BMCUser: req.BMCUser,
		Profile: req.Profile, Labels: req.Labels, Tags: req.Tags,
	}
	if req.IP != "" {
		ip, err := netip.ParseAddr(req.IP)
		if err != nil {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("field \"ip\": %q is not an IP address", req.IP), "ip")
			return
		}
		m.IP = ip
	}
	if req.BMC != "" {
		if u, err := url.Parse(req.BMC); err != nil || u.Host == "" || (u.Scheme != "ipmi" && u.Scheme != "redfish") {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("field \"bmc\": %q is not ipmi://HOST[:PORT] or redfish://HOST[:PORT]", req.BMC), "bmc")
			return
		}
	}
	saved, err := h.store.PutMachine(r.Context(), m)
	switch {
	case errors.Is(err, inventory.ErrNotFound):
		// The machine is the thing being created; what is missing is the
		// profile it references, which is bad input, not a missing URL.
		apiError(w, http.StatusBadRequest, "field \"profile\": "+err.Error(), "profile")
		return
	case errors.Is(err, inventory.ErrConflict):
		h.storeError(w, err, "mac")
		return
	case errors.Is(err, inventory.ErrInvalid):
		h.storeError(w, err, invalidField(err))
		return
	case err != nil:
		h.storeError(w, err, "")
		return
	}
	status := http.StatusOK
	// PutMachine stamps Created and Updated with one clock reading only when
	// it creates the record.
	if saved.Created.Equal(saved.Updated) {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/machines/"+url.PathEscape(saved.Name))
	}
	h.log.Info("machine registered", "machine", saved, "created", status == http.StatusCreated)
	writeJSON(w, status, h.viewMachine(saved))
}

// invalidField guesses which field an inventory ErrInvalid is about from its
// message, which says "<kind> name", "BMC", and so on.
func invalidField(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, " name "):
		return "name"
	case strings.Contains(msg, "BMC"):
		return "bmc"
	case strings.Contains(msg, "MAC"):
		return "mac"
	}
	return ""
}

func (h *Handler) apiMachine(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		m, err := h.store.GetMachine(r.Context(), name)
		if err != nil {
			h.storeError(w, err, "")
			return
		}
		writeJSON(w, http.StatusOK, h.viewMachine(m))
	case http.MethodDelete:
		if err := h.store.DeleteMachine(r.Context(), name); err != nil {
			h.storeError(w, err, "")
			return
		}
		h.log.Info("machine deleted", "machine", name)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		var req api.TagsRequest
		if !decodeJSON(w, r, &req) {
			return
		}
		if len(req.Tags) == 0 {
			apiError(w, http.StatusBadRequest, "PATCH takes {\"tags\": {KEY: VALUE, ...}} with at least one tag", "tags")
			return
		}
		m, err := h.store.SetTags(r.Context(), name, req.Tags)
		if err != nil {
			h.storeError(w, err, "")
			return
		}
		writeJSON(w, http.StatusOK, h.viewMachine(m))
	default:
		methodNotAllowed(w, r, "GET", "DELETE", "PATCH")
	}
}

func viewProfile(p inventory.Profile) api.ProfileView {
	return api.ProfileView{Name: p.Name, Kernel: p.Kernel, Initrd: p.Initrd, Cmdline: p.Cmdline,
		Discovery: p.Discovery, UserDataBytes: len(p.UserData)}
}

func (h *Handler) apiProfiles(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET")
		return
	}
	if len(r.URL.Query()) > 0 {
		apiError(w, http.StatusBadRequest, "GET /api/v1/profiles takes no query parameters", "")
		return
	}
	ps, err := h.store.ListProfiles(r.Context())
	if err != nil {
		h.storeError(w, err, "")
		return
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	out := make([]api.ProfileView, 0, len(ps))
	for _, p := range ps {
		out = append(out, viewProfile(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) apiProfile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p, err := h.store.GetProfile(r.Context(), name)
		if err != nil {
			h.storeError(w, err, "")
			return
		}
		writeJSON(w, http.StatusOK, viewProfile(p))
	case http.MethodPut:
		h.putProfile(w, r, name)
	case http.MethodDelete:
		if err := h.store.DeleteProfile(r.Context(), name); err != nil {
			h.storeError(w, err, "")
			return
		}
		h.log.Info("profile deleted", "profile", name)
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w, r, "GET", "PUT", "DELETE")
	}
}

// putProfile answers PUT /api/v1/profiles/<name>: 201 when created, 200 when
// replaced. Two concurrent PUTs of one name may both answer 201; the store
// itself stays consistent.
func (h *Handler) putProfile(w http.ResponseWriter, r *http.Request, name string) {
	var req api.ProfileRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.Name != "" && req.Name != name {
		apiError(w, http.StatusBadRequest, fmt.Sprintf("field \"name\" is %q but the URL names profile %q", req.Name, name), "name")
		return
	}
	if req.Kernel == "" {
		apiError(w, http.StatusBadRequest, "field \"kernel\" is required: an asset path (e.g. \"vmlinuz\") or an http(s) URL", "kernel")
		return
	}
	refs := []struct{ field, val string }{{"kernel", req.Kernel}}
	for i, rd := range req.Initrd {
		refs = append(refs, struct{ field, val string }{fmt.Sprintf("initrd[%d]", i), rd})
	}
	for _, ref := range refs {
		if err := checkBootRef(ref.val); err != nil {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("field %q: %v", ref.field, err), ref.field)
			return
		}
	}
	if strings.ContainsFunc(req.Cmdline, isControl) {
		// It is pasted into an iPXE script line.
		apiError(w, http.StatusBadRequest, "field \"cmdline\" contains a control character (a newline?); write the command line on one line", "cmdline")
		return
	}
	p := inventory.Profile{Name: name, Kernel: req.Kernel, Initrd: req.Initrd, Cmdline: req.Cmdline, Discovery: req.Discovery}
	old, err := h.store.GetProfile(r.Context(), name)
	exists := err == nil
	if err != nil && !errors.Is(err, inventory.ErrNotFound) {
		h.storeError(w, err, "")
		return
	}
	switch {
	case req.UserData != nil && req.UserDataBase64 != nil:
		apiError(w, http.StatusBadRequest, "give either \"user_data\" or \"user_data_base64\", not both", "user_data_base64")
		return
	case req.UserData != nil:
		p.UserData = []byte(*req.UserData)
	case req.UserDataBase64 != nil:
		b, err := base64.StdEncoding.DecodeString(*req.UserDataBase64)
		if err != nil {
			apiError(w, http.StatusBadRequest, "field \"user_data_base64\" is not standard base64: "+err.Error(), "user_data_base64")
			return
		}
		p.UserData = b
	default:
		p.UserData = old.UserData
	}
	if err := h.store.PutProfile(r.Context(), p); err != nil {
		h.storeError(w, err, invalidField(err))
		return
	}
	status := http.StatusOK
	if !exists {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/profiles/"+url.PathEscape(name))
	}
	h.log.Info("profile saved", "profile", p, "created", !exists)
	writeJSON(w, status, viewProfile(p))
}

// checkBootRef accepts what scripts can use for a kernel or initrd: an
// http(s) or tftp URL, or an asset path without "..". Whitespace and control
// characters would split or end the iPXE line.
func checkBootRef(ref string) error {
	if ref == "" {
		return errors.New("empty")
	}
	if strings.ContainsFunc(ref, func(r rune) bool { return isControl(r) || r == ' ' }) {
		return fmt.Errorf("%q contains spaces or control characters", ref)
	}
	u, err := url.Parse(ref)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", ref, err)
	}
	switch u.Scheme {
	case "http", "https", "tftp":
		if u.Host == "" {
			return fmt.Errorf("%q has no host", ref)
		}
		return nil
	case "":
		if _, ok := profileAsset(ref); !ok {
			return fmt.Errorf("%q is not a path inside the assets directory (no \"..\", not empty)", ref)
		}
		return nil
	}
	return fmt.Errorf("%q: scheme %q is not one iPXE fetches kernels over; use http, https or tftp, or an asset path", ref, u.Scheme)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
