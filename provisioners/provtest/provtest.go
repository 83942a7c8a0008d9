package provtest

import (
	"context"
	"fmt"

	"github.com/stratastack/strata/provisioners"
)

// Retag checks that Tag replaces a tag's value and keeps the machine's
// other tags, as a TTL extended re-tags strata:expires: machine id of
// stack is tagged twice, then read back.
func Retag(ctx context.Context, p provisioners.Provisioner, id, stack string) error {
	for _, at := range []string{"2031-01-02T03:04:05Z", "2031-02-03T04:05:06Z"} {
		if err := p.Tag(ctx, id, map[string]string{provisioners.TagExpires: at}); err != nil {
			return fmt.Errorf("Tag: %w", err)
		}
	}
	in, err := p.Read(ctx, id)
	if err != nil || in.Tags[provisioners.TagExpires] != "2031-02-03T04:05:06Z" || in.Tags[provisioners.TagStack] != stack {
		return fmt.Errorf("after Tag, Read = %+v, %v", in, err)
	}
	return nil
}
