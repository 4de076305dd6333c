package resp

import (
	"context"
	"sync/atomic"
	"time"
)

// deadlines hands out the contexts that bound a command's replication or
// read confirmation. Commands that start within one span share a context,
// so that a command costs no timer of its own (a context with a deadline
// is eight allocations and a timer); each context still ends between
// timeout-span and timeout after the command began.
type deadlines struct {
	timeout time.Duration
	span    time.Duration
	cur     atomic.Pointer[sharedDeadline]
}

type sharedDeadline struct {
	ctx context.Context
	// cancel is never called early: commands may still hold ctx, which
	// ends, and frees its timer, at its deadline.
	cancel context.CancelFunc
	until  time.Time // handed out to commands starting before then
}

func newDeadlines(timeout time.Duration) *deadlines {
	return &deadlines{timeout: timeout, span: min(timeout/50, 100*time.Millisecond)}
}

// get returns a context that ends between timeout-span and timeout after
// now (a command whose clock reading lost a race with another's may get
// the other's context, a few microseconds later).
func (d *deadlines) get(now time.Time) context.Context {
	if sd := d.cur.Load(); sd != nil && now.Before(sd.until) {
		return sd.ctx
	}
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(d.timeout))
	// Commands starting at once may each make one; the last stored wins,
	// and the others' contexts end at their deadlines all the same.
	d.cur.Store(&sharedDeadline{ctx: ctx, cancel: cancel, until: now.Add(d.span)})
	return ctx
}
