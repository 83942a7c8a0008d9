package web

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/power"
)

// PowerReader reads a machine's power state from its BMC for the status
// page. The boot server itself holds no BMC passwords, so it has none
// unless whoever starts the server supplies one (Config.Power).
type PowerReader interface {
	PowerStatus(ctx context.Context, bmc, user string) (power.State, error)
}

const (
	// powerFresh is how long a BMC's answer is shown before it is asked
	// again: a page open all day must not keep BMCs busy.
	powerFresh = 10 * time.Second
	// powerAskTimeout bounds one question, which runs in the background:
	// an unreachable BMC never holds up the page.
	powerAskTimeout = 10 * time.Second
)

// powerCache answers from the last BMC answer at once and asks again in
// the background when that answer is stale.
type powerCache struct {
	reader PowerReader
	log    *slog.Logger
	ctx    context.Context // ended by Handler.Close
	mu     sync.Mutex
	by     map[string]powerEntry // by BMC URL and user
}

type powerEntry struct {
	state  power.State
	failed bool
	at     time.Time
	asking bool
}

func newPowerCache(ctx context.Context, r PowerReader, log *slog.Logger) *powerCache {
	return &powerCache{reader: r, log: log, ctx: ctx, by: map[string]powerEntry{}}
}

// state returns what is known of the BMC's machine, and whether anything
// is (false until its first answer).
func (c *powerCache) state(bmc, user string, now time.Time) (powerEntry, bool) {
	key := bmc + "\x00" + user
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.by[key]
	if !e.asking && (!ok || now.Sub(e.at) >= powerFresh) && c.ctx.Err() == nil {
		e.asking = true
		c.by[key] = e
		go c.ask(key, bmc, user)
	}
	return e, ok && !e.at.IsZero()
}

func (c *powerCache) ask(key, bmc, user string) {
	ctx, cancel := context.WithTimeout(c.ctx, powerAskTimeout)
	defer cancel()
	st, err := c.reader.PowerStatus(ctx, bmc, user)
	if err != nil {
		// power's errors name the BMC, never the password.
		c.log.Warn("status page: BMC power status failed", "bmc", bmc, "err", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.by[key] = powerEntry{state: st, failed: err != nil, at: time.Now()}
}
