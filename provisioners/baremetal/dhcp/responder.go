package dhcp

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// Mode is how the Responder shares the network with other DHCP servers.
type Mode int

const (
	// Full hands out addresses from Config.Leases: for labs and isolated
	// racks where this is the only DHCP server.
	Full Mode = iota + 1
	// Proxy is proxyDHCP (PXE spec 2.1) beside an existing DHCP server
	// that owns the addresses: it answers only network-boot clients, with
	// boot information and never an address.
	Proxy
)

func (m Mode) String() string {
	switch m {
	case Full:
		return "full"
	case Proxy:
		return "proxy"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Defaults for Config fields left empty.
const (
	DefaultBIOSBootFile = "undionly.kpxe"
	DefaultEFIBootFile  = "ipxe.efi"
	DefaultLeaseTime    = time.Hour
)

// Config is what a Responder serves. ServerIP, ScriptURL and Known are
// always required; Leases and SubnetMask in Full mode.
type Config struct {
	Mode Mode
	// ServerIP is this server's address on the boot network. It is the
	// DHCP server identifier (54), next-server (siaddr) and TFTP server
	// (66); in Proxy mode it is where PXE clients send their port-4011
	// request.
	ServerIP net.IP

	// Known decides whether a MAC is a machine this server boots.
	Known func(mac net.HardwareAddr) bool
	// ScriptURL is the iPXE script URL for known machines, e.g.
	// "http://10.0.0.1:8080/boot.ipxe?mac=${mac}". The server fills in
	// ${mac} (as iPXE would: lower-case, colon-separated), so the URL works
	// whatever iPXE does with the filename; any other ${setting} is left
	// for iPXE, which expands settings in the filename it boots.
	ScriptURL string
	// DiscoveryURL, when set, is the script URL for unknown MACs, which
	// are then booted into discovery instead of ignored. Same ${mac} rule.
	DiscoveryURL string

	// BIOSBootFile is the iPXE binary BIOS PXE ROMs chainload over TFTP.
	// Default DefaultBIOSBootFile (Debian's ipxe package ships it).
	BIOSBootFile string
	// EFIBootFiles maps UEFI architectures to the iPXE binary each
	// chainloads, over TFTP for UEFI PXE and over HTTP for UEFI HTTP boot
	// (HTTP architectures use the entry of the matching PXE architecture:
	// 16 uses 7, 15 uses 6, 19 uses 11, ...). When nil, x86-64 (7 and 9)
	// gets DefaultEFIBootFile, the only EFI build Debian ships; a map given
	// replaces that default. An architecture without an entry gets no boot
	// file: no reply in Proxy mode, an address only in Full mode.
	EFIBootFiles map[iana.Arch]string
	// HTTPBootBase is the URL the EFI binaries are fetched from by UEFI
	// HTTP boot clients: the binary's name is appended. Default: the
	// scheme and host of ScriptURL with path "/".
	HTTPBootBase string

	// Full mode only.
	Leases     Leases
	SubnetMask net.IPMask
	Router     net.IP   // option 3, optional
	DNS        []net.IP // option 6, optional
	LeaseTime  time.Duration

	// Observe, when set, is told about every request handled, answered or
	// not. It is the boot server's log and its "DHCP seen" signal; it is
	// called synchronously, so it must be quick.
	Observe func(Event)
}

// Event describes one request and what was done with it.
type Event struct {
	MAC     net.HardwareAddr
	Client  Client
	Request dhcpv4.MessageType
	// Reply is MessageTypeNone when nothing was sent.
	Reply    dhcpv4.MessageType
	Addr     net.IP // yiaddr given, or the address released/declined
	BootFile string
	// Reason says why there was no reply, a NAK, or no boot file.
	Reason string
	// Err is a send error (from Serve).
	Err error
}

// Responder answers DHCPv4 requests for network boot. It is safe for
// concurrent use if its Leases is.
type Responder struct {
	cfg Config
}

// New checks cfg, fills in its defaults and returns a Responder.
func New(cfg Config) (*Responder, error) {
	if cfg.Mode != Full && cfg.Mode != Proxy {
		return nil, errors.New("dhcp: Mode must be Full or Proxy")
	}
	if cfg.ServerIP.To4() == nil {
		return nil, fmt.Errorf("dhcp: ServerIP %v is not an IPv4 address", cfg.ServerIP)
	}
	cfg.ServerIP = cfg.ServerIP.To4()
	if cfg.Known == nil {
		return nil, errors.New("dhcp: Known is required (func(net.HardwareAddr) bool { return true } boots every machine)")
	}
	if err := checkScriptURL("ScriptURL", cfg.ScriptURL); err != nil {
		return nil, err
	}
	if cfg.DiscoveryURL != "" {
		if err := checkScriptURL("DiscoveryURL", cfg.DiscoveryURL); err != nil {
			return nil, err
		}
	}
	if cfg.BIOSBootFile == "" {
		cfg.BIOSBootFile = DefaultBIOSBootFile
	}
	files := map[iana.Arch]string{}
	if cfg.EFIBootFiles == nil {
		files[iana.EFI_X86_64] = DefaultEFIBootFile
		files[iana.EFI_BC] = DefaultEFIBootFile
	}
	for a, f := range cfg.EFIBootFiles {
		files[a] = f
	}
	cfg.EFIBootFiles = files
	for a, f := range files {
		if len(f) > 127 {
			return nil, fmt.Errorf("dhcp: boot file for arch %v is longer than the 127 bytes PXE ROMs read", a)
		}
	}
	if len(cfg.BIOSBootFile) > 127 {
		return nil, errors.New("dhcp: BIOSBootFile is longer than the 127 bytes PXE ROMs read")
	}
	if cfg.HTTPBootBase == "" {
		u, _ := url.Parse(cfg.ScriptURL) // checked above
		cfg.HTTPBootBase = u.Scheme + "://" + u.Host + "/"
	} else if u, err := url.Parse(cfg.HTTPBootBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("dhcp: HTTPBootBase %q is not an http(s) URL", cfg.HTTPBootBase)
	}
	if !strings.HasSuffix(cfg.HTTPBootBase, "/") {
		cfg.HTTPBootBase += "/"
	}
	if cfg.Mode == Full {
		if cfg.Leases == nil {
			return nil, errors.New("dhcp: Full mode needs Leases")
		}
		if len(cfg.SubnetMask) != net.IPv4len {
			return nil, errors.New("dhcp: Full mode needs an IPv4 SubnetMask")
		}
		if cfg.Router != nil && cfg.Router.To4() == nil {
			return nil, fmt.Errorf("dhcp: Router %v is not an IPv4 address", cfg.Router)
		}
		for _, d := range cfg.DNS {
			if d.To4() == nil {
				return nil, fmt.Errorf("dhcp: DNS server %v is not an IPv4 address", d)
			}
		}
		if cfg.LeaseTime <= 0 {
			cfg.LeaseTime = DefaultLeaseTime
		}
	}
	cfg.DNS = append([]net.IP(nil), cfg.DNS...)
	return &Responder{cfg: cfg}, nil
}

// checkScriptURL insists on an absolute http(s) URL that still fits option
// 67 (255 bytes) once ${mac} is filled in.
func checkScriptURL(name, s string) error {
	u, err := url.Parse(strings.ReplaceAll(s, "${mac}", "00:00:00:00:00:00"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("dhcp: %s %q is not an http(s) URL, e.g. http://10.0.0.1:8080/boot.ipxe?mac=${mac}", name, s)
	}
	if n := len(expandMAC(s, make(net.HardwareAddr, 6))); n > 255 {
		return fmt.Errorf("dhcp: %s is %d bytes with ${mac} filled in; DHCP option 67 holds 255", name, n)
	}
	return nil
}

func expandMAC(tmpl string, mac net.HardwareAddr) string {
	return strings.ReplaceAll(tmpl, "${mac}", mac.String())
}

// boot is what one client is told to boot.
type boot struct {
	file   string // option 67 (and the file field when it fits)
	tftp   bool   // file is a TFTP path on ServerIP (sets option 66)
	vendor string // option 60 to send: "PXEClient", "HTTPClient" or ""
	pxe    bool   // PXE ROM: send option 43 and echo option 97
	ipxe   bool   // send option 175.176 = 1
	reason string // why there is no file, when file == ""
}

// bootFor decides the boot chain of a client:
//
//	BIOS PXE  -> BIOSBootFile over TFTP (iPXE then asks again as iPXE)
//	UEFI PXE  -> EFIBootFiles[arch] over TFTP
//	UEFI HTTP -> HTTPBootBase + EFIBootFiles[arch], vendor class HTTPClient
//	iPXE      -> the script URL (discovery URL for unknown MACs); an iPXE
//	             built without HTTP(S) first chainloads a full iPXE binary
//	             over TFTP, as a PXE ROM would.
func (r *Responder) bootFor(c Client, mac net.HardwareAddr, known bool) boot {
	switch c.Kind {
	case KindBIOS:
		return boot{file: r.cfg.BIOSBootFile, tftp: true, vendor: "PXEClient", pxe: true}
	case KindUEFI:
		f, ok := r.cfg.EFIBootFiles[c.Arch]
		if !ok || f == "" {
			return boot{reason: fmt.Sprintf("no EFI boot file for arch %d (%v)", uint16(c.Arch), c.Arch)}
		}
		return boot{file: f, tftp: true, vendor: "PXEClient", pxe: true}
	case KindHTTP:
		if !c.HasArch {
			return boot{reason: "UEFI HTTP client without an architecture"}
		}
		pa, _ := pxeArchOf(c.Arch)
		f, ok := r.cfg.EFIBootFiles[pa]
		if !ok || f == "" {
			return boot{reason: fmt.Sprintf("no EFI boot file for HTTP arch %d (%v)", uint16(c.Arch), c.Arch)}
		}
		return boot{file: r.cfg.HTTPBootBase + f, vendor: "HTTPClient"}
	case KindIPXE:
		tmpl := r.cfg.ScriptURL
		if !known {
			tmpl = r.cfg.DiscoveryURL
		}
		script := expandMAC(tmpl, mac)
		scheme, _, _ := strings.Cut(script, ":")
		if c.ipxeSupports(scheme) {
			return boot{file: script, ipxe: true}
		}
		// This iPXE cannot fetch the script: chainload a full build as its
		// firmware would have, then it asks again.
		b := r.bootFor(Client{Kind: firmwareKind(c), Arch: c.Arch, HasArch: c.HasArch}, mac, known)
		b.ipxe, b.pxe, b.vendor = true, false, ""
		if b.file == "" {
			b.reason = "iPXE without " + scheme + " support, and " + b.reason
		}
		return b
	}
	return boot{}
}

// firmwareKind is the PXE kind of the firmware an iPXE runs on.
func firmwareKind(c Client) Kind {
	if !c.HasArch || c.Arch == iana.INTEL_X86PC {
		return KindBIOS
	}
	return KindUEFI
}

// Reply answers a request that arrived on the DHCP server port (67). A nil
// reply with a nil error means stay silent; Observe is told why. The
// request is not modified.
//
// Full mode: DISCOVER -> OFFER, REQUEST -> ACK or NAK, INFORM -> ACK
// without an address, RELEASE and DECLINE update the leases. Proxy mode:
// DISCOVER from a network-boot client -> OFFER without an address; all
// else is the real DHCP server's business, and the PXE client's follow-up
// REQUEST goes to port 4011 (ReplyBootServer).
func (r *Responder) Reply(req *dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, error) {
	ev := Event{MAC: req.ClientHWAddr, Request: req.MessageType()}
	resp, err := r.reply(req, &ev)
	if resp != nil {
		ev.Reply = resp.MessageType()
	}
	r.observe(ev)
	return resp, err
}

// ReplyBootServer answers a request that arrived on the PXE boot server
// port (4011): the ProxyDHCPREQUEST a PXE client sends to the proxy after
// the real server gave it an address (UEFI firmware always does, since
// the proxy offer leaves out option 43 for it; see doc.go). The answer is
// a DHCPACK with the boot file and no address, sent back to where the
// request came from. It works in both modes.
func (r *Responder) ReplyBootServer(req *dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, error) {
	ev := Event{MAC: req.ClientHWAddr, Request: req.MessageType()}
	resp, err := r.replyBootServer(req, &ev)
	if resp != nil {
		ev.Reply = resp.MessageType()
	}
	r.observe(ev)
	return resp, err
}

func (r *Responder) observe(ev Event) {
	if r.cfg.Observe != nil {
		r.cfg.Observe(ev)
	}
}

// admit does the checks common to both ports; it returns the client and
// whether the MAC is known, or a reason to stay silent.
func (r *Responder) admit(req *dhcpv4.DHCPv4, ev *Event) (c Client, known bool, ok bool) {
	if req.OpCode != dhcpv4.OpcodeBootRequest {
		ev.Reason = "not a BOOTREQUEST"
		return c, false, false
	}
	if len(req.ClientHWAddr) == 0 {
		ev.Reason = "no client hardware address"
		return c, false, false
	}
	c = Classify(req)
	ev.Client = c
	known = r.cfg.Known(req.ClientHWAddr)
	if !known && r.cfg.DiscoveryURL == "" {
		ev.Reason = "unknown MAC and no discovery profile"
		return c, false, false
	}
	return c, known, true
}

func (r *Responder) reply(req *dhcpv4.DHCPv4, ev *Event) (*dhcpv4.DHCPv4, error) {
	c, known, ok := r.admit(req, ev)
	if !ok {
		return nil, nil
	}
	if r.cfg.Mode == Proxy {
		return r.proxyReply(req, c, known, ev)
	}
	return r.fullReply(req, c, known, ev)
}

func (r *Responder) proxyReply(req *dhcpv4.DHCPv4, c Client, known bool, ev *Event) (*dhcpv4.DHCPv4, error) {
	if ev.Request != dhcpv4.MessageTypeDiscover {
		ev.Reason = "proxy mode answers only DISCOVER on port 67"
		return nil, nil
	}
	b, ok := r.proxyBoot(req, c, known, ev)
	if !ok {
		return nil, nil
	}
	// UEFI PXE firmware (EDK2 and most vendor firmware built on it) does
	// not boot the file of a port-67 proxy offer reliably; like dnsmasq,
	// leave out option 43 for it so that it asks on port 4011, where
	// ReplyBootServer gives the same file with option 43.
	withPXEOpts := b.pxe && c.Kind != KindUEFI
	resp, err := r.newReply(req, dhcpv4.MessageTypeOffer, b, withPXEOpts)
	if err != nil {
		return nil, err
	}
	resp.YourIPAddr = net.IPv4zero
	resp.SetBroadcast() // the client has no address yet
	ev.BootFile = b.file
	return resp, nil
}

// proxyBoot is what a proxy answer (port 67 or 4011) boots. It always
// carries a vendor class, PXEClient unless HTTP boot set HTTPClient: that is
// how iPXE and PXE ROMs tell a proxy offer from a stray one.
func (r *Responder) proxyBoot(req *dhcpv4.DHCPv4, c Client, known bool, ev *Event) (boot, bool) {
	if c.Kind == KindNone {
		ev.Reason = "not a network-boot client"
		return boot{}, false
	}
	b := r.bootFor(c, req.ClientHWAddr, known)
	if b.file == "" {
		ev.Reason = b.reason
		return b, false
	}
	if b.vendor == "" {
		b.vendor = "PXEClient"
	}
	return b, true
}

func (r *Responder) replyBootServer(req *dhcpv4.DHCPv4, ev *Event) (*dhcpv4.DHCPv4, error) {
	c, known, ok := r.admit(req, ev)
	if !ok {
		return nil, nil
	}
	if ev.Request != dhcpv4.MessageTypeRequest && ev.Request != dhcpv4.MessageTypeInform {
		ev.Reason = "port 4011 answers only REQUEST and INFORM"
		return nil, nil
	}
	if sid := req.ServerIdentifier(); sid != nil && !sid.Equal(r.cfg.ServerIP) {
		ev.Reason = "addressed to server " + sid.String()
		return nil, nil
	}
	b, ok := r.proxyBoot(req, c, known, ev)
	if !ok {
		return nil, nil
	}
	resp, err := r.newReply(req, dhcpv4.MessageTypeAck, b, b.pxe)
	if err != nil {
		return nil, err
	}
	resp.YourIPAddr = net.IPv4zero
	resp.ClientIPAddr = req.ClientIPAddr
	ev.BootFile = b.file
	return resp, nil
}

func (r *Responder) fullReply(req *dhcpv4.DHCPv4, c Client, known bool, ev *Event) (*dhcpv4.DHCPv4, error) {
	mac := req.ClientHWAddr
	b := r.bootFor(c, mac, known)
	if b.reason != "" {
		// Still give an address: a PXE ROM with nothing to boot then moves
		// on to its next boot device at once instead of timing out.
		ev.Reason = b.reason
	}
	switch ev.Request {
	case dhcpv4.MessageTypeDiscover:
		ip, err := r.cfg.Leases.Offer(mac, req.RequestedIPAddress())
		if err != nil {
			ev.Reason = "no offer: " + err.Error()
			return nil, nil
		}
		resp, err := r.newReply(req, dhcpv4.MessageTypeOffer, b, b.pxe)
		if err != nil {
			return nil, err
		}
		r.addLeaseOptions(resp, ip, true)
		ev.Addr, ev.BootFile = ip, b.file
		return resp, nil

	case dhcpv4.MessageTypeRequest:
		sid := req.ServerIdentifier()
		if sid != nil && !sid.Equal(r.cfg.ServerIP) {
			// SELECTING another server's offer; our hold just expires.
			ev.Reason = "client selected server " + sid.String()
			return nil, nil
		}
		// SELECTING / INIT-REBOOT name the address in option 50;
		// RENEWING / REBINDING in ciaddr (RFC 2131 4.3.2).
		ip := req.RequestedIPAddress()
		if ip == nil || ip.IsUnspecified() {
			ip = req.ClientIPAddr
		}
		if ip == nil || ip.To4() == nil || ip.IsUnspecified() {
			ev.Reason = "REQUEST names no address"
			return nil, nil
		}
		ip = ip.To4()
		if err := r.cfg.Leases.Bind(mac, ip, r.cfg.LeaseTime); err != nil {
			ev.Addr, ev.Reason = ip, err.Error()
			return r.nak(req, err.Error())
		}
		resp, err := r.newReply(req, dhcpv4.MessageTypeAck, b, b.pxe)
		if err != nil {
			return nil, err
		}
		resp.ClientIPAddr = req.ClientIPAddr
		r.addLeaseOptions(resp, ip, true)
		ev.Addr, ev.BootFile = ip, b.file
		return resp, nil

	case dhcpv4.MessageTypeInform:
		// RFC 2131 4.3.5: configuration only; no yiaddr, no lease time.
		resp, err := r.newReply(req, dhcpv4.MessageTypeAck, b, b.pxe)
		if err != nil {
			return nil, err
		}
		resp.ClientIPAddr = req.ClientIPAddr
		r.addLeaseOptions(resp, nil, false)
		ev.BootFile = b.file
		return resp, nil

	case dhcpv4.MessageTypeRelease:
		if sid := req.ServerIdentifier(); sid != nil && !sid.Equal(r.cfg.ServerIP) {
			ev.Reason = "release for server " + sid.String()
			return nil, nil
		}
		r.cfg.Leases.Release(mac, req.ClientIPAddr)
		ev.Addr = req.ClientIPAddr
		return nil, nil

	case dhcpv4.MessageTypeDecline:
		if sid := req.ServerIdentifier(); sid != nil && !sid.Equal(r.cfg.ServerIP) {
			ev.Reason = "decline for server " + sid.String()
			return nil, nil
		}
		if ip := req.RequestedIPAddress(); ip != nil {
			r.cfg.Leases.Decline(mac, ip)
			ev.Addr = ip
		}
		return nil, nil
	}
	ev.Reason = "unhandled message type"
	return nil, nil
}

// newReply builds the common part of every reply: message type, server
// identifier, next-server and the boot options of b.
func (r *Responder) newReply(req *dhcpv4.DHCPv4, mt dhcpv4.MessageType, b boot, pxeOpts bool) (*dhcpv4.DHCPv4, error) {
	resp, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(mt),
		dhcpv4.WithServerIP(r.cfg.ServerIP),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(r.cfg.ServerIP)),
	)
	if err != nil {
		return nil, err
	}
	// NewReplyFromRequest aliases the request's hardware address; copy it
	// so that the reply never shares memory with the request.
	resp.ClientHWAddr = append(net.HardwareAddr(nil), req.ClientHWAddr...)
	if b.file != "" {
		resp.Options.Update(dhcpv4.OptBootFileName(b.file))
		// The file field holds 127 bytes; a longer URL goes in option 67
		// only, which iPXE and UEFI read when the field is empty.
		if len(b.file) <= 127 {
			resp.BootFileName = b.file
		}
		if b.tftp {
			resp.Options.Update(dhcpv4.OptTFTPServerName(r.cfg.ServerIP.String()))
		}
	}
	if b.vendor != "" {
		resp.Options.Update(dhcpv4.OptClassIdentifier(b.vendor))
	}
	if pxeOpts {
		resp.Options.Update(dhcpv4.OptGeneric(dhcpv4.OptionVendorSpecificInformation, pxeVendorOptions()))
	}
	if b.pxe {
		// PXE 2.1: a server answering a PXE client echoes its UUID/GUID.
		if v := req.Options.Get(dhcpv4.OptionClientMachineIdentifier); v != nil {
			resp.Options.Update(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, append([]byte(nil), v...)))
		}
	}
	if b.ipxe {
		resp.Options.Update(dhcpv4.OptGeneric(optIPXE, []byte{ipxeNoPXEDHCP, 1, 1}))
	}
	return resp, nil
}

// pxeVendorOptions is option 43 for PXE ROMs, as dnsmasq sends it when it
// has no boot menu: PXE_DISCOVERY_CONTROL (6) = 8, "boot the file named
// in this packet, skip boot server discovery", and PXE_MENU_PROMPT (10)
// with timeout 0, so no prompt is shown.
func pxeVendorOptions() []byte {
	return []byte{
		6, 1, 0x08,
		10, 4, 0, 'P', 'X', 'E',
		255,
	}
}

// addLeaseOptions adds the network configuration of full mode; yiaddr and
// the lease time only when an address is handed out.
func (r *Responder) addLeaseOptions(resp *dhcpv4.DHCPv4, ip net.IP, lease bool) {
	if ip != nil {
		resp.YourIPAddr = ip
	}
	resp.Options.Update(dhcpv4.OptSubnetMask(r.cfg.SubnetMask))
	if r.cfg.Router != nil {
		resp.Options.Update(dhcpv4.OptRouter(r.cfg.Router.To4()))
	}
	if len(r.cfg.DNS) > 0 {
		resp.Options.Update(dhcpv4.OptDNS(r.cfg.DNS...))
	}
	if lease {
		resp.Options.Update(dhcpv4.OptIPAddressLeaseTime(r.cfg.LeaseTime))
	}
}

// nak refuses a REQUEST (RFC 2131 4.3.2): no address, no configuration, a
// message saying why, broadcast because the client may hold no usable
// address.
func (r *Responder) nak(req *dhcpv4.DHCPv4, why string) (*dhcpv4.DHCPv4, error) {
	resp, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(r.cfg.ServerIP)),
		dhcpv4.WithOption(dhcpv4.OptMessage(why)),
	)
	if err != nil {
		return nil, err
	}
	resp.ClientHWAddr = append(net.HardwareAddr(nil), req.ClientHWAddr...)
	resp.SetBroadcast()
	return resp, nil
}
