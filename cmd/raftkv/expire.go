package main

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/fsm"
	"github.com/raftkv/raftkv/raft"
)

// expirer removes expired keys while this node leads, as a Redis master
// does for its replicas: by replicated deletes (fsm.OpDelExpired), so that
// every replica removes the same keys at the same log position. It deletes
// the keys reads found expired, and sweeps the expiry index, soonest
// first, every sweepInterval. Reads and writes never see an expired key
// whether or not it has been removed yet; removing it frees the space.
type expirer struct {
	node   *raft.Node
	eng    *engine.Engine
	sm     *fsm.FSM
	logger hclog.Logger
	// found carries keys reads met expired; when it is full the hint is
	// dropped and the sweep finds the key.
	found chan []byte
	// ctx ends when the expirer is closed, cancelling a proposal in
	// flight.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

const (
	// sweepInterval is how often the leader looks for expired keys.
	sweepInterval = 100 * time.Millisecond
	// sweepBatch bounds the keys one delete proposes, and sweepRounds the
	// proposals per sweep, so that a mass expiry is spread over sweeps
	// rather than stalling client writes.
	sweepBatch  = 256
	sweepRounds = 8
)

func newExpirer(node *raft.Node, eng *engine.Engine, sm *fsm.FSM, logger hclog.Logger) *expirer {
	x := &expirer{node: node, eng: eng, sm: sm, logger: logger,
		found: make(chan []byte, 1024), done: make(chan struct{})}
	x.ctx, x.cancel = context.WithCancel(context.Background())
	go x.run()
	return x
}

// expired is the hint from a read; it never blocks.
func (x *expirer) expired(key []byte) {
	select {
	case x.found <- append([]byte(nil), key...):
	default:
	}
}

func (x *expirer) close() {
	x.cancel()
	<-x.done
}

func (x *expirer) run() {
	defer close(x.done)
	tick := time.NewTicker(sweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-x.ctx.Done():
			return
		case k := <-x.found:
			keys := [][]byte{k}
			for len(keys) < sweepBatch && len(x.found) > 0 {
				keys = append(keys, <-x.found)
			}
			x.propose(keys)
		case <-tick.C:
			x.sweep()
		}
	}
}

// sweep deletes keys whose expiry has passed, a bounded number per call.
func (x *expirer) sweep() {
	for range sweepRounds {
		if st := x.node.Status(); st.Role != raft.Leader {
			return
		}
		keys, err := x.eng.Expiring(x.now(), sweepBatch)
		if err != nil || len(keys) == 0 {
			return
		}
		if !x.propose(keys) || len(keys) < sweepBatch {
			return
		}
	}
}

// now is the leader's time for a proposal, as resp's: never behind the
// state machine's.
func (x *expirer) now() int64 { return max(time.Now().UnixMilli(), x.sm.Clock()) }

// propose deletes those of keys that are expired when the entry applies;
// it reports whether the deletion was applied.
func (x *expirer) propose(keys [][]byte) bool {
	if st := x.node.Status(); st.Role != raft.Leader {
		return false
	}
	ctx, cancel := context.WithTimeout(x.ctx, 5*time.Second)
	defer cancel()
	if _, err := x.node.Propose(ctx, fsm.Stamp(x.now(), fsm.EncodeDelExpired(keys...))); err != nil {
		x.logger.Debug("expired keys not deleted; a later sweep will", "keys", len(keys), "error", err)
		return false
	}
	return true
}
