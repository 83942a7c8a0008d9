package dhcp

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// Kind is what sort of network-boot client sent a request.
type Kind int

const (
	// KindNone is a plain DHCP client: an installed OS, the booted
	// initramfs, anything that is not asking to network-boot.
	KindNone Kind = iota
	// KindBIOS is a legacy BIOS PXE ROM (architecture 0).
	KindBIOS
	// KindUEFI is a UEFI PXE client (x86-64 is 7 or 9, ia32 is 6,
	// arm64 is 11, ...): it fetches an EFI binary over TFTP.
	KindUEFI
	// KindHTTP is UEFI HTTP boot (vendor class "HTTPClient", architectures
	// 15-20, ...): it fetches an EFI binary from an http:// URL.
	KindHTTP
	// KindIPXE is iPXE, whatever firmware it runs on.
	KindIPXE
)

func (k Kind) String() string {
	switch k {
	case KindNone:
		return "plain DHCP"
	case KindBIOS:
		return "BIOS PXE"
	case KindUEFI:
		return "UEFI PXE"
	case KindHTTP:
		return "UEFI HTTP"
	case KindIPXE:
		return "iPXE"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Option codes that the library does not name.
const (
	// optIPXE is iPXE's encapsulated option space (DHCP_EB_ENCAP). iPXE puts
	// its feature list in it on every request; servers put iPXE settings in
	// it on replies.
	optIPXE = dhcpv4.GenericOptionCode(175)
	// ipxeNoPXEDHCP (175.176, DHCP_EB_NO_PXEDHCP) = 1 tells iPXE not to wait
	// for ProxyDHCP offers once it has an address offer.
	ipxeNoPXEDHCP = 176
	// ipxeFeatureHTTP and ipxeFeatureHTTPS are iPXE's feature flags
	// (DHCP_EB_FEATURE_HTTP/HTTPS) inside option 175 of its requests.
	ipxeFeatureHTTP  = 0x13
	ipxeFeatureHTTPS = 0x14
)

// Client is what Classify learnt from a request.
type Client struct {
	Kind Kind
	// Arch is the client system architecture (RFC 4578 option 93, or the
	// "Arch:NNNNN" part of the vendor class when option 93 is missing).
	// Meaningful only when HasArch.
	Arch    iana.Arch
	HasArch bool
	// VendorClass is option 60 as sent.
	VendorClass string
	// IPXEFeatures lists the sub-options of the option 175 an iPXE client
	// sent (its feature flags); nil when it sent none, in which case
	// nothing is known about its features.
	IPXEFeatures []byte
}

// ipxeSupports says whether an iPXE client can fetch a URL with this
// scheme. Without a feature list, assume yes: every iPXE build that does
// not announce features is old enough to predate the list, and the
// default build has HTTP.
func (c Client) ipxeSupports(scheme string) bool {
	if c.IPXEFeatures == nil {
		return true
	}
	want := byte(ipxeFeatureHTTP)
	switch scheme {
	case "http":
	case "https":
		want = ipxeFeatureHTTPS
	default:
		// tftp:// and the like are always built in.
		return true
	}
	for _, f := range c.IPXEFeatures {
		if f == want {
			return true
		}
	}
	return false
}

// Classify tells what kind of client sent req, from its options alone.
//
// iPXE is checked first because iPXE also sends "PXEClient" and option 93:
// the distinction matters since iPXE is given a script URL while a PXE ROM
// is given an iPXE binary to chainload. iPXE is recognised by user class
// "iPXE" (option 77, which iPXE sends as a bare string rather than RFC 3004
// form) or by its option 175, which only iPXE sends.
func Classify(req *dhcpv4.DHCPv4) Client {
	c := Client{VendorClass: req.ClassIdentifier()}
	c.Arch, c.HasArch = clientArch(req, c.VendorClass)

	if isIPXE(req) {
		c.Kind = KindIPXE
		if v := req.Options.Get(optIPXE); v != nil {
			c.IPXEFeatures = subOptionCodes(v)
		}
		return c
	}
	switch {
	case strings.HasPrefix(c.VendorClass, "HTTPClient"):
		c.Kind = KindHTTP
	case strings.HasPrefix(c.VendorClass, "PXEClient") || req.Options.Has(dhcpv4.OptionClientSystemArchitectureType):
		if !c.HasArch {
			// PXE 2.1 ROMs that predate RFC 4578 are all BIOS ROMs.
			c.Arch, c.HasArch = iana.INTEL_X86PC, true
		}
		switch {
		case c.Arch == iana.INTEL_X86PC:
			c.Kind = KindBIOS
		case httpArch(c.Arch):
			c.Kind = KindHTTP
		default:
			c.Kind = KindUEFI
		}
	}
	return c
}

func isIPXE(req *dhcpv4.DHCPv4) bool {
	if req.Options.Has(optIPXE) {
		return true
	}
	for _, uc := range req.UserClass() {
		if uc == "iPXE" {
			return true
		}
	}
	return false
}

// clientArch reads option 93, falling back to the vendor class's
// "Arch:NNNNN" for clients that send only that.
func clientArch(req *dhcpv4.DHCPv4, vendorClass string) (iana.Arch, bool) {
	if archs := req.ClientArch(); len(archs) > 0 {
		return archs[0], true
	}
	// "PXEClient:Arch:00007:UNDI:003016" / "HTTPClient:Arch:00016:UNDI:003001"
	parts := strings.Split(vendorClass, ":")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "Arch" {
			n, err := strconv.ParseUint(parts[i+1], 10, 16)
			if err != nil {
				return 0, false
			}
			return iana.Arch(n), true
		}
	}
	return 0, false
}

// httpArch reports the RFC 4578 / IANA architecture types that mean "boot
// from HTTP".
func httpArch(a iana.Arch) bool {
	_, ok := pxeArchOf(a)
	return ok
}

// pxeArchOf maps an HTTP-boot architecture to the PXE architecture of the
// same CPU, so that one table of EFI binaries serves both.
func pxeArchOf(a iana.Arch) (iana.Arch, bool) {
	switch a {
	case iana.EFI_X86_HTTP:
		return iana.EFI_IA32, true
	case iana.EFI_X86_64_HTTP:
		return iana.EFI_X86_64, true
	case iana.EFI_BC_HTTP:
		return iana.EFI_BC, true
	case iana.EFI_ARM32_HTTP:
		return iana.EFI_ARM32, true
	case iana.EFI_ARM64_HTTP:
		return iana.EFI_ARM64, true
	case iana.INTEL_X86PC_HTTP:
		return iana.INTEL_X86PC, true
	case iana.UBOOT_ARM32_HTTP:
		return iana.UBOOT_ARM32, true
	case iana.UBOOT_ARM64_HTTP:
		return iana.UBOOT_ARM64, true
	case iana.EFI_RISCV32_HTTP:
		return iana.EFI_RISCV32, true
	case iana.EFI_RISCV64_HTTP:
		return iana.EFI_RISCV64, true
	case iana.EFI_RISCV128_HTTP:
		return iana.EFI_RISCV128, true
	}
	return 0, false
}

// subOptionCodes lists the codes of an encapsulated option block, stopping
// quietly at the first malformed entry: the block comes from the network.
func subOptionCodes(b []byte) []byte {
	codes := []byte{}
	for i := 0; i < len(b); {
		code := b[i]
		if code == 0 { // pad
			i++
			continue
		}
		if code == 255 || i+1 >= len(b) {
			break
		}
		n := int(b[i+1])
		if i+2+n > len(b) {
			break
		}
		codes = append(codes, code)
		i += 2 + n
	}
	return codes
}
