package raft

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkLeaderBatch measures the core's work for one batch of 64
// proposals on a 3-node leader: propose, hand out the append, take both
// followers' acknowledgements, commit and hand out the committed entries.
func BenchmarkLeaderBatch(b *testing.B) {
	storage := NewMemoryStorage()
	rn, err := NewRawNode(&Config{ID: 1, Peers: []uint64{1, 2, 3}, Storage: storage, Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		b.Fatal(err)
	}
	drain := func() (last uint64) {
		for rn.HasReady() {
			rd := rn.Ready()
			if err := storage.Save(rd.HardState, rd.Entries, rd.MustSync); err != nil {
				b.Fatal(err)
			}
			if n := len(rd.Entries); n > 0 {
				last = rd.Entries[n-1].Index
			}
			rn.Advance(rd)
		}
		return last
	}
	rn.Campaign()
	drain()
	term := rn.Status().Term
	rn.Step(Message{Type: MsgVoteResp, From: 2, To: 1, Term: term})
	if rn.Status().Role != Leader {
		b.Fatal("not leader")
	}
	last := drain()
	ack := func(index uint64) {
		for _, from := range []uint64{2, 3} {
			rn.Step(Message{Type: MsgAppResp, From: from, To: 1, Term: term, Index: index})
		}
	}
	ack(last)
	drain()
	data := make([]byte, 100)
	const batch = 64
	b.ReportAllocs()
	for b.Loop() {
		for range batch {
			if _, _, err := rn.Propose(data); err != nil {
				b.Fatal(err)
			}
		}
		last = drain()
		ack(last)
		drain()
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkNodeProposeMany measures the driver around the core: batches
// of 16 proposals (a pipelined run) through ProposeMany on the leader of
// three in-memory nodes, from 8 callers at once, each waiting for its
// batch to apply.
func BenchmarkNodeProposeMany(b *testing.B) {
	_, nodes, _ := startNodes(b, 3)
	lead := waitLeader(b, nodes)
	const batch = 16
	data := make([][]byte, batch)
	for i := range data {
		data[i] = make([]byte, 32)
	}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, errs := lead.ProposeMany(context.Background(), data)
			for _, err := range errs {
				if err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkNodePropose measures single proposals from 50 callers at once
// (redis-benchmark's SET -c 50) on the leader of three in-memory nodes,
// and how many of them each append to a follower carries: the loop lets
// the callers that are ready propose before it hands out a Ready. Run it
// with -cpu 1 as well, the setting of a node sharing its machine.
func BenchmarkNodePropose(b *testing.B) {
	r, nodes, _ := startNodes(b, 3)
	lead := waitLeader(b, nodes)
	data := make([]byte, 32)
	before, _ := r.counts()
	fromFiftyCallers(b, func() error {
		_, err := lead.Propose(context.Background(), data)
		return err
	})
	after, _ := r.counts()
	appends := after - before
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	// Two followers: each proposal travels in one append to each.
	b.ReportMetric(float64(2*b.N)/float64(max(1, appends)), "entries/append")
}

// BenchmarkNodeReadBarrier measures linearizable read barriers from 50
// callers at once (redis-benchmark's GET -c 50) on the leader of three
// in-memory nodes, and how many reads share each confirmation round. Run
// it with -cpu 1 as well.
func BenchmarkNodeReadBarrier(b *testing.B) {
	r, nodes, _ := startNodes(b, 3)
	lead := waitLeader(b, nodes)
	if _, err := lead.Propose(context.Background(), []byte("x")); err != nil {
		b.Fatal(err)
	}
	_, before := r.counts()
	fromFiftyCallers(b, func() error { return lead.ReadBarrier(context.Background()) })
	_, after := r.counts()
	beats := after - before
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
	// A round asks one follower (with the leader, a quorum of three);
	// ticks add heartbeats to both, so this errs low.
	b.ReportMetric(float64(b.N)/float64(max(1, beats)), "reads/round")
}

// fromFiftyCallers runs op b.N times from 50 goroutines at once
// (redis-benchmark's -c 50), reporting allocations and failing the
// benchmark on an error.
func fromFiftyCallers(b *testing.B, op func() error) {
	b.ReportAllocs()
	b.SetParallelism(max(1, 50/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
