package main

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/raftkv/raftkv/conf"
	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/fsm"
)

// runBackup writes a snapshot of a running cluster's data to a file: the
// leader answers RAFT.BACKUP with every write acknowledged before it.
func runBackup(args []string) error {
	fs := flag.NewFlagSet("raftkv backup", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:6380", "RESP address of any node (a follower redirects to the leader)")
	out := fs.String("out", "", "file to write the backup to (required); replaced only once it is complete")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long the whole backup may take")
	password := fs.String("password", os.Getenv("RAFTKV_REQUIREPASS"), "the cluster's password (its --requirepass); defaults to $RAFTKV_REQUIREPASS")
	tlsf := addTLSFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return errors.New("backup: usage: raftkv backup --out FILE [--addr HOST:PORT]")
	}
	tlsCfg, err := tlsf.config()
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	deadline := time.Now().Add(*timeout)
	target := *addr
	for hops := 0; ; hops++ {
		n, leader, err := fetchBackup(target, *password, tlsCfg, deadline, *out)
		if leader != "" && hops < 3 {
			target = leader
			continue
		}
		if err != nil {
			return fmt.Errorf("backup: %s: %w", target, err)
		}
		fmt.Printf("%s: %d bytes from %s\n", *out, n, target)
		return nil
	}
}

// fetchBackup asks addr for RAFT.BACKUP and writes the reply to out. A
// follower's MOVED comes back as leader.
func fetchBackup(addr, password string, tlsCfg *tls.Config, deadline time.Time, out string) (n int64, leader string, err error) {
	d := net.Dialer{Deadline: deadline, Timeout: 5 * time.Second}
	var conn net.Conn
	if tlsCfg != nil {
		conn, err = tls.DialWithDialer(&d, "tcp", addr, tlsCfg)
	} else {
		conn, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	r := bufio.NewReaderSize(conn, 1<<20)
	if password != "" {
		fmt.Fprintf(conn, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(password), password)
		if line, err := readLine(r); err != nil {
			return 0, "", err
		} else if line != "+OK" {
			return 0, "", fmt.Errorf("AUTH: %s", strings.TrimPrefix(line, "-"))
		}
	}
	if _, err := io.WriteString(conn, "*1\r\n$11\r\nRAFT.BACKUP\r\n"); err != nil {
		return 0, "", err
	}
	line, err := readLine(r)
	if err != nil {
		return 0, "", err
	}
	if moved, ok := strings.CutPrefix(line, "-MOVED "); ok {
		_, to, _ := strings.Cut(moved, " ")
		return 0, to, fmt.Errorf("%s", line[1:])
	}
	if strings.HasPrefix(line, "-") {
		return 0, "", errors.New(line[1:])
	}
	size, err := strconv.ParseInt(strings.TrimPrefix(line, "$"), 10, 64)
	if !strings.HasPrefix(line, "$") || err != nil || size < 0 {
		return 0, "", fmt.Errorf("unexpected reply %q", line)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".part-*")
	if err != nil {
		return 0, "", err
	}
	defer os.Remove(tmp.Name())
	if n, err = io.CopyN(tmp, r, size); err != nil {
		tmp.Close()
		return n, "", fmt.Errorf("backup cut short after %d of %d bytes: %w", n, size, err)
	}
	if end, err := readLine(r); err != nil || end != "" {
		tmp.Close()
		return n, "", fmt.Errorf("backup not terminated properly (%q, %v)", end, err)
	}
	if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
		return n, "", err
	}
	return n, "", os.Rename(tmp.Name(), out)
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(line, "\r\n"), nil
}

// splitFlag takes --name VALUE (or --name=VALUE) out of args.
func splitFlag(args []string, name string) (value string, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "--"+name || a == "-"+name) && i+1 < len(args):
			value = args[i+1]
			i++
		case strings.HasPrefix(a, "--"+name+"="):
			value = strings.TrimPrefix(a, "--"+name+"=")
		default:
			rest = append(rest, a)
		}
	}
	return value, rest
}

// runRestore fills a new node's empty data folder from a backup file. The
// node's other settings are the server's (flags, environment, --config):
// the members of the new cluster are its --peers.
func runRestore(args []string) (err error) {
	from, args := splitFlag(args, "from")
	if from == "" {
		return errors.New("restore: usage: raftkv restore --from BACKUP-FILE [server flags: --id, --peers, --data-dir, ...]")
	}
	cfg, err := conf.Parse("raftkv restore", args)
	if err != nil {
		return err
	}
	f, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	eng, err := openEmpty(cfg)
	if err != nil {
		return err
	}
	defer func() { err = closeOrDiscard(eng, cfg, err) }()
	meta, err := eng.Restore(f, members(cfg))
	if err != nil {
		return err
	}
	if cfg.ClusterID != "" {
		if err := eng.SetClusterID(cfg.ClusterID); err != nil {
			return err
		}
	}
	fmt.Printf("restored %s into %s: index %d, term %d, %d keys, %d members\n", from, cfg.DataDir, meta.Index, meta.Term, eng.KeyCount(), len(cfg.Peers))
	fmt.Println("start the node with the same settings: raftkv server ...")
	return nil
}

// runRecover starts a new single-node cluster from the data of a node
// that survived the permanent loss of its cluster's majority. Every entry
// in the survivor's log is applied, committed or not (the majority that
// knew is gone), onto a copy: the survivor's folder is left as it was.
func runRecover(args []string) (err error) {
	old, args := splitFlag(args, "from-data-dir")
	if old == "" {
		return errors.New("recover: usage: raftkv recover --from-data-dir SURVIVOR-DATA-DIR --id ID --peers ID=PEER/RESP --data-dir NEW-DATA-DIR")
	}
	cfg, err := conf.Parse("raftkv recover", args)
	if err != nil {
		return err
	}
	if len(cfg.Peers) != 1 {
		return fmt.Errorf("recover: --peers must list this node alone (%d listed): the new cluster starts with one node, and grows with --join", len(cfg.Peers))
	}
	if abs(old) == abs(cfg.DataDir) {
		return errors.New("recover: --data-dir must be a new folder, not the survivor's")
	}
	if err := checkEmpty(cfg); err != nil {
		return err
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "recover", Level: hclog.Info, Output: os.Stderr})
	logger.Warn("DISASTER RECOVERY: building a new single-node cluster from a survivor's data; the old cluster must never run again",
		"survivor", old, "new_data_dir", cfg.DataDir)

	src, err := engine.Open(filepath.Join(old, "db"), engine.Options{Logger: logger.Named("survivor"), Verify: true})
	if err != nil {
		return fmt.Errorf("recover: open the survivor's data (is its node stopped?): %w", err)
	}
	work := filepath.Join(cfg.DataDir, "recover-work")
	os.RemoveAll(work)
	if err = os.MkdirAll(cfg.DataDir, 0o755); err == nil {
		err = src.Checkpoint(work)
	}
	src.Close()
	if err != nil {
		return fmt.Errorf("recover: copy the survivor's data: %w", err)
	}
	defer os.RemoveAll(work)
	eng, err := engine.Open(work, engine.Options{Logger: logger.Named("copy")})
	if err != nil {
		return err
	}
	defer eng.Close()
	sm, err := fsm.New(eng, logger.Named("fsm"))
	if err != nil {
		return err
	}
	applied := sm.Applied()
	last, err := eng.LastIndex()
	if err != nil {
		return err
	}
	if last > applied {
		logger.Warn("applying the survivor's whole log: entries it never learned were committed are kept", "applied", applied, "last_index", last, "entries", last-applied)
	}
	for next := applied + 1; next <= last; {
		ents, err := eng.Entries(next, last+1, 64<<20)
		if err != nil {
			return fmt.Errorf("recover: read the survivor's log at %d: %w", next, err)
		}
		if _, err := sm.Apply(ents); err != nil {
			return fmt.Errorf("recover: apply the survivor's log at %d: %w", next, err)
		}
		next += uint64(len(ents))
	}
	// Snapshot the copy, as it now stands, into the new node's store.
	dst, err := openEmpty(cfg)
	if err != nil {
		return err
	}
	defer func() { err = closeOrDiscard(dst, cfg, err) }()
	snap, err := eng.OpenSnapshot()
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := snap.WriteTo(pw)
		snap.Close()
		pw.CloseWithError(err)
	}()
	meta, err := dst.Restore(pr, members(cfg))
	pr.CloseWithError(err)
	if err != nil {
		return err
	}
	// A new cluster: the old members, should one come back, are refused.
	id := cfg.ClusterID
	if id == "" {
		var b [8]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	if err := dst.SetClusterID(id); err != nil {
		return err
	}
	logger.Warn("DISASTER RECOVERY done: start this node with the same settings, then add nodes with --join",
		"data_dir", cfg.DataDir, "index", meta.Index, "term", meta.Term, "keys", dst.KeyCount(), "cluster_id", id)
	return nil
}

// checkEmpty refuses a data folder that holds a store.
func checkEmpty(cfg *conf.Config) error {
	dbDir := filepath.Join(cfg.DataDir, "db")
	if ents, err := os.ReadDir(dbDir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s already holds data: restore into an empty --data-dir", dbDir)
	}
	return nil
}

// openEmpty opens the store of cfg's data folder, which must hold none.
func openEmpty(cfg *conf.Config) (*engine.Engine, error) {
	if err := checkEmpty(cfg); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	return engine.Open(filepath.Join(cfg.DataDir, "db"), engine.Options{})
}

// closeOrDiscard closes a store openEmpty opened and, when the work on it
// failed, removes it, so that the command can simply be run again.
func closeOrDiscard(eng *engine.Engine, cfg *conf.Config, err error) error {
	closeErr := eng.Close()
	if err != nil {
		os.RemoveAll(filepath.Join(cfg.DataDir, "db"))
		return err
	}
	return closeErr
}

func members(cfg *conf.Config) []engine.Member {
	ms := make([]engine.Member, len(cfg.Peers))
	for i, p := range cfg.Peers {
		ms[i] = engine.Member{ID: p.ID, PeerAddr: p.PeerAddr, RespAddr: p.RespAddr}
	}
	return ms
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return filepath.Clean(a)
}
