package resp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/raftkv/raftkv/raft"
)

// Admin commands, named as RedisRaft names them.

// cmdRaftInfo answers RAFT.INFO: INFO-style field:value lines about this
// node's Raft state, with RedisRaft's field names where they exist.
func cmdRaftInfo(c *call) {
	st := c.s.backend.Status()
	var match map[uint64]uint64
	if st.Leader == st.ID {
		match, _ = c.s.backend.Progress(c.ctx()) // nil if leadership just moved
	}
	var b strings.Builder
	line := func(k string, v any) { fmt.Fprintf(&b, "%s:%v\r\n", k, v) }
	b.WriteString("# Raft\r\n")
	line("node_id", st.ID)
	line("cluster_id", c.s.cfg.ClusterID)
	line("role", st.Role)
	line("leader_id", st.Leader)
	line("current_term", st.Term)
	line("num_nodes", len(st.Members))
	voters := 0
	for _, m := range st.Members {
		if !m.Learner {
			voters++
		}
	}
	line("num_voting_nodes", voters)
	for i, m := range st.Members {
		role := "voter"
		if m.Learner {
			role = "learner"
		}
		fields := fmt.Sprintf("id=%d,role=%s,addr=%s,peer_addr=%s", m.ID, role, m.RespAddr, m.PeerAddr)
		if mi, ok := match[m.ID]; ok {
			fields += ",match_index=" + strconv.FormatUint(mi, 10)
		}
		line(fmt.Sprintf("node%d", i), fields)
	}
	b.WriteString("\r\n# Log\r\n")
	line("commit_index", st.Commit)
	line("last_applied_index", st.Applied)
	b.WriteString("\r\n# Snapshot\r\n")
	snap := c.s.backend.SnapshotInfo()
	line("snapshot_last_idx", snap.Index)
	line("snapshot_last_term", snap.Term)
	line("snapshot_size", snap.Size)
	line("log_entries", snap.LogEntries)
	c.conn.WriteBulkString(b.String())
}

// cmdRaftTransferLeader answers RAFT.TRANSFER_LEADER [id]: the leader hands
// over to id (or to its most up-to-date follower) and replies once another
// node leads. Any other node redirects to the leader.
func cmdRaftTransferLeader(c *call) {
	var to uint64
	if len(c.args) > 2 {
		c.conn.WriteError("ERR wrong number of arguments for 'raft.transfer_leader' command")
		return
	}
	if len(c.args) == 2 {
		id, err := strconv.ParseUint(string(c.args[1]), 10, 64)
		if err != nil || id == 0 {
			c.conn.WriteError("ERR invalid node id")
			return
		}
		if memberAddr(c.s.backend.Status(), id) == "" {
			c.conn.WriteError(fmt.Sprintf("ERR node %d is not a member", id))
			return
		}
		to = id
	}
	if !c.route(nil) {
		return
	}
	if to == c.s.backend.Status().ID {
		c.ok() // already the leader
		return
	}
	ctx := c.ctx()
	if err := c.s.backend.TransferLeadership(ctx, to); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			c.route(nil)
			return
		}
		c.conn.WriteError("ERR leadership transfer failed: " + err.Error())
		return
	}
	c.ok()
}

// cmdRaftSnapshot answers RAFT.SNAPSHOT: this node takes a snapshot now
// (compacts its log up to the applied index) and replies with its index.
func cmdRaftSnapshot(c *call) {
	ctx := c.ctx()
	index, err := c.s.backend.Snapshot(ctx)
	if err != nil {
		c.conn.WriteError("ERR snapshot failed: " + err.Error())
		return
	}
	c.conn.WriteInt64(int64(index))
}

// cmdRaftBackup answers RAFT.BACKUP, on the leader (others redirect),
// with a snapshot of the data as one bulk string: the file raftkv backup
// writes, holding every write acknowledged before the command. It streams
// from a file, a chunk at a time, on the connection taken over from the
// server, which is closed after it.
func cmdRaftBackup(c *call) {
	if !c.read(nil) {
		return
	}
	f, size, err := c.s.backend.Backup(c.ctx())
	if err != nil {
		c.conn.WriteError("ERR backup failed: " + err.Error())
		return
	}
	defer f.Close()
	dc := c.conn.Detach()
	defer dc.Close()
	dc.WriteRaw([]byte("$" + strconv.FormatInt(size, 10) + "\r\n"))
	buf := make([]byte, 1<<20)
	var sent int64
	for sent < size {
		n, err := f.Read(buf[:min(int64(len(buf)), size-sent)])
		if n > 0 {
			dc.WriteRaw(buf[:n])
			if err := dc.Flush(); err != nil {
				c.s.logger.Warn("backup stream broken", "sent", sent, "error", err)
				return
			}
			sent += int64(n)
		}
		if err != nil {
			// The bulk string cannot be finished: closing the connection
			// short of its length tells the client.
			c.s.logger.Error("backup file unreadable", "sent", sent, "error", err)
			return
		}
	}
	dc.WriteRaw([]byte("\r\n"))
	if err := dc.Flush(); err == nil {
		c.s.logger.Info("backup sent", "bytes", size)
	}
}

// cmdRaftNode answers RAFT.NODE ADD <id> <peer-addr> <resp-addr> and
// RAFT.NODE REMOVE <id>, on the leader (others redirect). ADD replies once
// the node has caught up and votes.
func cmdRaftNode(c *call) {
	sub := strings.ToLower(string(c.args[1]))
	switch {
	case sub == "add" && len(c.args) == 5, sub == "remove" && len(c.args) == 3:
	case sub == "add" || sub == "remove":
		c.conn.WriteError(fmt.Sprintf("ERR wrong number of arguments for 'raft.node|%s' command", sub))
		return
	default:
		unknownSubcommand(c, "RAFT.NODE")
		return
	}
	id, err := strconv.ParseUint(string(c.args[2]), 10, 64)
	if err != nil || id == 0 {
		c.conn.WriteError("ERR invalid node id")
		return
	}
	if !c.route(nil) {
		return
	}
	// Catching up may take a while: longer than one request.
	ctx, cancel := context.WithTimeout(context.Background(), 24*c.s.cfg.RequestTimeout)
	defer cancel()
	if sub == "add" {
		peerAddr, respAddr := string(c.args[3]), string(c.args[4])
		if _, _, err := net.SplitHostPort(peerAddr); err != nil {
			c.conn.WriteError("ERR invalid peer address " + strconv.Quote(peerAddr))
			return
		}
		if _, _, err := net.SplitHostPort(respAddr); err != nil {
			c.conn.WriteError("ERR invalid RESP address " + strconv.Quote(respAddr))
			return
		}
		err = c.s.backend.AddNode(ctx, id, peerAddr, respAddr)
	} else {
		err = c.s.backend.RemoveNode(ctx, id)
	}
	switch {
	case err == nil:
		c.ok()
	case errors.Is(err, raft.ErrNotLeader):
		c.route(nil)
	case errors.Is(err, raft.ErrConfChangePending) || errors.Is(err, raft.ErrTransferring):
		c.conn.WriteError("TRYAGAIN " + err.Error())
	default:
		c.conn.WriteError("ERR " + err.Error())
	}
}
