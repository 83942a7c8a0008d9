package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/inventory"
	"github.com/stratastack/strata/provisioners/baremetal/power"
)

// The status page: GET / behind a login with the API token, the machines
// and their boot steps, kept live by server-sent events on /events. See
// the package documentation.

//go:embed page
var pageFiles embed.FS

const (
	// statusPoll is how often a live page's data is re-read from the
	// inventory; an event goes out only when what the page shows changed.
	statusPoll = 500 * time.Millisecond
	// keepAlive is how often an idle event stream gets a comment, so that
	// proxies and browsers do not time the connection out.
	keepAlive = 15 * time.Second
	// maxLoginBody bounds the login form: a token and little else.
	maxLoginBody = 4 << 10
)

// statusPage is the page's share of the Handler.
type statusPage struct {
	tmpl       *template.Template
	static     http.Handler
	sessions   *sessions
	stuckAfter time.Duration
	power      *powerCache // nil without Config.Power
	failDelay  time.Duration
	// stop ends the event streams when the server shuts down (they would
	// otherwise hold a graceful shutdown for its whole grace period) and
	// the background BMC questions when the handler closes.
	stop     context.Context
	stopNow  context.CancelFunc
	stopOnce sync.Once
}

func newStatusPage(cfg Config, h *Handler) (*statusPage, error) {
	funcs := template.FuncMap{"clock": clock, "since": since, "minutes": minutes}
	tmpl, err := template.New("page").Funcs(funcs).ParseFS(pageFiles, "page/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: status page templates: %w", err)
	}
	static, err := fs.Sub(pageFiles, "page")
	if err != nil {
		return nil, err
	}
	p := &statusPage{
		tmpl:       tmpl,
		static:     http.StripPrefix("/page/", http.FileServerFS(static)),
		sessions:   newSessions(),
		stuckAfter: cfg.StuckAfter,
		failDelay:  loginFailDelay,
	}
	if p.stuckAfter <= 0 {
		p.stuckAfter = DefaultStuckAfter
	}
	p.stop, p.stopNow = context.WithCancel(context.Background())
	if cfg.Power != nil {
		p.power = newPowerCache(p.stop, cfg.Power, h.log)
	}
	return p, nil
}

func (h *Handler) pageRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /{$}", h.statusPage)
	m.HandleFunc("POST /login", h.login)
	m.HandleFunc("POST /logout", h.logout)
	m.HandleFunc("GET /events", h.statusEvents)
	// The page's CSS and script: not secret, the login form needs them.
	m.HandleFunc("GET /page/{file}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("file") == "" || strings.HasSuffix(r.PathValue("file"), ".html") {
			http.NotFound(w, r) // templates are rendered, not served
			return
		}
		h.page.static.ServeHTTP(w, r)
	})
}

// stopStreams ends every event stream; Serve calls it when shutting down.
func (h *Handler) stopStreams() { h.page.stopOnce.Do(h.page.stopNow) }

// pageHeaders are set on every answer of the page's own: nothing from
// elsewhere runs in it, nothing frames it, nothing caches it, and no
// Referer leaves it.
func pageHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
}

// loggedIn reports whether r carries a live session cookie.
func (h *Handler) loggedIn(r *http.Request) bool {
	c, err := r.Cookie(sessionCookie)
	return err == nil && h.page.sessions.valid(c.Value, time.Now())
}

// statusPage answers GET /: the page when logged in, the login form if not.
func (h *Handler) statusPage(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w)
	if !h.loggedIn(r) {
		h.renderLogin(w, http.StatusOK, "")
		return
	}
	v, err := h.statusView(r.Context(), time.Now())
	if err != nil {
		h.log.Error("status page: reading the inventory", "err", err)
		http.Error(w, "internal error reading the inventory; see the server log", http.StatusInternalServerError)
		return
	}
	h.render(w, http.StatusOK, "status.html", v)
}

func (h *Handler) renderLogin(w http.ResponseWriter, status int, msg string) {
	h.render(w, status, "login.html", struct{ Error string }{msg})
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer
	if err := h.page.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		h.log.Error("status page: template", "template", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// login answers POST /login with the form's token: a session cookie and a
// redirect to the page, or the form again with a message and nothing else.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w)
	now := time.Now()
	if h.page.sessions.limited(r.RemoteAddr, now) {
		h.log.Warn("status page: login refused, too many failures", "remote", r.RemoteAddr)
		w.Header().Set("Retry-After", fmt.Sprint(int(loginWindow.Seconds())))
		h.renderLogin(w, http.StatusTooManyRequests, "Too many wrong tokens from this address. Wait a minute and try again.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		h.renderLogin(w, http.StatusBadRequest, "The login form could not be read. Reload the page and try again.")
		return
	}
	// PostFormValue: a token in the URL's query would end up in logs and
	// history, so only the body counts.
	if !h.tokenMatches(strings.TrimSpace(r.PostFormValue("token"))) {
		h.page.sessions.failed(r.RemoteAddr, now)
		h.log.Warn("status page: wrong token at login", "remote", r.RemoteAddr)
		select { // slows guessing; the client's going away ends the wait
		case <-time.After(h.page.failDelay):
		case <-r.Context().Done():
			return
		}
		h.renderLogin(w, http.StatusUnauthorized, "Wrong token. Enter the boot server's API token (STRATA_BOOT_TOKEN).")
		return
	}
	id, exp := h.page.sessions.create(now)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", Expires: exp, MaxAge: int(sessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	h.log.Info("status page: logged in", "remote", r.RemoteAddr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout answers POST /logout: the session ends on the server, the cookie
// is cleared. POST, with a SameSite=Strict cookie, so another site cannot
// log a user out by a link.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w)
	if c, err := r.Cookie(sessionCookie); err == nil {
		h.page.sessions.end(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// statusEvents answers GET /events: a server-sent event stream, one
// "machines" event with the table's rows and the summary whenever they
// change. It ends when the session does (logout, expiry), so a browser
// left open does not outlive its login.
func (h *Handler) statusEvents(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w)
	if !h.loggedIn(r) {
		http.Error(w, "log in at / first", http.StatusUnauthorized)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	tick := time.NewTicker(statusPoll)
	defer tick.Stop()
	var last string
	lastWrite := time.Now()
	for {
		now := time.Now()
		if !h.loggedIn(r) {
			return
		}
		ev, err := h.statusEvent(r.Context(), now)
		if err != nil {
			h.log.Error("status page: reading the inventory", "err", err)
			return
		}
		switch {
		case ev != last:
			_, err = fmt.Fprintf(w, "event: machines\ndata: %s\n\n", ev)
			last, lastWrite = ev, now
		case now.Sub(lastWrite) >= keepAlive:
			_, err = io.WriteString(w, ": keep-alive\n\n")
			lastWrite = now
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return // the browser went away
		}
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		case <-h.page.stop.Done():
			return
		}
	}
}

// statusEvent is one event's data: JSON on one line (SSE data ends at a
// newline), with the rows rendered by the same template as the page.
func (h *Handler) statusEvent(ctx context.Context, now time.Time) (string, error) {
	v, err := h.statusView(ctx, now)
	if err != nil {
		return "", err
	}
	var rows bytes.Buffer
	if err := h.page.tmpl.ExecuteTemplate(&rows, "rows", v); err != nil {
		return "", err
	}
	b, err := json.Marshal(struct {
		Rows    string `json:"rows"`
		Summary string `json:"summary"`
	}{rows.String(), v.Summary})
	return string(b), err
}

// statusView is what the page shows. It is built field by field from the
// inventory, never from a whole Machine, so neither a machine's token nor
// a profile's user-data can reach the page; BMC passwords never reach the
// boot server at all.
type statusView struct {
	Machines   []machineRow
	Summary    string
	StuckAfter time.Duration
}

type machineRow struct {
	Name, MAC, Profile string
	Tags               []tag
	Power              string // what the Power column says
	PowerNote          string // why, when not a BMC's answer
	PowerClass         string // "on" or "off" when the BMC said so, for the stylesheet
	BMC                string
	Timeline           timeline
	// Progress is a short phrase for screen readers' change announcements.
	Progress string
}

type tag struct{ Key, Value string }

func (h *Handler) statusView(ctx context.Context, now time.Time) (statusView, error) {
	ms, err := h.store.ListMachines(ctx, nil)
	if err != nil {
		return statusView{}, err
	}
	v := statusView{StuckAfter: h.page.stuckAfter}
	var ready, stuck, failed int
	for _, m := range ms {
		row := machineRow{Name: m.Name, MAC: m.MAC, Profile: m.Profile, Tags: stackTags(m.Tags), BMC: m.BMC}
		off := h.powerOf(&row, m, now)
		row.Timeline = bootTimeline(m.History, now, h.page.stuckAfter, off)
		switch tl := row.Timeline; {
		case tl.Ready:
			ready++
			row.Progress = "phone-home, ready"
		case tl.Error:
			failed++
			row.Progress = "error"
		case tl.Stuck:
			stuck++
			row.Progress = "stuck waiting for " + tl.Next
		default:
			row.Progress = "waiting for " + tl.Next
		}
		v.Machines = append(v.Machines, row)
	}
	v.Summary = summary(len(ms), ready, stuck, failed)
	return v, nil
}

// powerOf fills in the row's power column and reports whether the machine
// is known to be off.
func (h *Handler) powerOf(row *machineRow, m inventory.Machine, now time.Time) bool {
	switch {
	case m.BMC == "":
		row.Power, row.PowerNote = "no BMC", "registered without a BMC"
		return false
	case h.page.power == nil:
		row.Power, row.PowerNote = "not shown", "no BMC credentials here"
		return false
	}
	e, ok := h.page.power.state(m.BMC, m.BMCUser, now)
	switch {
	case !ok:
		row.Power, row.PowerNote = "asking…", "waiting for the BMC's first answer"
	case e.failed:
		row.Power, row.PowerNote = "unknown", "the BMC did not answer (see the server log)"
	default:
		row.Power, row.PowerClass = e.state.String(), e.state.String()
	}
	return ok && !e.failed && e.state == power.Off
}

// stackTags are a machine's strata:* tags (stack, pool, role, layer, ...)
// without the prefix, sorted; other tags are not Strata's to show.
func stackTags(tags map[string]string) []tag {
	var out []tag
	for k, v := range tags {
		if short, ok := strings.CutPrefix(k, "strata:"); ok && short != "" {
			out = append(out, tag{short, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func summary(total, ready, stuck, failed int) string {
	if total == 0 {
		return "No machines registered."
	}
	noun := "machines"
	if total == 1 {
		noun = "machine"
	}
	s := fmt.Sprintf("%d %s: %d ready, %d booting", total, noun, ready, total-ready-stuck-failed)
	if stuck > 0 {
		s += fmt.Sprintf(", %d stuck", stuck)
	}
	if failed > 0 {
		s += fmt.Sprintf(", %d in error", failed)
	}
	return s + "."
}

// clock is a step's time as the page shows it (UTC, to the second).
func clock(t time.Time) string { return t.UTC().Format("15:04:05") }

// since is the time a step took, short: "+0.4 s", "+12 s", "+3 min".
func since(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < 10*time.Second:
		return fmt.Sprintf("+%.1f s", d.Seconds())
	case d < 2*time.Minute:
		return fmt.Sprintf("+%d s", int(d.Seconds()))
	}
	return fmt.Sprintf("+%d min", int(d.Minutes()))
}

// minutes says a threshold in words: "10 min", "90 s".
func minutes(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d s", int(d.Seconds()))
}
