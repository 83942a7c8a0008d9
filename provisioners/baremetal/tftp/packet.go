package tftp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"
)

// TFTP opcodes (RFC 1350, RFC 2347).
const (
	opRRQ   = 1
	opWRQ   = 2
	opDATA  = 3
	opACK   = 4
	opERROR = 5
	opOACK  = 6
)

// TFTP error codes (RFC 1350, RFC 2347) that this server sends or reads.
const (
	codeUndefined       = 0
	codeNotFound        = 1
	codeAccessViolation = 2
	codeIllegal         = 4
	codeOptionsRefused  = 8
)

// Protocol limits.
const (
	defaultBlockSize = 512   // RFC 1350
	minBlockSize     = 8     // RFC 2348
	maxBlockSize     = 65464 // RFC 2348
	maxWindowSize    = 65535 // RFC 7440
	minTimeoutSecs   = 1     // RFC 2349
	maxTimeoutSecs   = 255   // RFC 2349

	// maxOptions bounds the options read from one request; RFC 2347 keeps
	// requests within 512 bytes, so real clients send a handful.
	maxOptions = 32
)

// option is one name/value pair of a request or an OACK, spelled as the
// client sent it.
type option struct{ name, value string }

// request is a parsed RRQ or WRQ.
type request struct {
	write    bool
	filename string
	mode     string
	opts     []option
}

var errMalformed = errors.New("malformed request")

// parseRequest reads an RRQ or WRQ: opcode, then NUL-terminated filename,
// mode and option name/value strings (RFC 1350, RFC 2347). A dangling
// option name without a value is ignored, as is anything after maxOptions.
func parseRequest(p []byte) (request, error) {
	if len(p) < 2 {
		return request{}, errMalformed
	}
	var r request
	switch binary.BigEndian.Uint16(p) {
	case opRRQ:
	case opWRQ:
		r.write = true
	default:
		return request{}, errMalformed
	}
	fields := bytes.Split(p[2:], []byte{0})
	// A well-formed request ends in NUL, so the last field is empty; one
	// that does not is cut short and the unterminated tail is dropped.
	fields = fields[:len(fields)-1]
	if len(fields) < 2 {
		return request{}, errMalformed
	}
	r.filename, r.mode = string(fields[0]), string(fields[1])
	for i := 2; i+1 < len(fields) && len(r.opts) < maxOptions; i += 2 {
		r.opts = append(r.opts, option{string(fields[i]), string(fields[i+1])})
	}
	return r, nil
}

// netascii reports whether the request asks for netascii conversion. Any
// other mode, "octet" or unknown, is served as raw bytes: boot firmware
// always asks for octet, and a strict check would only break odd clients.
func (r request) netascii() bool { return strings.EqualFold(r.mode, "netascii") }

// limits are what the server will agree to for one request.
type limits struct {
	maxBlock  int // from Options.MaxBlockSize and the interface MTU
	maxWindow int // Options.WindowSize
}

// params are the transfer parameters after negotiation.
type params struct {
	blksize int
	window  int
	timeout time.Duration // 0: the server's own
	oack    []option      // accepted options, in request order; empty: no OACK
}

// negotiate applies RFC 2347 option negotiation to a read request for a
// file of size bytes. Options are matched case-insensitively and answered
// in the client's spelling and order; unknown options, repeated options
// and values out of range are left out of the OACK, which per RFC 2347
// means the client must use the default. Values the server can only grant
// smaller (blksize, windowsize) are answered with the smaller value.
func negotiate(opts []option, lim limits, size int64) params {
	p := params{blksize: defaultBlockSize, window: 1}
	seen := map[string]bool{}
	for _, o := range opts {
		name := strings.ToLower(o.name)
		if seen[name] {
			continue
		}
		seen[name] = true
		switch name {
		case "blksize":
			n, ok := parseDecimal(o.value)
			if !ok || n < minBlockSize {
				continue
			}
			n = min(n, maxBlockSize, lim.maxBlock)
			p.blksize = n
			p.oack = append(p.oack, option{o.name, strconv.Itoa(n)})
		case "tsize":
			// RFC 2349 has the client send "0"; atftp sends what the user
			// typed ("enable"). Either way the answer is the real size.
			p.oack = append(p.oack, option{o.name, strconv.FormatInt(size, 10)})
		case "timeout":
			n, ok := parseDecimal(o.value)
			if !ok || n < minTimeoutSecs || n > maxTimeoutSecs {
				continue
			}
			// RFC 2349: the server accepts the client's value as is or
			// leaves the option out; it cannot propose another.
			p.timeout = time.Duration(n) * time.Second
			p.oack = append(p.oack, option{o.name, strconv.Itoa(n)})
		case "windowsize":
			n, ok := parseDecimal(o.value)
			if !ok || n < 1 || n > maxWindowSize {
				continue
			}
			n = min(n, lim.maxWindow)
			p.window = n
			p.oack = append(p.oack, option{o.name, strconv.Itoa(n)})
		}
	}
	return p
}

// parseDecimal parses a non-negative decimal number of at most 9 digits
// (all TFTP option values fit); anything else, signs and spaces included,
// is rejected.
func parseDecimal(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// oackPacket builds an OACK (RFC 2347, opcode 6).
func oackPacket(opts []option) []byte {
	p := binary.BigEndian.AppendUint16(nil, opOACK)
	for _, o := range opts {
		p = append(p, o.name...)
		p = append(p, 0)
		p = append(p, o.value...)
		p = append(p, 0)
	}
	return p
}

// errorPacket builds a TFTP ERROR packet (RFC 1350, opcode 5).
func errorPacket(code uint16, msg string) []byte {
	p := make([]byte, 0, 5+len(msg))
	p = binary.BigEndian.AppendUint16(p, opERROR)
	p = binary.BigEndian.AppendUint16(p, code)
	p = append(p, msg...)
	return append(p, 0)
}

// errorMessage returns the text of an ERROR packet, without its NUL.
func errorMessage(p []byte) string {
	if len(p) <= 4 {
		return ""
	}
	msg, _, _ := bytes.Cut(p[4:], []byte{0})
	return strings.ToValidUTF8(string(msg), "?")
}
