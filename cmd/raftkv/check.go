package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftkv/raftkv/conf"
)

// runConfigCheck validates a config file and says what it configures.
func runConfigCheck(path string) error {
	c, err := conf.CheckFile(path)
	if err != nil {
		return err
	}
	fmt.Printf("%s: OK: node %d of %d, clients on %s, peers on %s, data in %s\n",
		path, c.ID, len(c.Peers), c.RespAddr, c.PeerAddr, c.DataDir)
	return nil
}

// runHealth asks a node for PING and its Raft role: the process serves
// clients if it answers. It fails when the node does not answer in time.
func runHealth(args []string) error {
	fs := flag.NewFlagSet("raftkv health", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:6380", "RESP address of the node")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	password := fs.String("password", os.Getenv("RAFTKV_REQUIREPASS"), "the node's --requirepass; defaults to $RAFTKV_REQUIREPASS")
	tlsf := addTLSFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("health: unexpected argument %q", fs.Arg(0))
	}
	tlsCfg, err := tlsf.config()
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	redis.SetLogger(quietLogger{})
	cl := redis.NewClient(&redis.Options{Addr: *addr, Password: *password, TLSConfig: tlsCfg, MaxRetries: -1, DialTimeout: *timeout, ReadTimeout: *timeout, Protocol: 2})
	defer cl.Close()
	if err := cl.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("health: %s does not answer: %w", *addr, err)
	}
	role, leader := "unknown", "unknown"
	if info, err := cl.Info(ctx, "replication").Result(); err == nil {
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "raft_role:"); ok {
				role = v
			}
			if v, ok := strings.CutPrefix(line, "raft_leader_id:"); ok {
				leader = v
			}
		}
	}
	fmt.Printf("%s: OK: %s, leader %s\n", *addr, role, leader)
	return nil
}
