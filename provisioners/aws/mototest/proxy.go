package mototest

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Faults is what a Proxy injects; the zero value passes everything.
type Faults struct {
	Throttle    float64 // share of calls answered RequestLimitExceeded
	Unavailable float64 // share answered 503 Unavailable
	ICEType     string  // launches of this type get InsufficientInstanceCapacity
	AuthFailure bool    // every call gets AuthFailure
	DenyRun     bool    // launches get UnauthorizedOperation with an encoded message
	DropRuns    int     // this many launches reach moto, then lose their answer
	// PendingUntil: instances moto reports running are reported pending.
	PendingUntil time.Time
	// PlacementGroups are the placement groups DescribePlacementGroups
	// finds (moto has none: it does not implement them).
	PlacementGroups []string
}

// Proxy stands between the SDK and moto and injects what moto cannot do:
// throttling, capacity and permission refusals, lost answers, and
// instances that stay pending.
type Proxy struct {
	URL string
	rp  *httputil.ReverseProxy

	mu    sync.Mutex
	f     Faults
	calls map[string]int // actions that reached moto; dry runs apart
}

// NewProxy serves a proxy of the EC2 endpoint at target until the test
// ends.
func NewProxy(t testing.TB, target string) *Proxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{rp: httputil.NewSingleHostReverseProxy(u), calls: map[string]int{}}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Set replaces the faults injected from now on.
func (p *Proxy) Set(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.f = f
}

// Count is how many calls of action reached moto ("RunInstances (dry
// run)" counts dry runs).
func (p *Proxy) Count(action string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[action]
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	action, dry := form.Get("Action"), form.Get("DryRun") == "true"
	run := action == "RunInstances" && !dry

	p.mu.Lock()
	f := p.f
	drop := run && p.f.DropRuns > 0
	if drop {
		p.f.DropRuns--
	}
	p.mu.Unlock()

	switch {
	case f.AuthFailure:
		ec2Error(w, 401, "AuthFailure", "AWS was not able to validate the provided access credentials")
		return
	case action == "DecodeAuthorizationMessage":
		fmt.Fprintf(w, `<DecodeAuthorizationMessageResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><DecodeAuthorizationMessageResult><DecodedMessage>{"allowed":false,"context":{"action":"ec2:RunInstances"}}</DecodedMessage></DecodeAuthorizationMessageResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DecodeAuthorizationMessageResponse>`)
		return
	case action == "DescribePlacementGroups":
		placementGroups(w, form, f.PlacementGroups)
		return
	case f.DenyRun && action == "RunInstances":
		ec2Error(w, 403, "UnauthorizedOperation", "You are not authorized to perform this operation. Encoded authorization failure message: c2VjcmV0LXJlYXNvbg")
		return
	case f.Throttle > 0 && rand.Float64() < f.Throttle:
		ec2Error(w, 503, "RequestLimitExceeded", "Request limit exceeded.")
		return
	case f.Unavailable > 0 && rand.Float64() < f.Unavailable:
		ec2Error(w, 503, "Unavailable", "The server is overloaded and cannot handle the request.")
		return
	case run && f.ICEType != "" && form.Get("InstanceType") == f.ICEType:
		ec2Error(w, 500, "InsufficientInstanceCapacity", "We currently do not have sufficient "+f.ICEType+" capacity in the Availability Zone you requested.")
		return
	}
	p.mu.Lock()
	if dry {
		action += " (dry run)"
	}
	p.calls[action]++
	p.mu.Unlock()

	rec := httptest.NewRecorder()
	p.rp.ServeHTTP(rec, r)
	if drop {
		// The launch went through; its answer never arrives.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	out := rec.Body.Bytes()
	if action == "DescribeInstances" && time.Now().Before(f.PendingUntil) {
		out = pendingRE(out)
	}
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(out)
}

// pendingRE reports every running instance as pending, whatever moto's
// whitespace.
func pendingRE(b []byte) []byte {
	s := string(b)
	for {
		i := strings.Index(s, "<name>running</name>")
		if i < 0 {
			return []byte(s)
		}
		s = s[:i] + "<name>pending</name>" + s[i+len("<name>running</name>"):]
	}
}

func ec2Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>strata-proxy</RequestID></Response>`, code, msg)
}

// placementGroups answers DescribePlacementGroups by GroupName.N from
// have, as EC2 does: all named groups, or InvalidPlacementGroup.Unknown.
func placementGroups(w http.ResponseWriter, form url.Values, have []string) {
	var items strings.Builder
	for i := 1; form.Has(fmt.Sprintf("GroupName.%d", i)); i++ {
		name := form.Get(fmt.Sprintf("GroupName.%d", i))
		if !slices.Contains(have, name) {
			ec2Error(w, 400, "InvalidPlacementGroup.Unknown", fmt.Sprintf("The Placement Group '%s' is unknown.", name))
			return
		}
		fmt.Fprintf(&items, "<item><groupName>%s</groupName><strategy>spread</strategy><state>available</state></item>", name)
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<DescribePlacementGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>strata-proxy</requestId><placementGroupSet>%s</placementGroupSet></DescribePlacementGroupsResponse>`, items.String())
}
