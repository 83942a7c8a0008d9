package api

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// ErrInvalid marks a value the API refuses (the inventory's ErrInvalid is
// the same sentinel, so errors.Is matches either way).
var ErrInvalid = errors.New("invalid")

// State is a machine's boot progress, in the order a PXE boot reaches it.
type State string

const (
	StateRegistered    State = "registered"     // known to the boot server, not yet seen
	StateDHCP          State = "dhcp"           // its PXE firmware or iPXE asked for an address
	StateScriptFetched State = "script-fetched" // iPXE fetched its boot script
	StateKernelFetched State = "kernel-fetched" // it downloaded its kernel
	StateReady         State = "ready"          // the booted OS phoned home
	StateError         State = "error"          // something reported a failure
)

// Valid reports whether s is one of the states above.
func (s State) Valid() bool {
	switch s {
	case StateRegistered, StateDHCP, StateScriptFetched, StateKernelFetched, StateReady, StateError:
		return true
	}
	return false
}

// Transition is one state change and when the store recorded it.
type Transition struct {
	State State     `json:"state"`
	At    time.Time `json:"at"`
}

// PhoneHome is what a machine's booted OS reported when it phoned home.
type PhoneHome struct {
	At     time.Time `json:"at"`
	Remote string    `json:"remote"`
	// Checksum is the checksum the machine reported, if any.
	Checksum string `json:"checksum,omitempty"`
	// ChecksumMatches is set when Checksum looks like a SHA-256: whether it
	// is the SHA-256 of the user-data the server holds for the machine,
	// i.e. whether it booted with its own bootstrap.
	ChecksumMatches *bool  `json:"checksum_matches_user_data,omitempty"`
	BodyBytes       int    `json:"body_bytes"`
	BodySHA256      string `json:"body_sha256"`
}

// CanonicalMAC parses mac in any form net.ParseMAC accepts and returns it as
// lower-case colon-separated hex, the form the index is keyed by, so DHCP's
// chaddr and a user's "52-54-00-..." find the same machine.
func CanonicalMAC(mac string) (string, error) {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("%w: %q is not an Ethernet MAC address; write e.g. \"52:54:00:00:00:01\"", ErrInvalid, mac)
	}
	if hw[0]&1 == 1 {
		return "", fmt.Errorf("%w: %q is a multicast/broadcast address, not a NIC's MAC", ErrInvalid, mac)
	}
	return hw.String(), nil
}

// Error is the body of every API error response.
type Error struct {
	Error string `json:"error"`
	// Field names the request field at fault, when there is one.
	Field string `json:"field,omitempty"`
}

// MachineView is a machine as the API shows it. It has no token field: the
// token only ever travels inside the scripts served to the machine itself,
// so an API client (or its logs, or Terraform state) cannot impersonate a
// machine.
type MachineView struct {
	Name      string            `json:"name"`
	MAC       string            `json:"mac"`
	IP        netip.Addr        `json:"ip,omitzero"`
	BMC       string            `json:"bmc,omitempty"`
	BMCUser   string            `json:"bmc_user,omitempty"`
	Profile   string            `json:"profile"`
	Labels    map[string]string `json:"labels,omitempty"`
	Tags      map[string]string `json:"tags,omitempty"`
	State     State             `json:"state"`
	History   []Transition      `json:"history"`
	Created   time.Time         `json:"created"`
	Updated   time.Time         `json:"updated"`
	PhoneHome *PhoneHome        `json:"phone_home,omitempty"`
}

// TagsRequest is the body of PATCH /api/v1/machines/{name}: tags to set,
// merged into the machine's (a value replaces the key's).
type TagsRequest struct {
	Tags map[string]string `json:"tags"`
}

// MachineRequest is the body of POST /api/v1/machines.
type MachineRequest struct {
	Name    string            `json:"name"`
	MAC     string            `json:"mac"`
	IP      string            `json:"ip,omitempty"`
	BMC     string            `json:"bmc,omitempty"`
	BMCUser string            `json:"bmc_user,omitempty"`
	Profile string            `json:"profile"`
	Labels  map[string]string `json:"labels,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
}

// ProfileView is a profile as the API shows it: user-data is write-only,
// so only its size is shown (a hash would let anyone with the API token
// confirm guesses of a short secret in it).
type ProfileView struct {
	Name          string   `json:"name"`
	Kernel        string   `json:"kernel"`
	Initrd        []string `json:"initrd,omitempty"`
	Cmdline       string   `json:"cmdline,omitempty"`
	Discovery     bool     `json:"discovery"`
	UserDataBytes int      `json:"user_data_bytes"`
}

// ProfileRequest is the body of PUT /api/v1/profiles/<name>.
type ProfileRequest struct {
	// Name may be left out; if given it must match the URL.
	Name    string   `json:"name,omitempty"`
	Kernel  string   `json:"kernel"`
	Initrd  []string `json:"initrd,omitempty"`
	Cmdline string   `json:"cmdline,omitempty"`
	// UserData is text (a cloud-config, a script). Absent (null) keeps the
	// profile's current user-data, "" clears it: since GET never returns
	// user-data, a client that reads, edits and writes back a profile
	// would otherwise wipe it without noticing.
	UserData *string `json:"user_data,omitempty"`
	// UserDataBase64 is the alternative for binary user-data (gzip).
	UserDataBase64 *string `json:"user_data_base64,omitempty"`
	Discovery      bool    `json:"discovery,omitempty"`
}
