package ipmisim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// User is one IPMI user of the simulated BMC.
type User struct {
	Name, Password string
	// Privilege is "admin" (the default), "operator" or "user".
	Privilege string
}

// Config is one simulated BMC.
type Config struct {
	// Dir holds lan.conf, bmc.emu, ipmi_sim's persisted state and its log.
	Dir string
	// Addr is the UDP address it answers on, e.g. "127.0.0.1:9001".
	Addr string
	// Users are its IPMI users (numbered from 2; 1 is the anonymous one).
	Users []User
	// ChassisControl is the program ipmi_sim runs for chassis state.
	ChassisControl string
	// Name tells BMCs apart in their GUIDs and logs.
	Name string
}

// emu is ipmi_sim's command file: one BMC at IPMB address 0x20.
const emu = `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
`

// lanConf renders lan.conf: one LAN channel, every authentication type
// (RMCP+ with cipher suite 3 is what clients use), the chassis program and
// the users.
func (c Config) lanConf() (string, error) {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return "", fmt.Errorf("ipmisim: address %q: %w", c.Addr, err)
	}
	if strings.ContainsAny(c.ChassisControl, "\"\n") {
		return "", fmt.Errorf("ipmisim: chassis program path %q has a quote or newline; lan.conf cannot hold it", c.ChassisControl)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "name %q\nset_working_mc 0x20\n  startlan 1\n    addr %s %s\n    priv_limit admin\n", c.Name, host, port)
	for _, p := range []string{"callback", "user", "operator", "admin"} {
		fmt.Fprintf(&b, "    allowed_auths_%s none md2 md5 straight\n", p)
	}
	fmt.Fprintf(&b, "    guid %032x\n  endlan\n  chassis_control \"%s\"\n", guid(c.Name+c.Addr), c.ChassisControl)
	for i, u := range c.Users {
		priv := u.Privilege
		if priv == "" {
			priv = "admin"
		}
		// IPMI v2.0 names and passwords are at most 16 and 20 bytes.
		if len(u.Name) > 16 || len(u.Password) > 20 || strings.ContainsAny(u.Name+u.Password, "\" \t\n") {
			return "", fmt.Errorf("ipmisim: user %q: names are at most 16 and passwords 20 characters, without quotes or spaces", u.Name)
		}
		fmt.Fprintf(&b, "  user %d true %q %q %s 10 none md2 md5 straight\n", i+2, u.Name, u.Password, priv)
	}
	return b.String(), nil
}

// guid is a stable 128-bit id from s (FNV-1a, twice), so every BMC of a
// lab has its own.
func guid(s string) [16]byte {
	var g [16]byte
	h := uint64(14695981039346656037)
	for i := range g {
		for _, c := range []byte(s) {
			h ^= uint64(c)
			h *= 1099511628211
		}
		g[i] = byte(h >> 56)
	}
	return g
}

// Write writes lan.conf (mode 0600: it holds the passwords) and bmc.emu
// into Dir, and the folder for ipmi_sim's persisted state.
func (c Config) Write() error {
	conf, err := c.lanConf()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(c.Dir, "state"), 0o700); err != nil {
		return fmt.Errorf("ipmisim: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "lan.conf"), []byte(conf), 0o600); err != nil {
		return fmt.Errorf("ipmisim: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "bmc.emu"), []byte(emu), 0o644); err != nil {
		return fmt.Errorf("ipmisim: %w", err)
	}
	return nil
}

// Command is ipmi_sim for the files Write wrote: -n keeps it off the
// console, -s keeps its state in Dir.
func (c Config) Command(ctx context.Context) *exec.Cmd {
	return exec.CommandContext(ctx, "ipmi_sim", "-c", filepath.Join(c.Dir, "lan.conf"),
		"-f", filepath.Join(c.Dir, "bmc.emu"), "-s", filepath.Join(c.Dir, "state"), "-n")
}

// WaitReady sends RMCP/ASF presence pings to addr until the BMC answers
// with a pong, exited is closed, ctx ends or within passes.
func WaitReady(ctx context.Context, addr string, exited <-chan struct{}, within time.Duration) error {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return fmt.Errorf("ipmisim: %w", err)
	}
	defer conn.Close()
	// RMCP header (version 6, sequence 0xff: no ACK, class ASF) and an ASF
	// presence ping (IANA 4542, type 0x80, tag 1, no data).
	ping := []byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x01, 0x00, 0x00}
	buf := make([]byte, 512)
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("ipmisim: ipmi_sim exited")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if _, err := conn.Write(ping); err == nil {
			_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, err := conn.Read(buf)
			if err == nil && n >= 9 && buf[3] == 0x06 && buf[8] == 0x40 { // ASF pong
				return nil
			}
			var ne net.Error
			if err != nil && !errors.Is(err, syscall.ECONNREFUSED) && !(errors.As(err, &ne) && ne.Timeout()) {
				return fmt.Errorf("ipmisim: %w", err)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("ipmisim: no RMCP pong from %s within %v", addr, within)
}
