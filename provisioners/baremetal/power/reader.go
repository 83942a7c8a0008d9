package power

import "context"

// Reader reads power states, with one password for every BMC: what the
// boot server's status page needs. It has no way to change a machine.
type Reader struct{ Password string }

// PowerStatus opens the BMC at bmcURL as user and reads its power state.
func (r Reader) PowerStatus(ctx context.Context, bmcURL, user string) (State, error) {
	c, err := Open(ctx, bmcURL, Credentials{User: user, Password: r.Password})
	if err != nil {
		return Unknown, err
	}
	return c.Status(ctx)
}
