package connect

import (
	"context"
	"fmt"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/vsphere"
	"github.com/stratastack/strata/stacks"
)

// Config holds the credentials per substrate kind.
type Config struct {
	VSphere vsphere.Config
}

// Supported reports whether a substrate kind has a provisioner.
func Supported(kind string) bool {
	return kind == "vsphere"
}

// Open connects to a substrate block.
func (c Config) Open(ctx context.Context, sub *stacks.Substrate) (provisioners.Provisioner, error) {
	switch sub.Kind {
	case "vsphere":
		return vsphere.Open(ctx, c.VSphere, sub.Settings)
	}
	return nil, fmt.Errorf("substrate kind %q is not supported by this version of strata yet (supported: vsphere)", sub.Kind)
}

// Check fails, before anything is made, when the stack uses a substrate
// kind without a provisioner.
func Check(s *stacks.Stack) error {
	for _, sub := range s.Substrates {
		if !Supported(sub.Kind) {
			return fmt.Errorf("substrate %s.%s: kind %q is not supported by this version of strata yet (supported: vsphere)", sub.Kind, sub.Name, sub.Kind)
		}
	}
	return nil
}
