package test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/fsm"
	"github.com/raftkv/raftkv/raft"
)

// noTransport is a single node's transport: there is no one to send to.
type noTransport struct{}

func (noTransport) Send([]raft.Message) {}

// TestIOErrorsStopTheNode runs a one-node Raft group on pebble over a file
// system that starts failing writes or syncs: the write being proposed is
// not acknowledged, the node stops serving, and after a restart on what
// reached the disk every acknowledged write is there.
func TestIOErrorsStopTheNode(t *testing.T) {
	for name, kinds := range map[string][]errorfs.OpKind{
		"write": {errorfs.OpFileWrite, errorfs.OpFileWriteAt},
		"sync":  {errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo},
	} {
		t.Run(name, func(t *testing.T) { ioErrorRun(t, name, kinds) })
	}
}

func ioErrorRun(t *testing.T, what string, kinds []errorfs.OpKind) {
	mem := vfs.NewCrashableMem()
	failing := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if slices.Contains(kinds, op.Kind) {
			return errorfs.ErrInjected
		}
		return nil
	})}
	fatal := make(chan string, 1)
	eng, err := engine.Open("db", engine.Options{FS: errorfs.Wrap(mem, failing), Fatal: func(msg string) {
		fatal <- msg
		select {} // must not return: pebble stops here, as the process would
	}})
	if err != nil {
		t.Fatal(err)
	}
	// The node is not stopped at the end: pebble may be parked in Fatal,
	// where a real process would have exited.
	node := startOneNode(t, eng)

	propose := func(i int) error { return proposeSet(node, i) }
	var acked int
	for ; acked < 100; acked++ {
		if err := propose(acked); err != nil {
			t.Fatalf("write %d before any fault: %v", acked, err)
		}
	}

	failing.On()
	err = propose(acked)
	if err == nil {
		t.Fatalf("a write was acknowledged while every file %s failed", what)
	}
	// The node stops serving: the driver stopped on the error, or pebble
	// gave up (the process would exit).
	select {
	case <-node.Done():
		t.Logf("file %ss fail: the write got %v; the node stopped: %v", what, err, node.Err())
	case msg := <-fatal:
		t.Logf("file %ss fail: the write got %v; pebble stopped the node: %s", what, err, msg)
	case <-time.After(10 * time.Second):
		t.Fatalf("the node went on after a failed file %s (the write got %v)", what, err)
	}
	if err := propose(acked + 1); err == nil {
		t.Fatal("a write was acknowledged after the node stopped")
	}

	// Restart on what reached the disk: every acknowledged write is there
	// once the log is applied again.
	restarted, err := engine.Open("db", engine.Options{FS: mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0}), Verify: true})
	if err != nil {
		t.Fatalf("restart after the failure: %v", err)
	}
	defer restarted.Close()
	again := startOneNode(t, restarted)
	defer again.Stop()
	if err := proposeSet(again, acked+2); err != nil {
		t.Fatalf("write after restart: %v", err)
	}
	for i := range acked {
		if _, ok, err := restarted.Key(fmt.Appendf(nil, "k%d", i)); err != nil || !ok {
			t.Fatalf("acknowledged write k%d lost after restart (%v, %v)", i, ok, err)
		}
	}
}

// startOneNode starts a one-node Raft group over eng.
func startOneNode(t *testing.T, eng *engine.Engine) *raft.Node {
	t.Helper()
	sm, err := fsm.New(eng, nil)
	if err != nil {
		t.Fatal(err)
	}
	sm.Bootstrap([]engine.Member{{ID: 1}})
	node, err := raft.NewNode(raft.NodeConfig{
		Config:       raft.Config{ID: 1, Peers: []uint64{1}, ElectionTick: 2},
		LogStore:     eng,
		Transport:    noTransport{},
		StateMachine: sm,
		TickInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	node.Start()
	return node
}

// proposeSet writes k<i> through node, waiting for it to be elected.
func proposeSet(node *raft.Node, i int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := node.Propose(ctx, fsm.EncodeSet(fmt.Appendf(nil, "k%d", i), []byte("v")))
		cancel()
		if !errors.Is(err, raft.ErrNotLeader) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
