package provisioners

import (
	"strings"
	"time"
)

// Instance states: what Instance.State says, the same for every substrate.
const (
	StatePending = "pending" // being made or starting
	StateRunning = "running"
	StateStopped = "stopped" // exists, powered off
	StateError   = "error"   // the substrate reports it unusable
	StateGone    = "gone"    // no longer exists
)

// Tag keys: every machine strata makes carries these (Machine.Tags), and
// List finds a stack's machines by them.
const (
	TagStack = "strata:stack"
	TagPool  = "strata:pool"
	TagIndex = "strata:index"
	TagLayer = "strata:layer"
	TagRole  = "strata:role"
	// TagGroup names a machine's spread group where the substrate records
	// it beside the machine (an OpenStack server's metadata).
	TagGroup = "strata:group"
	// TagOn is the stack's substrate or layer ("substrate.KIND.NAME",
	// "layer.KIND.NAME") the machine was placed on: a janitor with no stack
	// file removes machines on a layer before the layer's own machines.
	TagOn = "strata:on"
	// TagExpires is when the stack's TTL runs out (RFC 3339, UTC), on
	// every machine of a stack with a TTL; extending the TTL re-tags.
	TagExpires = "strata:expires"
	// TagCreatedBy is who made the machine: the CI job's URL or id when
	// the environment names one, else user@host.
	TagCreatedBy = "strata:created-by"
)

// Mark is who makes a stack's machines and until when they are wanted:
// set per run (not from the stack file), carried by every machine as tags
// and every hosted object that can hold them as labels, so that a janitor
// finds expired stacks from the substrates alone.
type Mark struct {
	Expires   time.Time // zero: no TTL
	CreatedBy string
}

// maxTagValue is the shortest value limit among the substrates (OpenStack
// metadata and AWS tags allow 255 and 256 characters).
const maxTagValue = 255

// Tags are the machine tags of the mark.
func (m Mark) Tags() map[string]string {
	t := map[string]string{}
	if !m.Expires.IsZero() {
		t[TagExpires] = FormatExpires(m.Expires)
	}
	if by := strings.TrimSpace(m.CreatedBy); by != "" {
		t[TagCreatedBy] = by[:min(len(by), maxTagValue)]
	}
	return t
}

// FormatExpires is the strata:expires value of t.
func FormatExpires(t time.Time) string { return t.UTC().Format(time.RFC3339) }
