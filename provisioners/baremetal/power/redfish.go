package power

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"
)

// redfishController drives a BMC over Redfish with gofish.
type redfishController struct {
	t        target
	creds    Credentials
	o        options
	endpoint string // https://host:port or http://host:port
	http     *http.Client
}

func openRedfish(ctx context.Context, t target, creds Credentials, o options) (Controller, error) {
	scheme := "https"
	if t.scheme == "redfish+http" {
		scheme = "http"
	}
	// Connecting and the TLS handshake get at most 10 s even when a slow
	// reset is given longer: a BMC that does not accept a connection in
	// 10 s is not there.
	connect := min(o.timeout, 10*time.Second)
	tr := &http.Transport{
		// No proxy: BMCs sit on management networks that proxies do not
		// reach, and a proxy would see the Basic credentials.
		Proxy:       nil,
		DialContext: (&net.Dialer{Timeout: connect}).DialContext,
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			RootCAs:    o.rootCAs,
			// Factory BMC certificates are self-signed; the user opts in.
			InsecureSkipVerify: o.insecureTLS || t.insecure, //nolint:gosec // explicit opt-in
		},
		TLSHandshakeTimeout: connect,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
	c := &redfishController{
		t:        t,
		creds:    creds,
		o:        o,
		endpoint: scheme + "://" + net.JoinHostPort(t.host, strconv.Itoa(t.port)),
		http:     &http.Client{Transport: tr, Timeout: o.timeout},
	}
	// Reading the system needs a login: a wrong address, certificate or
	// password shows up here.
	if err := c.session(ctx, "open", true, func(context.Context, *schemas.ComputerSystem) error { return nil }); err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	return c, nil
}

func (c *redfishController) Status(ctx context.Context) (State, error) {
	st := Unknown
	err := c.session(ctx, "read power state", true, func(_ context.Context, sys *schemas.ComputerSystem) error {
		st = redfishState(sys.PowerState)
		if st == Unknown {
			return fmt.Errorf("the BMC reports PowerState %q", sys.PowerState)
		}
		return nil
	})
	return st, err
}

func (c *redfishController) On(ctx context.Context) error {
	return c.session(ctx, "power on", true, func(_ context.Context, sys *schemas.ComputerSystem) error {
		if redfishState(sys.PowerState) == On {
			return nil
		}
		return reset(sys, schemas.OnResetType, schemas.ForceOnResetType)
	})
}

func (c *redfishController) Off(ctx context.Context) error {
	return c.session(ctx, "power off", true, func(_ context.Context, sys *schemas.ComputerSystem) error {
		if redfishState(sys.PowerState) == Off {
			return nil
		}
		return reset(sys, schemas.ForceOffResetType)
	})
}

// Cycle is not idempotent: session resends it only when the BMC said it
// did not act (503, 429) or the request never left.
func (c *redfishController) Cycle(ctx context.Context) error {
	return c.session(ctx, "power cycle", false, func(_ context.Context, sys *schemas.ComputerSystem) error {
		if redfishState(sys.PowerState) == Off {
			return reset(sys, schemas.OnResetType, schemas.ForceOnResetType)
		}
		return reset(sys, schemas.PowerCycleResetType, schemas.ForceRestartResetType)
	})
}

func (c *redfishController) BootPXE(ctx context.Context) error {
	return c.session(ctx, "set next boot to PXE", true, func(_ context.Context, sys *schemas.ComputerSystem) error {
		return sys.SetBoot(&schemas.Boot{
			BootSourceOverrideTarget:  schemas.PxeBootSource,
			BootSourceOverrideEnabled: schemas.OnceBootSourceOverrideEnabled,
		})
	})
}

// redfishState maps PowerState; a machine in transition reports the state
// it is entering, which is what a caller deciding whether to act needs.
func redfishState(p schemas.PowerState) State {
	switch p {
	case schemas.OnPowerState, schemas.PoweringOnPowerState, schemas.PausedPowerState:
		return On
	case schemas.OffPowerState, schemas.PoweringOffPowerState:
		return Off
	}
	return Unknown
}

// reset posts #ComputerSystem.Reset with the first of prefer the system
// allows (BMCs differ: some lack PowerCycle, some On).
func reset(sys *schemas.ComputerSystem, prefer ...schemas.ResetType) error {
	allowed, _ := sys.GetSupportedResetTypes() // no list: assume the first
	rt := prefer[0]
	if len(allowed) > 0 {
		i := slices.IndexFunc(prefer, func(p schemas.ResetType) bool { return slices.Contains(allowed, p) })
		if i < 0 {
			return fmt.Errorf("the BMC allows reset types %v, none of %v", allowed, prefer)
		}
		rt = prefer[i]
	}
	_, err := sys.Reset(rt)
	return err
}

// session connects, finds the system and runs fn with it. With session
// auth the Redfish session is deleted before returning.
func (c *redfishController) session(ctx context.Context, op string, idempotent bool, fn func(context.Context, *schemas.ComputerSystem) error) error {
	transient := func(err error) bool {
		var se *setupError
		return redfishTransient(err, idempotent || errors.As(err, &se))
	}
	err := retry(ctx, c.o.retries, transient, func(ctx context.Context) error {
		api, err := gofish.ConnectContext(ctx, gofish.ClientConfig{
			Endpoint:          c.endpoint,
			Username:          c.creds.User,
			Password:          c.creds.Password,
			BasicAuth:         !c.o.sessionAuth,
			HTTPClient:        c.http,
			NoModifyTransport: true, // the transport above is final
			ReuseConnections:  true,
		})
		if err != nil {
			return &setupError{err}
		}
		if c.o.sessionAuth {
			defer func() {
				// Delete the session even when ctx has ended: BMCs have few.
				lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(c.o.timeout, 10*time.Second))
				defer cancel()
				api.WithContext(lctx).Logout()
			}()
		}
		sys, err := c.system(api)
		if err != nil {
			return &setupError{err}
		}
		return fn(ctx, sys)
	})
	if err != nil {
		kind, detail := c.classify(err)
		return c.t.fail(ctx, op, c.creds, kind, detail, redfishCause(err))
	}
	return nil
}

// system is the URL's system, or the BMC's only one.
func (c *redfishController) system(api *gofish.APIClient) (*schemas.ComputerSystem, error) {
	if c.t.path != "" {
		return schemas.GetComputerSystem(api, c.t.path)
	}
	systems, err := api.Service.Systems()
	if err != nil {
		return nil, err
	}
	switch len(systems) {
	case 1:
		return systems[0], nil
	case 0:
		return nil, errors.New("the BMC manages no system")
	}
	var ids []string
	for _, s := range systems {
		ids = append(ids, s.ODataID)
	}
	return nil, fmt.Errorf("the BMC manages %d systems (%s); name one in the URL, e.g. redfish://%s%s",
		len(systems), strings.Join(ids, ", "), net.JoinHostPort(c.t.host, strconv.Itoa(c.t.port)), ids[0])
}

// firstFailure unwraps gofish's CollectionError (which has no Unwrap) to
// its first failure, in a stable order, so it can be classified.
func firstFailure(err error) error {
	var ce *schemas.CollectionError
	if !errors.As(err, &ce) || len(ce.Failures) == 0 {
		return err
	}
	links := make([]string, 0, len(ce.Failures))
	for l := range ce.Failures {
		links = append(links, l)
	}
	sort.Strings(links)
	return ce.Failures[links[0]]
}

// redfishCause is the error as the user should read it: a Redfish error
// shows its status and message, not the whole JSON body gofish prints.
func redfishCause(err error) error {
	err = firstFailure(err)
	var re *schemas.Error
	if !errors.As(err, &re) {
		return err
	}
	// The extended messages say what happened; the top-level message is
	// often only "A general error has occurred. See ExtendedInfo ...".
	var parts []string
	for _, x := range re.ExtendedInfos {
		if x.Message != "" {
			parts = append(parts, x.Message)
		}
	}
	msg := strings.Join(parts, " ")
	if msg == "" {
		msg = re.Message
	}
	if msg == "" {
		msg = http.StatusText(re.HTTPReturnedStatusCode)
	}
	return fmt.Errorf("HTTP %d: %s", re.HTTPReturnedStatusCode, msg)
}

// redfishTransient reports failures worth sending again. A BMC that is
// busy (503, 429) did not act, so that is always retried. A gateway error
// or a connection reset mid-request may have acted, so that is retried
// only when repeating is harmless (mayRepeat). Timeouts are not retried:
// the BMC had its whole timeout, and TCP already retransmitted.
func redfishTransient(err error, mayRepeat bool) bool {
	err = firstFailure(err)
	var re *schemas.Error
	if errors.As(err, &re) {
		switch re.HTTPReturnedStatusCode {
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			return true
		case http.StatusBadGateway, http.StatusGatewayTimeout:
			return mayRepeat
		}
		return false
	}
	if !mayRepeat {
		return false
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// classify maps an error to a Kind and a hint for the user.
func (c *redfishController) classify(err error) (Kind, string) {
	err = firstFailure(err)
	var re *schemas.Error
	if errors.As(err, &re) {
		switch re.HTTPReturnedStatusCode {
		case http.StatusUnauthorized:
			return ErrAuth, "wrong user name or password"
		case http.StatusForbidden:
			return ErrAuth, "the user may not do this"
		case http.StatusNotFound:
			if c.t.path != "" {
				return ErrRequest, "no such system, or not a Redfish service"
			}
			return ErrRequest, "not a Redfish service"
		}
		return ErrRequest, ""
	}
	var (
		unknownCA  x509.UnknownAuthorityError
		hostname   x509.HostnameError
		invalid    x509.CertificateInvalidError
		verify     *tls.CertificateVerificationError
		recordHdr  tls.RecordHeaderError
		dns        *net.DNSError
		ne         net.Error
		certAdvice = "add ?insecure=true to the URL (or use WithInsecureTLS or WithRootCAs) to accept it"
	)
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return ErrCertificate, certAdvice
	case errors.As(err, &recordHdr),
		// net/http turns the RecordHeaderError into this text.
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return ErrRequest, "the BMC answered without TLS; use redfish+http://"
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrUnreachable, "nothing listens on that TCP port"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return ErrUnreachable, "no route to the BMC"
	case errors.As(err, &dns):
		return ErrUnreachable, "cannot resolve the BMC's host name"
	case errors.As(err, &ne) && ne.Timeout():
		return ErrUnreachable, "no answer in time"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return ErrRequest, "the BMC closed the connection without an answer"
	}
	return ErrRequest, ""
}
