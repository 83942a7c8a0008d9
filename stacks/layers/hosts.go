package layers

import (
	"context"
	"strings"
	"unicode"
)

// Labels every object of a hosted role carries (Kubernetes labels,
// Marathon app labels), so that a host lists a stack's objects by them:
// the hosted equivalents of the machine tags in package provisioners,
// whose "strata:" keys Kubernetes label keys cannot hold.
const (
	LabelStack = "stratastack.io/stack"
	LabelLayer = "stratastack.io/layer" // KIND.NAME, as machines' strata:layer
	LabelRole  = "stratastack.io/role"
	// LabelExpires and LabelCreatedBy carry the run's Mark: label values
	// allow neither an RFC 3339 time nor a URL, so MarkLabels words both
	// in what they allow.
	LabelExpires   = "stratastack.io/expires"
	LabelCreatedBy = "stratastack.io/created-by"
)

// Labels are the labels of the objects of the layer's role; with role ""
// those of what the layer's roles share (a Kubernetes namespace).
func (c Cluster) Labels(role string) map[string]string {
	l := map[string]string{LabelStack: c.Stack, LabelLayer: c.Key()}
	if role != "" {
		l[LabelRole] = role
	}
	return l
}

// MarkLabels are the Mark as labels: the expiry as 20261207T085626Z, the
// author with every character a label value cannot hold made "_" and cut
// to the 63 characters a value may have.
func (c Cluster) MarkLabels() map[string]string {
	l := map[string]string{}
	if !c.Mark.Expires.IsZero() {
		l[LabelExpires] = c.Mark.Expires.UTC().Format("20060102T150405Z")
	}
	by := strings.TrimPrefix(strings.TrimPrefix(c.Mark.CreatedBy, "https://"), "http://")
	by = strings.Map(func(r rune) rune {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') {
			return r
		}
		return '_'
	}, by)
	if by = strings.Trim(by[:min(len(by), 63)], "_-."); by != "" {
		l[LabelCreatedBy] = by
	}
	return l
}

// Hosting is implemented by the layer kinds that roles of other layers may
// be placed on: a running layer of the kind is a place objects go, as a
// layer that is a Substrate is a place pools go.
type Hosting interface {
	// Host reaches a layer of the kind, with credentials derived from the
	// stack's secrets, once it is up; the error wraps ErrNotUp while
	// members it needs have no address, and is transient
	// (provisioners.Transient) while the layer does not answer yet.
	Host(ctx context.Context, c Cluster) (Host, error)
}

// Host is a running layer as a place for the objects hosted roles render:
// the seam the engine drives for roles placed on layers, as it drives
// provisioners.Provisioner for machines on substrates. One implementation
// per hosting kind (Marathon for mesos, the Kubernetes API for kubernetes).
type Host interface {
	// Submit creates or updates objs, all of one role, as rendered: the
	// same objects submitted again change nothing, so a re-run after a
	// crash adopts what an earlier run submitted, and a new count changes
	// only the difference.
	Submit(ctx context.Context, objs []Object) error
	// Wait returns once objs run as many ready instances as they ask for,
	// or with an error that names the object and what keeps it down.
	Wait(ctx context.Context, objs []Object) error
	// List returns the objects on the host that carry all of labels.
	List(ctx context.Context, labels map[string]string) ([]Placed, error)
	// Remove deletes an object List returned and waits until it is gone;
	// one already gone is success.
	Remove(ctx context.Context, p Placed) error
}

// Placed is an object as its host reports it.
type Placed struct {
	// ID is the host's own name for it (a Marathon app or group id, a
	// Kubernetes object's API group, kind, namespace and name).
	ID     string
	Kind   string
	Labels map[string]string
	// State is one of provisioners' State constants.
	State string
}
