package test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"
)

// kvInput is one operation on one key.
type kvInput struct {
	Op    string // "get", "set" or "append"
	Key   string
	Value string
}

// kvOutput is what the operation returned. Unknown marks a write whose
// outcome is unknown (a timeout or lost connection): it may or may not
// have taken effect, so its completion is placed at the end of the history
// and its output is not checked.
type kvOutput struct {
	Value   string
	Unknown bool
}

// kvModel is a register per key with GET, SET and APPEND, partitioned by
// key so each key is checked on its own.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).Key
			byKey[k] = append(byKey[k], op)
		}
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(string), input.(kvInput), output.(kvOutput)
		switch in.Op {
		case "get":
			return out.Value == s, s
		case "set":
			return true, in.Value
		default: // append
			return true, s + in.Value
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		switch {
		case in.Op == "get":
			return fmt.Sprintf("get(%s) -> %q", in.Key, out.Value)
		case out.Unknown:
			return fmt.Sprintf("%s(%s, %q) -> ?", in.Op, in.Key, in.Value)
		}
		return fmt.Sprintf("%s(%s, %q)", in.Op, in.Key, in.Value)
	},
}

// history records operations with their invocation and completion times.
type history struct {
	mu    sync.Mutex
	start time.Time
	ops   []porcupine.Operation
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) add(op porcupine.Operation) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// check runs porcupine over the history; on failure it writes the
// visualisation into the test's output folder and names it.
func (h *history) check(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	end := h.now() + 1
	for i := range h.ops {
		if h.ops[i].Output.(kvOutput).Unknown {
			h.ops[i].Return = end
		}
	}
	res, info := porcupine.CheckOperationsVerbose(kvModel, h.ops, time.Minute)
	switch res {
	case porcupine.Ok:
		t.Logf("history of %d operations is linearizable", len(h.ops))
	case porcupine.Unknown:
		t.Fatalf("linearizability check of %d operations timed out", len(h.ops))
	default:
		dir := os.Getenv("RAFTKV_TEST_OUTPUT")
		if dir == "" {
			dir = t.TempDir()
		}
		path := filepath.Join(dir, t.Name()+"-history.html")
		if err := porcupine.VisualizePath(kvModel, info, path); err != nil {
			t.Logf("write visualisation: %v", err)
		}
		t.Fatalf("history of %d operations is NOT linearizable; visualisation: %s", len(h.ops), path)
	}
}

// TestLinearizableUnderLeaderKill runs concurrent GET/SET/APPEND on a few
// keys through clients that follow redirects but never retry an operation
// whose outcome is unknown, while the leader is killed and restarted,
// and checks the whole history for linearizability.
func TestLinearizableUnderLeaderKill(t *testing.T) {
	c := startCluster(t, 3)
	lead := c.waitLeader(10 * time.Second)
	h := &history{start: time.Now()}
	keys := []string{"x", "y", "z"}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		cc := newPlainClient(t, c.nodes[w%len(c.nodes)].respAddr)
		for _, p := range c.nodes {
			cc.client(p.respAddr) // every node is known, to find the leader
		}
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				in := kvInput{Key: keys[rng.IntN(len(keys))]}
				switch r := rng.IntN(10); {
				case r < 5:
					in.Op = "get"
				case r < 7:
					in.Op, in.Value = "set", fmt.Sprintf("s%d.%d", w, i)
				default:
					in.Op, in.Value = "append", fmt.Sprintf("a%d.%d;", w, i)
				}
				if op, ok := run(cc, w, in, h); ok {
					h.add(op)
				}
			}
		}(w)
	}
	time.Sleep(time.Second)
	c.kill(lead)
	c.waitLeader(10 * time.Second)
	time.Sleep(time.Second)
	c.start(lead)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	h.check(t)
}

// run performs one operation and returns it as a porcupine operation; ok
// is false for a failed read, which had no effect and is left out.
func run(cc *plainClient, client int, in kvInput, h *history) (op porcupine.Operation, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	call := h.now()
	var out kvOutput
	var err error
	switch in.Op {
	case "get":
		out.Value, err = cc.Do(ctx, "GET", in.Key).Text()
		if errors.Is(err, redis.Nil) {
			out.Value, err = "", nil
		}
	case "set":
		err = cc.Do(ctx, "SET", in.Key, in.Value).Err()
	case "append":
		err = cc.Do(ctx, "APPEND", in.Key, in.Value).Err()
	}
	ret := h.now()
	if err != nil {
		if in.Op == "get" {
			return op, false
		}
		out.Unknown = true
	}
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}, true
}
