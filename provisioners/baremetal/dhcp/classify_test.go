package dhcp

import (
	"bytes"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		mods     []dhcpv4.Modifier
		kind     Kind
		arch     iana.Arch
		hasArch  bool
		features []byte
	}{
		{"BIOS PXE ROM", biosPXE(), KindBIOS, iana.INTEL_X86PC, true, nil},
		{"UEFI x86-64", uefiPXE(iana.EFI_X86_64), KindUEFI, iana.EFI_X86_64, true, nil},
		{"UEFI BC (x86-64 on many firmwares)", uefiPXE(iana.EFI_BC), KindUEFI, iana.EFI_BC, true, nil},
		{"UEFI ia32", uefiPXE(iana.EFI_IA32), KindUEFI, iana.EFI_IA32, true, nil},
		{"UEFI arm64", uefiPXE(iana.EFI_ARM64), KindUEFI, iana.EFI_ARM64, true, nil},
		{"UEFI HTTP x86-64", httpBoot(iana.EFI_X86_64_HTTP), KindHTTP, iana.EFI_X86_64_HTTP, true, nil},
		{"UEFI HTTP ia32", httpBoot(iana.EFI_X86_HTTP), KindHTTP, iana.EFI_X86_HTTP, true, nil},
		{"UEFI HTTP arm64", httpBoot(iana.EFI_ARM64_HTTP), KindHTTP, iana.EFI_ARM64_HTTP, true, nil},
		{"UEFI HTTP, arch only in vendor class", []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("HTTPClient:Arch:00016:UNDI:003001")),
		}, KindHTTP, iana.EFI_X86_64_HTTP, true, nil},
		{"HTTP arch with a PXEClient class", pxeROM(iana.EFI_X86_64_HTTP, "PXEClient:Arch:00016"), KindHTTP, iana.EFI_X86_64_HTTP, true, nil},
		{"iPXE on BIOS", ipxe(iana.INTEL_X86PC, ipxeFeatures), KindIPXE, iana.INTEL_X86PC, true, []byte{0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x17, 0x18, 0x19, 0x21, 0x24, 0x27, 0xb1, 0xeb}},
		{"iPXE on UEFI", ipxe(iana.EFI_X86_64, ipxeFeatures), KindIPXE, iana.EFI_X86_64, true, []byte{0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x17, 0x18, 0x19, 0x21, 0x24, 0x27, 0xb1, 0xeb}},
		{"iPXE by user class only", ipxe(iana.INTEL_X86PC, nil), KindIPXE, iana.INTEL_X86PC, true, nil},
		{"iPXE by RFC 3004 user class", []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptRFC3004UserClass([]string{"foo", "iPXE"})),
		}, KindIPXE, 0, false, nil},
		{"iPXE by option 175 only", []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00007:UNDI:003016")),
			dhcpv4.WithGeneric(optIPXE, ipxeNoHTTP),
		}, KindIPXE, iana.EFI_X86_64, true, []byte{0x10, 0x15, 0x18, 0x21, 0xeb}},
		{"malformed option 175 keeps what parses", []dhcpv4.Modifier{
			dhcpv4.WithGeneric(optIPXE, []byte{0x13, 1, 1, 0x14, 9, 1}),
		}, KindIPXE, 0, false, []byte{0x13}},
		{"PXEClient without arch is BIOS", []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient")),
		}, KindBIOS, iana.INTEL_X86PC, true, nil},
		{"option 93 without vendor class", []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64)),
		}, KindUEFI, iana.EFI_X86_64, true, nil},
		{"malformed option 93 falls back to the vendor class", []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00007:UNDI:003016")),
			dhcpv4.WithGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{7}),
		}, KindUEFI, iana.EFI_X86_64, true, nil},
		{"plain DHCP client", plain(), KindNone, 0, false, nil},
		{"nothing at all", nil, KindNone, 0, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Classify(newDiscover(t, macKnown, tt.mods))
			if c.Kind != tt.kind {
				t.Errorf("kind = %v, want %v", c.Kind, tt.kind)
			}
			if c.HasArch != tt.hasArch || (tt.hasArch && c.Arch != tt.arch) {
				t.Errorf("arch = %v (has %v), want %v (has %v)", c.Arch, c.HasArch, tt.arch, tt.hasArch)
			}
			if !bytes.Equal(c.IPXEFeatures, tt.features) || (tt.features == nil) != (c.IPXEFeatures == nil) {
				t.Errorf("features = % x, want % x", c.IPXEFeatures, tt.features)
			}
		})
	}
}

func TestIPXESupports(t *testing.T) {
	full := Client{Kind: KindIPXE, IPXEFeatures: subOptionCodes(ipxeFeatures)}
	tftpOnly := Client{Kind: KindIPXE, IPXEFeatures: subOptionCodes(ipxeNoHTTP)}
	unknown := Client{Kind: KindIPXE}
	for _, tt := range []struct {
		c      Client
		scheme string
		want   bool
	}{
		{full, "http", true}, {full, "https", true},
		{tftpOnly, "http", false}, {tftpOnly, "https", false}, {tftpOnly, "tftp", true},
		{unknown, "http", true}, {unknown, "https", true},
	} {
		if got := tt.c.ipxeSupports(tt.scheme); got != tt.want {
			t.Errorf("%v supports %s = %v, want %v", tt.c.IPXEFeatures, tt.scheme, got, tt.want)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindNone: "plain DHCP", KindBIOS: "BIOS PXE", KindUEFI: "UEFI PXE", KindHTTP: "UEFI HTTP", KindIPXE: "iPXE", Kind(9): "Kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("%d: %q, want %q", int(k), got, want)
		}
	}
}
