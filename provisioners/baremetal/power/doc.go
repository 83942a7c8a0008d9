// Package power switches bare-metal machines on and off through their BMC
// and makes them boot from the network once, so the boot server can install
// them.
//
// # API
//
// Open takes a BMC URL and Credentials and returns a Controller:
//
//	ipmi://HOST[:PORT]            IPMI v2.0 / RMCP+ ("lanplus"), port 623 by default
//	redfish://HOST[:PORT][/PATH]  Redfish over HTTPS
//	redfish+http://HOST[:PORT]    Redfish over plain HTTP (labs, emulators)
//
// A Redfish URL may name one system by its path
// (redfish://bmc/redfish/v1/Systems/2); without a path the BMC must manage
// exactly one system. `?insecure=true` on a redfish:// URL (or
// WithInsecureTLS) accepts a BMC certificate that is not trusted, which
// factory-default BMC certificates never are.
//
// Controller.On and Off are idempotent: they read the power state first and
// do nothing when the machine is already there, because several BMCs answer
// "power on" on a running machine with an error. Cycle powers on a machine
// that is off (a cycle of an off machine is a no-op or an error on most
// BMCs, while the caller wants it running either way). BootPXE sets the
// next boot, and only the next one, to the network.
//
// # Sessions
//
// Every call opens its own BMC session and closes it before returning. An
// RMCP+ session with cipher suite 3 costs about 16 ms on a local BMC, and a
// Controller then needs no Close, holds nothing a BMC would time out, and
// cannot leak one of the few session slots a BMC has. Open checks the URL,
// reaches the BMC and logs in once, so a wrong address or password is
// reported where the machine is configured, not at the first power-on.
//
// IPMI sessions ask for cipher suite 3 (RAKP-HMAC-SHA1, HMAC-SHA1-96,
// AES-CBC-128), which every IPMI 2.0 BMC must offer; without it go-ipmi
// probes the suites one by one and Connect takes about 15 s. They ask for
// OPERATOR privilege, the least that chassis control needs, so an
// operator-only BMC account is enough. Redfish uses HTTP Basic
// authentication by default (stateless, no session to leak); WithSessionAuth
// switches to a Redfish session per call, deleted when the call ends.
//
// # Passwords
//
// The password comes from the caller (the environment or a write-only
// attribute) and is never logged: this package logs nothing, Credentials
// print and marshal without it, and every error is built from a redacted
// description of its cause, naming the user and the BMC but not the
// password. Errors carry a Kind (ErrUnreachable, ErrAuth, ErrCertificate,
// ErrUnsupported, ErrRequest) for errors.Is; a cancelled or expired context
// is reported as context.Canceled or context.DeadlineExceeded.
//
// # Retries
//
// Only transient failures are retried, a bounded number of times
// (WithRetries, default 2) and never past the context. IPMI: a datagram
// that got no answer in time (WithTimeout, default 1 s) is resent within
// the session, the protocol's own mechanism (ipmitool -R), and a BMC out of
// session slots or busy is asked again. Redfish: an answer of 503 or 429
// (the BMC did not act) is retried; a 502/504 or a connection closed
// mid-request is retried only for idempotent calls (Status, On, Off,
// BootPXE re-read the state first), never for Cycle, since cycling twice
// is not harmless. A refused connection, a timeout after the retries, a
// wrong password or any other "no" from the BMC is reported at once.
//
// # Tests
//
// The IPMI controller is tested against the real BMC simulator of OpenIPMI
// (ipmi_sim, Debian package openipmi) on a free UDP port on 127.0.0.1, with
// a chassis-control script that records the power and boot state in files,
// and is cross-checked with ipmitool (Debian package ipmitool). Those tests
// fail, naming the package, when the tools are missing, because CI
// installs them (make deps).
//
// The Redfish controller is tested against an in-process HTTPS server that
// speaks the Redfish wire protocol for everything gofish sends (service root,
// Systems collection, ComputerSystem with PowerState and Boot, the
// #ComputerSystem.Reset action, Boot override PATCH with If-Match, sessions,
// Basic auth, Redfish error bodies). A fake is used here only because no
// real Redfish service can be installed on the build machines: Debian
// packages no Redfish emulator, and DMTF's (Redfish-Interface-Emulator) and
// OpenStack's (sushy-tools) live on PyPI, which is not reachable.
package power
