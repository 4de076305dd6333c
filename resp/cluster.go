package resp

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// raftkv is one Redis Cluster shard owning every slot: its master is the
// Raft leader and its replicas are the followers. Cluster-aware clients
// thus send every command to the leader, and MOVED replies keep them there
// when leadership moves.

// nodeName is a member's 40-character Redis Cluster node ID, derived from
// its Raft ID so that every node names every member alike.
func nodeName(id uint64) string { return fmt.Sprintf("%040x", id) }

func splitAddr(addr string) (string, int) {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return host, p
}

// ordered returns the members with the leader first.
func ordered(st Status) []Member {
	out := make([]Member, 0, len(st.Members))
	for _, m := range st.Members {
		if m.ID == st.Leader {
			out = append(out, m)
		}
	}
	for _, m := range st.Members {
		if m.ID != st.Leader {
			out = append(out, m)
		}
	}
	return out
}

func cmdCluster(c *call) {
	st := c.s.backend.Status()
	sub := strings.ToLower(string(c.args[1]))
	n := len(c.args)
	switch {
	case sub == "info" && n == 2:
		state := "ok"
		if st.Leader == None {
			state = "fail"
		}
		var b strings.Builder
		for _, kv := range [][2]any{
			{"cluster_state", state},
			{"cluster_slots_assigned", SlotCount},
			{"cluster_slots_ok", SlotCount},
			{"cluster_slots_pfail", 0},
			{"cluster_slots_fail", 0},
			{"cluster_known_nodes", len(st.Members)},
			{"cluster_size", 1},
			{"cluster_current_epoch", st.Term},
			{"cluster_my_epoch", st.Term},
		} {
			fmt.Fprintf(&b, "%s:%v\r\n", kv[0], kv[1])
		}
		c.conn.WriteBulkString(b.String())
	case sub == "myid" && n == 2:
		c.conn.WriteBulkString(nodeName(st.ID))
	case sub == "keyslot" && n == 3:
		c.conn.WriteInt(Slot(c.args[2]))
	case sub == "slots" && n == 2:
		// Without a leader there is no master to name: an empty answer
		// makes clients ask again later instead of picking a follower.
		if st.Leader == None || memberAddr(st, st.Leader) == "" {
			c.conn.WriteArray(0)
			return
		}
		ms := ordered(st)
		c.conn.WriteArray(1)
		c.conn.WriteArray(2 + len(ms))
		c.conn.WriteInt(0)
		c.conn.WriteInt(SlotCount - 1)
		for _, m := range ms {
			host, port := splitAddr(m.RespAddr)
			c.conn.WriteArray(3)
			c.conn.WriteBulkString(host)
			c.conn.WriteInt(port)
			c.conn.WriteBulkString(nodeName(m.ID))
		}
	case sub == "shards" && n == 2:
		ms := ordered(st)
		c.conn.WriteArray(1)
		c.conn.WriteArray(4)
		c.conn.WriteBulkString("slots")
		if st.Leader == None {
			c.conn.WriteArray(0)
		} else {
			c.conn.WriteArray(2)
			c.conn.WriteInt(0)
			c.conn.WriteInt(SlotCount - 1)
		}
		c.conn.WriteBulkString("nodes")
		c.conn.WriteArray(len(ms))
		for _, m := range ms {
			host, port := splitAddr(m.RespAddr)
			role := "replica"
			if m.ID == st.Leader {
				role = "master"
			}
			c.conn.WriteArray(14)
			for _, kv := range [][2]any{
				{"id", nodeName(m.ID)}, {"port", port}, {"ip", host}, {"endpoint", host},
				{"role", role}, {"replication-offset", st.Applied}, {"health", "online"},
			} {
				c.conn.WriteBulkString(kv[0].(string))
				switch v := kv[1].(type) {
				case int:
					c.conn.WriteInt(v)
				case uint64:
					c.conn.WriteUint64(v)
				default:
					c.conn.WriteBulkString(fmt.Sprint(v))
				}
			}
		}
	case sub == "nodes" && n == 2:
		var b strings.Builder
		for _, m := range st.Members {
			var flags []string
			if m.ID == st.ID {
				flags = append(flags, "myself")
			}
			master := "-"
			switch {
			case m.ID == st.Leader:
				flags = append(flags, "master")
			case st.Leader != None:
				flags = append(flags, "slave")
				master = nodeName(st.Leader)
			default:
				flags = append(flags, "master", "fail?")
			}
			_, cport := splitAddr(m.PeerAddr)
			fmt.Fprintf(&b, "%s %s@%d %s %s 0 0 %d connected", nodeName(m.ID), m.RespAddr, cport, strings.Join(flags, ","), master, st.Term)
			if m.ID == st.Leader {
				fmt.Fprintf(&b, " 0-%d", SlotCount-1)
			}
			b.WriteString("\n")
		}
		c.conn.WriteBulkString(b.String())
	case sub == "help" && n == 2:
		writeHelp(c, "CLUSTER", []string{
			"INFO", "    Return information about the cluster.",
			"KEYSLOT <key>", "    Return the hash slot for <key>.",
			"MYID", "    Return the node id.",
			"NODES", "    Return cluster configuration seen by node.",
			"SHARDS", "    Return information about slot range mappings and the nodes associated with them.",
			"SLOTS", "    Return information about slots range mappings.",
		})
	case sub == "info" || sub == "myid" || sub == "keyslot" || sub == "slots" || sub == "shards" || sub == "nodes" || sub == "help":
		c.conn.WriteError(fmt.Sprintf("ERR wrong number of arguments for 'cluster|%s' command", sub))
	default:
		unknownSubcommand(c, "CLUSTER")
	}
}
