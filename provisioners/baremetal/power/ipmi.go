package power

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/types"
)

// IPMI limits (IPMI v2.0 section 13.28): longer values cannot log in, so
// they are refused before the BMC sees them.
const (
	ipmiMaxUser     = 16
	ipmiMaxPassword = 20
)

// ipmiController drives a BMC over IPMI v2.0 RMCP+ ("lanplus").
type ipmiController struct {
	t     target
	creds Credentials
	o     options
}

func openIPMI(ctx context.Context, t target, creds Credentials, o options) (Controller, error) {
	if len(creds.User) > ipmiMaxUser {
		return nil, t.fail(ctx, "open", creds, ErrAuth, "IPMI user names are at most 16 bytes", nil)
	}
	if len(creds.Password) > ipmiMaxPassword {
		return nil, t.fail(ctx, "open", creds, ErrAuth, "IPMI passwords are at most 20 bytes", nil)
	}
	c := &ipmiController{t: t, creds: creds, o: o}
	// Log in once so a wrong address or password shows up here.
	if err := c.session(ctx, "open", true, func(ctx context.Context, cl *client.Client) error {
		_, err := cl.GetChassisStatus(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *ipmiController) Status(ctx context.Context) (State, error) {
	st := Unknown
	err := c.session(ctx, "read power state", true, func(ctx context.Context, cl *client.Client) error {
		var err error
		st, err = ipmiStatus(ctx, cl)
		return err
	})
	return st, err
}

func (c *ipmiController) On(ctx context.Context) error {
	return c.session(ctx, "power on", true, func(ctx context.Context, cl *client.Client) error {
		return ipmiEnsure(ctx, cl, On, chassis.ChassisControlPowerUp)
	})
}

func (c *ipmiController) Off(ctx context.Context) error {
	return c.session(ctx, "power off", true, func(ctx context.Context, cl *client.Client) error {
		return ipmiEnsure(ctx, cl, Off, chassis.ChassisControlPowerDown)
	})
}

// Cycle is not idempotent (two cycles are not one), so session retries it
// only up to the point where the command could have reached the BMC.
func (c *ipmiController) Cycle(ctx context.Context) error {
	return c.session(ctx, "power cycle", false, func(ctx context.Context, cl *client.Client) error {
		st, err := ipmiStatus(ctx, cl)
		if err != nil {
			return err
		}
		cmd := chassis.ChassisControlPowerCycle
		if st == Off {
			cmd = chassis.ChassisControlPowerUp
		}
		_, err = cl.ChassisControl(ctx, cmd)
		return err
	})
}

func (c *ipmiController) BootPXE(ctx context.Context) error {
	return c.session(ctx, "set next boot to PXE", true, ipmiBootPXE)
}

// ipmiBootPXE does what ipmitool's "chassis bootdev pxe" does: set-in-progress
// and the BIOS/POST boot-info acknowledge (so the BIOS reads the flags) are
// optional parameters (ipmi_sim lacks set-in-progress), so a BMC answering
// them with an error code is fine; then the boot flags, not persistent, so
// only the next boot uses the network. Legacy is the BIOS boot type
// ipmitool sends unless told options=efiboot.
func ipmiBootPXE(ctx context.Context, cl *client.Client) error {
	optional := func(err error) error {
		if _, ok := types.IsResponseError(err); ok {
			return nil
		}
		return err
	}
	inProgress := true
	if err := cl.SetBootParamSetInProgress(ctx, types.SetInProgress_SetInProgress); err != nil {
		if optional(err) != nil {
			return err
		}
		inProgress = false
	}
	if err := cl.SetSystemBootOptionsParamFor(ctx, &types.BootOptionParam_BootInfoAcknowledge{ByBIOSPOST: true}); optional(err) != nil {
		return err
	}
	err := cl.SetBootDevice(ctx, types.BootDeviceSelectorForcePXE, types.BIOSBootTypeLegacy, false)
	if inProgress {
		if cerr := cl.SetBootParamSetInProgress(ctx, types.SetInProgress_SetComplete); err == nil {
			err = cerr
		}
	}
	return err
}

func ipmiStatus(ctx context.Context, cl *client.Client) (State, error) {
	st, err := cl.GetChassisStatus(ctx)
	if err != nil {
		return Unknown, err
	}
	if st.PowerIsOn {
		return On, nil
	}
	return Off, nil
}

// ipmiEnsure sends cmd unless the machine already is in state want: some
// BMCs answer "power on" on a running machine with an error.
func ipmiEnsure(ctx context.Context, cl *client.Client, want State, cmd chassis.ChassisControl) error {
	st, err := ipmiStatus(ctx, cl)
	if err != nil || st == want {
		return err
	}
	_, err = cl.ChassisControl(ctx, cmd)
	return err
}

// setupError marks a failure while the session was being set up, before
// any command reached the BMC: that is always safe to retry.
type setupError struct{ err error }

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

// session opens an RMCP+ session, runs fn in it and closes it. Transient
// failures are retried when idempotent says fn may run twice, or when fn
// never ran.
func (c *ipmiController) session(ctx context.Context, op string, idempotent bool, fn func(context.Context, *client.Client) error) error {
	transient := func(err error) bool {
		var se *setupError
		return ipmiTransient(err) && (idempotent || errors.As(err, &se))
	}
	err := retry(ctx, c.o.retries, transient, func(ctx context.Context) error {
		cl, err := client.NewClient(c.t.host, c.t.port, c.creds.User, c.creds.Password)
		if err != nil {
			return &setupError{err}
		}
		cl.WithInterface(client.InterfaceLanplus).
			WithTimeout(c.o.timeout).
			// go-ipmi resends a datagram that got no answer in time, within
			// the session, this many times.
			WithRetry(c.o.retries).
			// Without a fixed suite go-ipmi probes them all: 15 s instead
			// of 16 ms against ipmi_sim.
			WithCipherSuiteID(types.CipherSuiteID3).
			WithMaxPrivilegeLevel(types.PrivilegeLevelOperator)
		if err := cl.Connect(ctx); err != nil {
			// Nothing to log out of: close the socket without talking to
			// the BMC (a cancelled context makes go-ipmi skip the Close
			// Session exchange, which would wait on a dead BMC).
			dead, cancel := context.WithCancel(context.Background())
			cancel()
			_ = cl.Close(dead)
			return &setupError{err}
		}
		defer func() {
			// Log out even when ctx has ended, or the BMC keeps the session
			// slot until it times out; one answer's wait at most.
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.timeout)
			defer cancel()
			_ = cl.Close(closeCtx)
		}()
		return fn(ctx, cl)
	})
	if err != nil {
		kind, detail := ipmiClassify(err)
		return c.t.fail(ctx, op, c.creds, kind, detail, err)
	}
	return nil
}

// rmcpStatus finds the RMCP+ status code a BMC refused session setup with.
// go-ipmi's Connect formats the per-suite errors with %v, which cuts the
// error chain, so the code is also looked for in the text, in go-ipmi's
// own format.
func rmcpStatus(err error) (types.RmcpStatusCode, bool) {
	var rs *types.RmcpStatusError
	if errors.As(err, &rs) {
		return rs.StatusCode(), true
	}
	msg := err.Error()
	for code := types.RmcpStatusCode(0x01); code <= 0x12; code++ {
		if strings.Contains(msg, types.NewRmcpStatusError(code).Error()) {
			return code, true
		}
	}
	return 0, false
}

// ipmiTransient reports failures worth another session: a BMC out of
// session slots or busy. A BMC that does not answer is not among them:
// go-ipmi has already resent each datagram WithRetries times.
func ipmiTransient(err error) bool {
	if code, ok := rmcpStatus(err); ok {
		switch code {
		case types.RmcpStatusCodeNoResToCreateSess, types.RmcpStatusCodeNoResToCreateSessAtRole:
			return true
		}
	}
	if re, ok := types.IsResponseError(err); ok {
		switch uint8(re.CompletionCode()) {
		case 0xC0, 0xC3: // node busy; timeout while processing the command
			return true
		}
	}
	return false
}

// ipmiClassify maps a go-ipmi error to a Kind and a hint for the user.
func ipmiClassify(err error) (Kind, string) {
	if code, ok := rmcpStatus(err); ok {
		switch code {
		case types.RmcpStatusCodeUnauthorizedName, types.RmcpStatusCodeInvalidRole,
			types.RmcpStatusCodeUnauthorizedRoleOfPriLevel, types.RmcpStatusCodeInvalidIntegrityCheckValue,
			types.RmcpStatusCodeUnauthorizedGUID:
			return ErrAuth, "unknown user, wrong password, or the user may not log in with OPERATOR privilege"
		case types.RmcpStatusCodeNoResToCreateSess, types.RmcpStatusCodeNoResToCreateSessAtRole:
			return ErrRequest, "the BMC has no free session"
		}
		return ErrRequest, ""
	}
	// The BMC's RAKP2 proof did not match the password: with name-only
	// lookup that is a wrong password (or a BMC holding another one).
	if errors.Is(err, client.ErrRAKPAuthentication) || strings.Contains(err.Error(), client.ErrRAKPAuthentication.Error()) {
		return ErrAuth, "wrong password"
	}
	if re, ok := types.IsResponseError(err); ok {
		if uint8(re.CompletionCode()) == 0xD4 {
			return ErrAuth, "the user lacks the privilege for this command"
		}
		return ErrRequest, ""
	}
	var dns *net.DNSError
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), strings.Contains(err.Error(), "connection refused"):
		return ErrUnreachable, "nothing listens on that UDP port (ICMP port unreachable)"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return ErrUnreachable, "no route to the BMC"
	case errors.As(err, &dns):
		return ErrUnreachable, "cannot resolve the BMC's host name"
	case errors.As(err, &ne) && ne.Timeout(),
		// go-ipmi's "no answer before the deadline" error is unexported.
		strings.Contains(err.Error(), "no datagram matched"),
		strings.Contains(err.Error(), "no matching IPMI response"):
		return ErrUnreachable, "no answer (wrong address or port, BMC down, or IPMI over LAN disabled)"
	}
	return ErrRequest, ""
}
