package raft

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/hashicorp/go-hclog"
)

// Config configures the core (RawNode).
type Config struct {
	// ID is this node's identity; it must be non-zero and appear in Peers.
	ID uint64
	// Peers lists every voting member as of the Applied index (the
	// membership the state machine holds); membership changes in the log
	// after it are replayed on start.
	Peers []uint64
	// Learners lists the non-voting members as of the Applied index.
	Learners []uint64
	// ElectionTick is the number of ticks a follower waits without hearing
	// from a leader before it starts an election. Each timeout is drawn at
	// random from [ElectionTick, 2*ElectionTick). Default 10.
	ElectionTick int
	// HeartbeatTick is the number of ticks between a leader's heartbeats;
	// it must be below ElectionTick. Default 1.
	HeartbeatTick int
	// FirstElectionTick, when positive, replaces the first randomized
	// election timeout after start-up. The local launcher gives one node a
	// short one so that it is the usual first leader.
	FirstElectionTick int
	// Storage holds the persisted log and hard state.
	Storage Storage
	// Applied is the index of the last entry the state machine has applied;
	// a restarted node does not hand out entries up to it again.
	Applied uint64
	// MaxSizePerMsg bounds the entry bytes in one append message and in one
	// batch of committed entries. Default 1 MiB.
	MaxSizePerMsg uint64
	// MaxInflightMsgs bounds the append messages in flight to one follower
	// that replicates optimistically. Default 256.
	MaxInflightMsgs int
	// Rand draws election timeouts. A simulation passes a seeded source so
	// that a seed fixes every choice. Required.
	Rand *rand.Rand
	// PreVote makes a node that times out first ask whether it could win
	// (Raft thesis 9.6), so that a node rejoining after a partition does
	// not raise the term and depose a healthy leader.
	PreVote bool
	// CheckQuorum makes a leader step down when it has not heard from a
	// quorum within an election timeout, and makes followers that hear
	// from a live leader ignore vote requests (leader stickiness).
	CheckQuorum bool
	// Logger receives one line per election and leader change. Default: none.
	Logger hclog.Logger
}

// Validate fills defaults and reports the first invalid field.
func (c *Config) Validate() error {
	if c.ID == None {
		return errors.New("raft: ID must be non-zero")
	}
	if c.ElectionTick == 0 {
		c.ElectionTick = 10
	}
	if c.HeartbeatTick == 0 {
		c.HeartbeatTick = 1
	}
	if c.HeartbeatTick < 0 {
		return fmt.Errorf("raft: HeartbeatTick %d must be positive", c.HeartbeatTick)
	}
	if c.ElectionTick <= c.HeartbeatTick {
		return fmt.Errorf("raft: ElectionTick %d must be greater than HeartbeatTick %d", c.ElectionTick, c.HeartbeatTick)
	}
	if c.FirstElectionTick < 0 {
		return fmt.Errorf("raft: FirstElectionTick %d must not be negative", c.FirstElectionTick)
	}
	if c.Storage == nil {
		return errors.New("raft: Storage is required")
	}
	if c.Rand == nil {
		return errors.New("raft: Rand is required")
	}
	seen := make(map[uint64]bool, len(c.Peers))
	for _, p := range c.Peers {
		if p == None {
			return errors.New("raft: Peers contains the zero ID")
		}
		if seen[p] {
			return fmt.Errorf("raft: Peers lists %d twice", p)
		}
		seen[p] = true
	}
	for _, p := range c.Learners {
		if p == None || seen[p] {
			return fmt.Errorf("raft: learner %d is zero or also listed", p)
		}
		seen[p] = true
	}
	if len(c.Peers) == 0 {
		return errors.New("raft: Peers is empty")
	}
	if c.MaxSizePerMsg == 0 {
		c.MaxSizePerMsg = 1 << 20
	}
	if c.MaxInflightMsgs == 0 {
		c.MaxInflightMsgs = 256
	}
	if c.MaxInflightMsgs < 0 {
		return fmt.Errorf("raft: MaxInflightMsgs %d must be positive", c.MaxInflightMsgs)
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return nil
}
