package test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"
)

// The fault suite runs a mixed workload against a cluster of the real
// binary while a nemesis harms it, one fault at a time, each for a bounded
// time and then healed, and checks that:
//
//  1. the history is linearizable for every key (porcupine; Unknown fails);
//  2. every acknowledged APPEND is in the final value exactly once, in an
//     order the history allows, and nothing never written is there;
//  3. all nodes converge to the same data (DEBUG DIGEST) after healing;
//  4. writes succeed again within a bounded time of each healing.
//
// The same suite runs on two back ends, processes on 127.0.0.1 and Docker
// containers; faults that cut links run where the back end can cut them
// (Docker). By default each fault runs once (the CI tier). RAFTKV_SOAK=30m
// instead loops randomly chosen faults for that long; the seed is printed
// and RAFTKV_SEED=<seed> repeats a run's choices.

// backend is a cluster of real raftkv nodes that a nemesis can harm. Nodes
// are numbered by slot, 0 to size()-1; a replaced node's slot goes.
type backend interface {
	name() string
	size() int
	resp(i int) string
	id(i int) uint64
	kill(i int)    // SIGKILL
	restart(i int) // start a killed or stopped node again on its data
	pause(i int)   // SIGSTOP
	resume(i int)
	stop(i int) // SIGTERM: a leader hands over first
	// canCut reports whether cut works: cut drops every packet node to
	// receives from node from, until heal.
	canCut() bool
	cut(from, to int)
	heal()
	// add starts a new node that asks node via to add it, and returns its
	// ID; it takes the last slot. forget waits for node i, removed from
	// the cluster, to stop, and drops its slot.
	add(via int) uint64
	forget(i int)
}

// procBackend is the process back end.
type procBackend struct{ c *cluster }

func (b procBackend) name() string      { return "processes" }
func (b procBackend) size() int         { return len(b.c.nodes) }
func (b procBackend) resp(i int) string { return b.c.nodes[i].respAddr }
func (b procBackend) id(i int) uint64   { return b.c.nodes[i].id }
func (b procBackend) kill(i int)        { b.c.kill(b.c.nodes[i]) }
func (b procBackend) restart(i int)     { b.c.start(b.c.nodes[i]) }
func (b procBackend) pause(i int)       { b.c.nodes[i].cmd.Process.Signal(syscall.SIGSTOP) }
func (b procBackend) resume(i int)      { b.c.nodes[i].cmd.Process.Signal(syscall.SIGCONT) }
func (b procBackend) stop(i int)        { b.c.stop(b.c.nodes[i]) }
func (b procBackend) canCut() bool      { return false }
func (b procBackend) cut(from, to int)  { b.c.t.Fatal("processes on one address cannot cut links") }
func (b procBackend) heal()             {}
func (b procBackend) add(via int) uint64 {
	return b.c.addNode(b.c.nodes[via]).id
}

func (b procBackend) forget(i int) {
	p := b.c.nodes[i]
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		b.c.t.Fatalf("removed node %d did not stop", p.id)
	}
	p.cmd = nil
	b.c.nodes = slices.Delete(b.c.nodes, i, i+1)
}

// TestFaultsProcesses runs the fault suite on processes.
func TestFaultsProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the fault suite in -short mode")
	}
	// The nodes' clocks run at different rates, from half to twice real
	// time: no correctness may depend on synchronized clocks. Each runs
	// on one processor and a leader on two, as raftkv cluster gives them
	// on a small machine: the log's syncs hold the processor, except a
	// leader's, and every change of leader switches GOMAXPROCS.
	runFaultSuite(t, procBackend{startSkewedCluster(t, 5, []float64{0.5, 2, 1, 0.75, 1.5},
		"--max-procs", "1", "--leader-max-procs", "2")})
}

// fault is one kind of harm: run injects it, holds it, and heals it.
type fault struct {
	name   string
	cuts   bool // needs a back end that cuts links
	minN   int  // needs at least this many nodes
	inject func(n *nemesis)
}

var faults = []fault{
	{name: "kill-leader", inject: func(n *nemesis) {
		l := n.leader()
		n.logf("SIGKILL leader %d", n.b.id(l))
		n.b.kill(l)
		n.hold()
		n.b.restart(l)
	}},
	{name: "kill-minority", inject: func(n *nemesis) {
		victims := n.rng.Perm(n.b.size())[:(n.b.size()-1)/2]
		n.logf("SIGKILL nodes %v", n.ids(victims))
		for _, i := range victims {
			n.b.kill(i)
		}
		n.hold()
		for _, i := range victims {
			n.b.restart(i)
		}
	}},
	{name: "pause-leader", inject: func(n *nemesis) {
		l := n.leader()
		n.logf("SIGSTOP leader %d", n.b.id(l))
		n.b.pause(l)
		n.hold()
		n.b.resume(l)
	}},
	{name: "isolate-leader", cuts: true, inject: func(n *nemesis) {
		l := n.leader()
		n.logf("isolate leader %d", n.b.id(l))
		n.split([]int{l})
		n.hold()
		n.b.heal()
	}},
	{name: "split-minority-majority", cuts: true, inject: func(n *nemesis) {
		minority := n.rng.Perm(n.b.size())[:(n.b.size()-1)/2]
		n.logf("split off nodes %v", n.ids(minority))
		n.split(minority)
		n.hold()
		n.b.heal()
	}},
	{name: "bridge", cuts: true, minN: 5, inject: func(n *nemesis) {
		// Two halves that cannot talk, and one node that talks to both.
		p := n.rng.Perm(n.b.size())
		half := (n.b.size() - 1) / 2
		a, bridge, b := p[:half], p[half], p[half+1:]
		n.logf("bridge: %v | %d | %v", n.ids(a), n.b.id(bridge), n.ids(b))
		for _, i := range a {
			for _, j := range b {
				n.b.cut(i, j)
				n.b.cut(j, i)
			}
		}
		n.hold()
		n.b.heal()
	}},
	{name: "one-way-to-leader", cuts: true, inject: func(n *nemesis) {
		// The leader's packets go out; nothing comes back in.
		l := n.leader()
		n.logf("drop every packet to leader %d", n.b.id(l))
		for j := range n.b.size() {
			if j != l {
				n.b.cut(j, l)
			}
		}
		n.hold()
		n.b.heal()
	}},
	{name: "transfer-leader", inject: func(n *nemesis) {
		l := n.leader()
		to := n.rng.IntN(n.b.size() - 1)
		if to >= l {
			to++
		}
		n.logf("transfer leadership from %d to %d", n.b.id(l), n.b.id(to))
		n.admin("RAFT.TRANSFER_LEADER", n.b.id(to))
	}},
	{name: "replace-node", inject: func(n *nemesis) {
		// A fresh node joins (a learner, then a voter), then an old one,
		// perhaps the leader, is removed.
		old := n.rng.IntN(n.b.size())
		oldID := n.b.id(old)
		id := n.b.add(n.leader())
		n.logf("node %d joined to replace node %d", id, oldID)
		n.waitFor(fmt.Sprintf("node %d to vote", id), func() bool {
			return strings.Contains(n.raftInfo(), fmt.Sprintf("id=%d,role=voter", id))
		})
		n.admin("RAFT.NODE", "REMOVE", oldID)
		n.b.forget(old)
	}},
	{name: "rolling-restart", inject: func(n *nemesis) {
		for _, i := range n.rng.Perm(n.b.size()) {
			n.logf("restart node %d (SIGTERM)", n.b.id(i))
			n.b.stop(i)
			n.b.restart(i)
			n.leader()
		}
	}},
}

// nemesis injects faults into a back end and checks recovery after each.
type nemesis struct {
	t     *testing.T
	b     backend
	rng   *rand.Rand
	holdD func() time.Duration
	probe atomic.Int64
}

func (n *nemesis) logf(format string, args ...any) {
	n.t.Helper()
	n.t.Logf("%s nemesis: "+format, append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

func (n *nemesis) hold() { time.Sleep(n.holdD()) }

func (n *nemesis) ids(slots []int) []uint64 {
	ids := make([]uint64, len(slots))
	for k, i := range slots {
		ids[k] = n.b.id(i)
	}
	return ids
}

// split cuts every link between the nodes in side and the others.
func (n *nemesis) split(side []int) {
	for i := range n.b.size() {
		if slices.Contains(side, i) {
			continue
		}
		for _, j := range side {
			n.b.cut(i, j)
			n.b.cut(j, i)
		}
	}
}

func (n *nemesis) waitFor(what string, cond func() bool) {
	n.t.Helper()
	waitUntil(n.t, 30*time.Second, 100*time.Millisecond, what, cond)
}

// leader waits until every node answers and names the same leader, and
// returns its slot.
func (n *nemesis) leader() int {
	n.t.Helper()
	lead := -1
	n.waitFor("an agreed leader", func() bool {
		lead = -1
		var id string
		for i := range n.b.size() {
			m := info(n.b.resp(i))
			if m == nil || m["raft_leader_id"] == "0" || (id != "" && m["raft_leader_id"] != id) {
				return false
			}
			id = m["raft_leader_id"]
			if m["raft_role"] == "leader" {
				lead = i
			}
		}
		return lead >= 0 && id == strconv.FormatUint(n.b.id(lead), 10)
	})
	return lead
}

// client returns a plain client that knows every node.
func (n *nemesis) client() *plainClient {
	pc := newPlainClient(n.t, n.b.resp(0))
	for i := range n.b.size() {
		pc.client(n.b.resp(i))
	}
	return pc
}

// admin runs an admin command through any node (it redirects).
func (n *nemesis) admin(args ...any) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.client().Do(ctx, args...).Err(); err != nil {
		n.t.Fatalf("%v: %v", args, err)
	}
}

func (n *nemesis) raftInfo() string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, _ := n.client().Do(ctx, "RAFT.INFO").Text()
	return s
}

// recovered checks that a write succeeds within a bounded time of healing.
func (n *nemesis) recovered() {
	n.t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pc := n.client()
	for {
		err := pc.Do(ctx, "SET", fmt.Sprintf("probe.%d", n.probe.Add(1)), "x").Err()
		if err == nil {
			n.logf("a write succeeded %v after healing", time.Since(start).Round(time.Millisecond))
			return
		}
		if ctx.Err() != nil {
			n.t.Fatalf("no write succeeded within 20s of healing: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// workload runs clients against the cluster and records their history.
// Registers take GET, SET, SET NX and GETSET; lists take GET and APPEND of
// unique elements. Keys move to a new generation every few seconds so
// that each key's history stays small enough to check.
type workload struct {
	h    *history
	gen  atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup
}

const (
	registers = 3
	lists     = 2
)

func registerKey(gen int64, i int) string { return fmt.Sprintf("r%d.%d", gen, i) }
func listKey(gen int64, i int) string     { return fmt.Sprintf("l%d.%d", gen, i) }

func startWorkload(t *testing.T, b backend, writers int, seed uint64) *workload {
	w := &workload{h: &history{start: time.Now()}, stop: make(chan struct{})}
	var addrs []string
	for i := range b.size() {
		addrs = append(addrs, b.resp(i))
	}
	for c := range writers {
		pc := newPlainClient(t, addrs[c%len(addrs)])
		for _, a := range addrs {
			pc.client(a)
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			for i := 0; ; i++ {
				select {
				case <-w.stop:
					return
				default:
				}
				gen := w.gen.Load()
				var in kvInput
				if rng.IntN(2) == 0 {
					in.Key = registerKey(gen, rng.IntN(registers))
					v := fmt.Sprintf("%d.%d", c, i)
					switch r := rng.IntN(20); {
					case r < 8:
						in.Op = "get"
					case r < 12:
						in.Op, in.Value = "set", v
					case r < 16:
						in.Op, in.Value = "setnx", v
					default:
						in.Op, in.Value = "getset", v
					}
				} else {
					in.Key = listKey(gen, rng.IntN(lists))
					if rng.IntN(5) < 2 {
						in.Op = "get"
					} else {
						in.Op, in.Value = "append", fmt.Sprintf("%d.%d;", c, i)
					}
				}
				if op, ok := run(pc, c, in, w.h); ok {
					w.h.add(op)
				}
			}
		}()
	}
	// A ClusterClient reads. It retries on its own after a lost
	// connection, which is harmless for a read but could apply a write
	// twice, so it only reads.
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 8, DialTimeout: 500 * time.Millisecond, ReadTimeout: 2 * time.Second})
	t.Cleanup(func() { cc.Close() })
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		rng := rand.New(rand.NewPCG(seed, 1000))
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			gen := w.gen.Load()
			key := registerKey(gen, rng.IntN(registers))
			if rng.IntN(2) == 0 {
				key = listKey(gen, rng.IntN(lists))
			}
			if op, ok := run(cc, writers, kvInput{Op: "get", Key: key}, w.h); ok {
				w.h.add(op)
			}
		}
	}()
	go func() {
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(4 * time.Second):
				w.gen.Add(1)
			}
		}
	}()
	return w
}

// finish stops the clients, then reads every key once more: the final
// reads join the history, and the lists' final values are returned.
func (w *workload) finish(t *testing.T, pc *plainClient) map[string]string {
	close(w.stop)
	w.wg.Wait()
	finals := map[string]string{}
	for gen := int64(0); gen <= w.gen.Load(); gen++ {
		for i := range registers {
			if op, ok := run(pc, -1, kvInput{Op: "get", Key: registerKey(gen, i)}, w.h); ok {
				w.h.add(op)
			} else {
				t.Fatalf("final read of %s failed", registerKey(gen, i))
			}
		}
		for i := range lists {
			op, ok := run(pc, -1, kvInput{Op: "get", Key: listKey(gen, i)}, w.h)
			if !ok {
				t.Fatalf("final read of %s failed", listKey(gen, i))
			}
			w.h.add(op)
			finals[listKey(gen, i)] = op.Output.(kvOutput).Value
		}
	}
	return finals
}

// checkLists checks the lists' histories exactly, given their final
// values. Every element is unique, so a list's final value orders every
// APPEND that took effect, and a linearization can only be: those appends
// in that order, each read placed after the appends its value holds and
// before the next. The history is linearizable if and only if points can
// be picked, in that order, within each operation's call and return; taking
// each point as early as possible (reads of one value by call time) finds
// them when they exist. This is the list-append check Jepsen's Elle makes,
// exact and linear, where a general search (porcupine) blows up on long
// lists with appends of unknown outcome.
//
// It also names the plainer failures: an element twice, an element no
// client appended, an acknowledged append missing, a read that is not a
// prefix of the final value.
func checkLists(ops []porcupine.Operation, finals map[string]string) (acked, present, reads int, err error) {
	const never = int64(1) << 62 // the return of an unknown outcome
	type listOp struct {
		call, ret int64
		read      bool
		n         int    // a read's number of elements
		elem      string // an append's element
		acked     bool
	}
	byKey := map[string][]listOp{}
	for _, op := range ops {
		in, out := op.Input.(kvInput), op.Output.(kvOutput)
		if _, ok := finals[in.Key]; !ok {
			continue
		}
		lo := listOp{call: op.Call, ret: op.Return}
		switch in.Op {
		case "append":
			lo.elem, lo.acked = in.Value, !out.Unknown
			if out.Unknown {
				lo.ret = never
			}
		case "get":
			lo.read = true
			lo.n = strings.Count(out.Value, ";")
			if !strings.HasPrefix(finals[in.Key], out.Value) || !strings.HasSuffix(";"+out.Value, ";") {
				return acked, present, reads, fmt.Errorf("%s: a read returned %q, not a prefix of the final value %q", in.Key, out.Value, finals[in.Key])
			}
			reads++
		default:
			return acked, present, reads, fmt.Errorf("%s: a %s on a list", in.Key, in.Op)
		}
		byKey[in.Key] = append(byKey[in.Key], lo)
	}
	keys := make([]string, 0, len(finals))
	for k := range finals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		appends := map[string]listOp{}
		var rs []listOp
		for _, lo := range byKey[key] {
			if lo.read {
				rs = append(rs, lo)
			} else {
				appends[lo.elem] = lo
			}
		}
		elems := strings.SplitAfter(finals[key], ";")
		if last := elems[len(elems)-1]; last != "" {
			return acked, present, reads, fmt.Errorf("%s ends with a partial element %q", key, last)
		}
		elems = elems[:len(elems)-1]
		pos := map[string]int{}
		for i, e := range elems {
			if _, dup := pos[e]; dup {
				return acked, present, reads, fmt.Errorf("%s holds element %q twice", key, e)
			}
			if _, ok := appends[e]; !ok {
				return acked, present, reads, fmt.Errorf("%s holds element %q that no client appended", key, e)
			}
			pos[e] = i
		}
		present += len(elems)
		for e, a := range appends {
			if a.acked {
				acked++
				if _, ok := pos[e]; !ok {
					return acked, present, reads, fmt.Errorf("acknowledged APPEND of %q to %s is lost", e, key)
				}
			}
		}
		// The only possible order: reads of k elements between the k-th
		// append and the next, by call time.
		slices.SortFunc(rs, func(a, b listOp) int { return cmp.Or(cmp.Compare(a.n, b.n), cmp.Compare(a.call, b.call)) })
		t, r := int64(-1)<<62, 0
		place := func(lo listOp, what string) error {
			t = max(t, lo.call)
			if t > lo.ret {
				return fmt.Errorf("%s: not linearizable: %s (called at %v, returned at %v) cannot follow what must precede it (at %v)",
					key, what, time.Duration(lo.call), time.Duration(lo.ret), time.Duration(t))
			}
			return nil
		}
		for k := 0; k <= len(elems); k++ {
			if k > 0 {
				if err := place(appends[elems[k-1]], fmt.Sprintf("the APPEND of %q, element %d", elems[k-1], k)); err != nil {
					return acked, present, reads, err
				}
			}
			for ; r < len(rs) && rs[r].n == k; r++ {
				if err := place(rs[r], fmt.Sprintf("a read of %d elements", k)); err != nil {
					return acked, present, reads, err
				}
			}
		}
	}
	return acked, present, reads, nil
}

// converged waits until every node has applied the same entries and holds
// the same data.
func converged(t *testing.T, b backend) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var applied, digests []string
		for i := range b.size() {
			m := info(b.resp(i))
			cl := redis.NewClient(&redis.Options{Addr: b.resp(i), MaxRetries: -1, ReadTimeout: 5 * time.Second})
			d, err := cl.Do(context.Background(), "DEBUG", "DIGEST").Text()
			cl.Close()
			if m == nil || err != nil {
				applied = append(applied, "down")
				continue
			}
			applied = append(applied, m["raft_applied_index"])
			digests = append(digests, d)
		}
		if len(digests) == b.size() && len(slices.Compact(slices.Clone(applied))) == 1 && len(slices.Compact(digests)) == 1 {
			t.Logf("all %d nodes applied %s entries and hold data digest %s", b.size(), applied[0], digests[0])
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes did not converge within 30s of healing: applied %v, digests %v", applied, digests)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runFaultSuite runs the workload and the nemesis on b, then checks.
func runFaultSuite(t *testing.T, b backend) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RAFTKV_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("RAFTKV_SEED=%q: %v", s, err)
		}
	}
	var soak time.Duration
	if s := os.Getenv("RAFTKV_SOAK"); s != "" {
		var err error
		if soak, err = time.ParseDuration(s); err != nil {
			t.Fatalf("RAFTKV_SOAK=%q: %v", s, err)
		}
	}
	t.Logf("back end %s, seed %d (repeat with RAFTKV_SEED=%d)", b.name(), seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	n := &nemesis{t: t, b: b, rng: rng, holdD: func() time.Duration { return 3 * time.Second }}
	if soak > 0 {
		n.holdD = func() time.Duration { return time.Duration(500+rng.IntN(5500)) * time.Millisecond }
	}
	var menu []fault
	for _, f := range faults {
		switch {
		case f.cuts && !b.canCut():
			t.Logf("fault %s needs a back end that cuts links; %s cannot", f.name, b.name())
		case b.size() < f.minN:
			t.Logf("fault %s needs %d nodes", f.name, f.minN)
		default:
			menu = append(menu, f)
		}
	}

	n.leader()
	w := startWorkload(t, b, 6, seed)
	time.Sleep(time.Second)
	deadline := time.Now().Add(soak)
	injected := map[string]int{}
	for round := 0; ; round++ {
		var f fault
		if soak > 0 {
			if time.Now().After(deadline) {
				break
			}
			f = menu[rng.IntN(len(menu))]
		} else {
			if round == len(menu) {
				break
			}
			f = menu[round]
		}
		n.logf("fault %d: %s", round+1, f.name)
		f.inject(n)
		injected[f.name]++
		n.leader()
		n.recovered()
		time.Sleep(time.Second)
	}
	finals := w.finish(t, n.client())
	ops := w.h.snapshot()
	var unknown int
	for _, op := range ops {
		if op.Output.(kvOutput).Unknown {
			unknown++
		}
	}
	var counts []string
	for _, f := range menu {
		counts = append(counts, fmt.Sprintf("%s %d", f.name, injected[f.name]))
	}
	t.Logf("faults injected: %s", strings.Join(counts, ", "))
	t.Logf("%d operations, %d with an unknown outcome", len(ops), unknown)
	var registerOps, listOps []porcupine.Operation
	for _, op := range ops {
		if _, ok := finals[op.Input.(kvInput).Key]; ok {
			listOps = append(listOps, op)
		} else {
			registerOps = append(registerOps, op)
		}
	}
	acked, present, reads, err := checkLists(listOps, finals)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lists: %d acknowledged appends present once and in order (%d elements in all), %d reads; linearizable (list-append check)", acked, present, reads)
	checkLinearizable(t, registerOps)
	converged(t, b)
}
