package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// runAdmin runs an admin command against a node over RESP, following one
// MOVED redirect to the leader, and prints the reply.
func runAdmin(name string, args []string) error {
	fs := flag.NewFlagSet("raftkv "+name, flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:6380", "RESP address of any node")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	var to *uint64
	switch name {
	case "transfer-leader":
		to = fs.Uint64("to", 0, "ID of the node to hand leadership to (0: the most up-to-date follower)")
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
	cmd := []any{"RAFT.INFO"}
	if name == "transfer-leader" {
		cmd = []any{"RAFT.TRANSFER_LEADER"}
		if *to != 0 {
			cmd = append(cmd, *to)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	target := *addr
	for range 2 {
		cl := redis.NewClient(&redis.Options{Addr: target, MaxRetries: -1, ReadTimeout: *timeout})
		v, err := cl.Do(ctx, cmd...).Result()
		cl.Close()
		if err != nil {
			if moved, ok := strings.CutPrefix(err.Error(), "MOVED "); ok {
				if _, leader, ok := strings.Cut(moved, " "); ok {
					target = leader
					continue
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
	return fmt.Errorf("%s: redirected more than once; is there a leader?", name)
}

var adminHelp = map[string]string{
	"status":          "Prints a node's Raft state (RAFT.INFO).",
	"transfer-leader": "Hands leadership to another node (RAFT.TRANSFER_LEADER), e.g. before maintenance of the leader.",
}
