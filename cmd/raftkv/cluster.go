package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/raftkv/raftkv/conf"
)

// runCluster starts a local cluster: one `raftkv server` process per node,
// each with a config file written into its own folder, so that any node can
// be stopped and started again by hand with the command it prints.
func runCluster(args []string) error {
	fs := flag.NewFlagSet("raftkv cluster", flag.ContinueOnError)
	n := fs.Int("n", 3, "number of nodes")
	dir := fs.String("dir", "raftkv-data", "folder holding one data folder per node")
	host := fs.String("host", "127.0.0.1", "address every node listens on")
	respPort := fs.Int("port", 6380, "RESP port of node 1; node i listens on port+i-1")
	peerPort := fs.Int("peer-port", 16380, "Raft transport port of node 1; node i listens on peer-port+i-1")
	logLevel := fs.String("log-level", "info", "log level of the nodes (trace, debug, info, warn, error)")
	requirePass := fs.String("requirepass", os.Getenv("RAFTKV_REQUIREPASS"), "password clients must give (AUTH); off when empty; defaults to $RAFTKV_REQUIREPASS")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: raftkv cluster [flags]\n\nStarts a local cluster of N nodes, one process each.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("cluster: unexpected argument %q", fs.Arg(0))
	}
	if *n < 1 || *n > 99 {
		return fmt.Errorf("cluster: -n must be between 1 and 99, not %d", *n)
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "cluster", Output: os.Stderr})

	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cluster: find own executable: %w", err)
	}
	base, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	peers := make([]conf.Peer, *n)
	for i := range peers {
		peers[i] = conf.Peer{
			ID:       uint64(i + 1),
			PeerAddr: net.JoinHostPort(*host, strconv.Itoa(*peerPort+i)),
			RespAddr: net.JoinHostPort(*host, strconv.Itoa(*respPort+i)),
		}
	}
	paths := make([]string, *n)
	for i, p := range peers {
		nodeDir := filepath.Join(base, fmt.Sprintf("node%d", p.ID))
		paths[i] = filepath.Join(nodeDir, "raftkv.yaml")
		if err := checkSameMembers(paths[i], peers); err != nil {
			return err
		}
		cfg := conf.Default()
		cfg.ID = p.ID
		cfg.RespAddr = p.RespAddr
		cfg.PeerAddr = p.PeerAddr
		cfg.Peers = peers
		cfg.DataDir = nodeDir
		cfg.LogLevel = *logLevel
		cfg.RequirePass = *requirePass
		if os.Getenv("GOMAXPROCS") == "" {
			// The nodes share this machine's CPUs.
			cfg.MaxProcs = conf.CPUShare(*n)
			cfg.LeaderMaxProcs = conf.LeaderMaxProcs(cfg.MaxProcs)
		}
		if p.ID == 1 {
			// Node 1 campaigns first, so that port 6380 is the usual leader.
			cfg.FirstElectionTimeout = 3 * cfg.HeartbeatInterval
		}
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		if err := conf.WriteFile(paths[i], cfg); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}

	// Our own signals are handled here; children in the same process
	// group get a terminal's Ctrl-C directly, others get SIGTERM from us.
	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigc)

	type exit struct {
		id  uint64
		err error
	}
	exits := make(chan exit, *n)
	procs := make([]*exec.Cmd, 0, *n)
	environ := os.Environ()
	nodeEnv := conf.NodeEnv(environ)
	for i, p := range peers {
		cmd := exec.Command(exe, "server", "--config", paths[i])
		cmd.Env = nodeEnv
		cmd.Stdout = os.Stdout
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			for _, c := range procs {
				c.Process.Signal(syscall.SIGTERM)
			}
			return fmt.Errorf("cluster: start node %d: %w", p.ID, err)
		}
		procs = append(procs, cmd)
		go func(id uint64) { exits <- exit{id, cmd.Wait()} }(p.ID)
		logger.Info("node starting", "id", p.ID, "pid", cmd.Process.Pid, "resp", p.RespAddr, "peer", p.PeerAddr)
	}
	fmt.Fprintf(os.Stderr, "\nraftkv: %d nodes on %s ports %d-%d, data in %s\n", *n, *host, *respPort, *respPort+*n-1, base)
	fmt.Fprintf(os.Stderr, "  try:        redis-cli -p %d set k v\n", *respPort)
	// With the variables the launcher added for the nodes.
	restartEnv := ""
	for _, kv := range nodeEnv[len(environ):] {
		restartEnv += kv + " "
	}
	fmt.Fprintf(os.Stderr, "  restart N:  %s%s server --config %s\n", restartEnv, exe, filepath.Join(base, "nodeN", "raftkv.yaml"))
	fmt.Fprintf(os.Stderr, "  stop all:   Ctrl-C\n\n")

	running := *n
	var failed error
	stopping := false
	for running > 0 {
		select {
		case e := <-exits:
			running--
			if stopping {
				continue
			}
			if e.err != nil {
				logger.Warn("node exited", "id", e.id, "error", e.err)
				failed = errors.Join(failed, fmt.Errorf("node %d: %w", e.id, e.err))
			} else {
				logger.Info("node exited", "id", e.id)
			}
		case sig := <-sigc:
			if stopping {
				logger.Warn("second signal: killing nodes")
				for _, c := range procs {
					c.Process.Kill()
				}
				continue
			}
			stopping = true
			logger.Info("stopping nodes", "signal", sig.String())
			for _, c := range procs {
				c.Process.Signal(syscall.SIGTERM)
			}
			go func() {
				time.Sleep(30 * time.Second)
				sigc <- syscall.SIGKILL
			}()
		}
	}
	if stopping {
		logger.Info("all nodes stopped")
		return nil
	}
	return fmt.Errorf("cluster: every node exited: %w", failed)
}

// checkSameMembers refuses to rewrite an existing node config for another
// set of members: the data in that folder belongs to that cluster.
func checkSameMembers(path string, peers []conf.Peer) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	old, err := conf.Parse("raftkv server", []string{"--config", path})
	if err != nil {
		return fmt.Errorf("cluster: read existing %s: %w", path, err)
	}
	if len(old.Peers) != len(peers) {
		return fmt.Errorf("cluster: %s belongs to a %d-node cluster; start with -n %d or use another -dir", path, len(old.Peers), len(old.Peers))
	}
	for i := range peers {
		if old.Peers[i] != peers[i] {
			return fmt.Errorf("cluster: %s lists other members (%v); use the same flags as before or another -dir", path, old.Peers)
		}
	}
	return nil
}
