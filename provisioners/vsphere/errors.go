package vsphere

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/stratastack/strata/provisioners"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/vim25/types"
)

// fail wraps err from a vSphere call with what was being done, marked
// Transient when the same call may well succeed later.
func fail(err error, format string, args ...any) error {
	e := fmt.Errorf("vsphere: "+format+": %w", append(args, err)...)
	if transient(err) {
		return provisioners.Transient(e)
	}
	return e
}

// transient reports whether err is worth retrying: a busy or restarting
// server, a dropped connection, or an object another task holds.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if provisioners.IsTransient(err) {
		return true
	}
	for _, f := range []types.BaseMethodFault{
		&types.TaskInProgress{}, // another task holds the VM
		&types.ConcurrentAccess{},
		&types.FileLocked{},
		&types.HostCommunication{}, // the host behind vCenter is briefly unreachable
		&types.HostNotConnected{},
		&types.HostNotReachable{},
	} {
		if fault.Is(err, f) {
			return true
		}
	}
	if provisioners.Dropped(err) {
		return true
	}
	// govmomi reports an HTTP status other than 200 and 500 as a *url.Error
	// whose message is the status line.
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		for _, code := range []string{"429 ", "502 ", "503 ", "504 "} {
			if strings.HasPrefix(ue.Err.Error(), code) {
				return true
			}
		}
	}
	return false
}

// notFound names what is missing and, when known, what exists instead.
func notFound(kind, name, where string, have []string) error {
	msg := fmt.Sprintf("vsphere: %s %q not found in %s", kind, name, where)
	sort.Strings(have)
	switch n := len(have); {
	case n == 0:
		msg += fmt.Sprintf(" (it has no %s)", plural(kind))
	case n <= 10:
		msg += fmt.Sprintf("; %s there: %s", plural(kind), strings.Join(have, ", "))
	default:
		msg += fmt.Sprintf("; %s there include: %s, ... (%d in all)", plural(kind), strings.Join(have[:10], ", "), n)
	}
	return errors.New(msg)
}

func plural(kind string) string {
	if strings.HasSuffix(kind, "s") {
		return kind + "es"
	}
	return kind + "s"
}
