package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// runAdmin runs an admin command against a node over RESP, following
// MOVED redirects to the leader, and prints the reply.
func runAdmin(name string, args []string) error {
	fs := flag.NewFlagSet("raftkv "+name, flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:6380", "RESP address of any node")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	password := fs.String("password", os.Getenv("RAFTKV_REQUIREPASS"), "the cluster's password (its --requirepass); defaults to $RAFTKV_REQUIREPASS")
	tlsf := addTLSFlags(fs)
	var (
		to                 *uint64
		id                 *uint64
		peerAddr, respAddr *string
	)
	switch name {
	case "transfer-leader":
		to = fs.Uint64("to", 0, "ID of the node to hand leadership to (0: the most up-to-date follower)")
	case "node add", "node remove":
		id = fs.Uint64("id", 0, "ID of the node (required)")
		if name == "node add" {
			peerAddr = fs.String("peer-addr", "", "the new node's Raft transport host:port (required)")
			respAddr = fs.String("resp-addr", "", "the new node's RESP host:port (required)")
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: raftkv %s [flags]\n\n%s\n\nFlags:\n", name, adminHelp[name])
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	tlsCfg, err := tlsf.config()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	cmd := []any{"RAFT.INFO"}
	switch name {
	case "transfer-leader":
		cmd = []any{"RAFT.TRANSFER_LEADER"}
		if *to != 0 {
			cmd = append(cmd, *to)
		}
	case "node add":
		if *id == 0 || *peerAddr == "" || *respAddr == "" {
			return fmt.Errorf("%s: --id, --peer-addr and --resp-addr are required", name)
		}
		cmd = []any{"RAFT.NODE", "ADD", *id, *peerAddr, *respAddr}
	case "node remove":
		if *id == 0 {
			return fmt.Errorf("%s: --id is required", name)
		}
		cmd = []any{"RAFT.NODE", "REMOVE", *id}
	}
	// The command reports its own errors; go-redis's pool would also log
	// each refused dial it retries.
	redis.SetLogger(quietLogger{})
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	// Follow MOVED to the leader. While the cluster elects a leader, the
	// node asked may point at one that is gone (connection refused) or
	// answer CLUSTERDOWN: ask it again shortly, until the timeout. Nothing
	// is retried that may have run.
	target, hops := *addr, 0
	for {
		cl := redis.NewClient(&redis.Options{Addr: target, Password: *password, TLSConfig: tlsCfg, MaxRetries: -1, ReadTimeout: *timeout})
		v, err := cl.Do(ctx, cmd...).Result()
		cl.Close()
		if err != nil {
			if moved, ok := strings.CutPrefix(err.Error(), "MOVED "); ok {
				if _, leader, ok := strings.Cut(moved, " "); ok && leader != target && hops < 3 {
					target, hops = leader, hops+1
					continue
				}
			}
			var op *net.OpError
			electing := strings.HasPrefix(err.Error(), "CLUSTERDOWN") || strings.HasPrefix(err.Error(), "MOVED ") ||
				(target != *addr && errors.As(err, &op) && op.Op == "dial")
			if electing && ctx.Err() == nil {
				select {
				case <-time.After(200 * time.Millisecond):
					target, hops = *addr, 0
					continue
				case <-ctx.Done():
				}
			}
			return fmt.Errorf("%s: %s: %w", name, target, err)
		}
		if s, ok := v.(string); ok {
			fmt.Print(strings.ReplaceAll(s, "\r\n", "\n"))
			if !strings.HasSuffix(s, "\n") {
				fmt.Println()
			}
		}
		return nil
	}
}

// quietLogger discards go-redis's internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

var adminHelp = map[string]string{
	"node add":        "Adds a node to the cluster (RAFT.NODE ADD): it joins as a learner and votes once it has caught up. Start it with --join instead to do this from the new node.",
	"node remove":     "Removes a node from the cluster (RAFT.NODE REMOVE); the node stops once it learns of it.",
	"status":          "Prints a node's Raft state (RAFT.INFO).",
	"transfer-leader": "Hands leadership to another node (RAFT.TRANSFER_LEADER), e.g. before maintenance of the leader.",
}
