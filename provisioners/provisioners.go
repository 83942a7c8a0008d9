package provisioners

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/stratastack/strata/stacks/schema"
)

// Spec is what a substrate kind accepts in a stack file.
type Spec struct {
	Kind string
	// Attrs and Blocks are the substrate block's settings.
	Attrs  []schema.Attr
	Blocks []schema.Block
	// PoolAttrs are the settings a pool on this substrate may add or
	// override (instance_type, flavor, template, machines ...).
	PoolAttrs []schema.Attr
	// CheckPool, when set, vets a pool against its substrate (for example
	// that bare-metal machines named by a pool exist); each returned
	// problem becomes a diagnostic on the pool.
	CheckPool func(substrate, pool schema.Values, size int) []Problem
}

// Problem is one thing wrong, to be reported as a diagnostic.
type Problem struct {
	Attr    string // the pool attribute it concerns, or "" for the block
	Summary string
	Detail  string
}

// Machine is what the engine asks a provisioner to make.
type Machine struct {
	Name     string
	Tags     map[string]string // strata:stack, strata:pool, strata:index, strata:layer, strata:role
	CPUs     int
	MemoryMB int
	DiskGB   int
	// Substrate and Pool are the decoded settings from the stack file.
	Substrate schema.Values
	Pool      schema.Values
	UserData  []byte
	// Group names the machines that should be on distinct hosts, where the
	// substrate can place them so (OpenStack server groups); empty for
	// none. The pool's settings say how strictly.
	Group string
}

// Instance is a machine as the substrate reports it.
type Instance struct {
	ID        string // the substrate's own id
	Name      string
	Tags      map[string]string
	Addresses []string
	State     string // one of the State constants
}

// Provisioner makes, finds and removes machines on one substrate.
// Implementations tag every machine at or before creation so a crashed run
// can be adopted by List.
type Provisioner interface {
	Spec() Spec
	Create(ctx context.Context, m Machine) (Instance, error)
	// Ready waits until the machine runs and has its addresses (a machine
	// on no network, such as an OpenStack server on networks "none", has
	// none).
	Ready(ctx context.Context, id string) (Instance, error)
	Read(ctx context.Context, id string) (Instance, error)
	Delete(ctx context.Context, id string) error
	// List returns every machine that carries all of tags; with no tags,
	// every machine carrying a strata:stack tag (a janitor's listing).
	List(ctx context.Context, tags map[string]string) ([]Instance, error)
	// Tag sets tags on a machine, adding keys it lacks and replacing the
	// values of keys it has (a TTL extended re-tags strata:expires).
	Tag(ctx context.Context, id string, tags map[string]string) error
}

// transient marks an error worth retrying (throttling, a busy server, a
// dropped connection).
type transient struct{ err error }

func (t transient) Error() string { return t.err.Error() }
func (t transient) Unwrap() error { return t.err }

// Transient wraps err so the engine retries the call with backoff.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return transient{err}
}

// Dropped reports whether err is a connection dropped, reset or refused,
// or a timeout: worth retrying whatever the API behind it, as the server
// may be restarting or briefly overloaded. A cancelled or expired context
// is not.
func Dropped(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// IsTransient reports whether err, or an error it wraps, is transient.
func IsTransient(err error) bool {
	var t transient
	return errors.As(err, &t)
}
