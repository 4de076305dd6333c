package resp

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cmdCommand answers COMMAND, COMMAND COUNT, COMMAND INFO, COMMAND DOCS
// and COMMAND LIST from the command table.
func cmdCommand(c *call) {
	if len(c.args) == 1 {
		names := sortedNames()
		c.conn.WriteArray(len(names))
		for _, n := range names {
			writeCommandInfo(c, commands[n])
		}
		return
	}
	switch sub := strings.ToLower(string(c.args[1])); sub {
	case "count":
		c.conn.WriteInt(len(commands))
	case "list":
		names := sortedNames()
		c.conn.WriteArray(len(names))
		for _, n := range names {
			c.conn.WriteBulkString(n)
		}
	case "info":
		names := c.args[2:]
		if len(names) == 0 {
			cmdCommand(&call{s: c.s, conn: c.conn, args: c.args[:1], cl: c.cl})
			return
		}
		c.conn.WriteArray(len(names))
		for _, n := range names {
			if cmd := commands[strings.ToLower(string(n))]; cmd != nil {
				writeCommandInfo(c, cmd)
			} else {
				c.null()
			}
		}
	case "docs":
		var cmds []*command
		if len(c.args) == 2 {
			for _, n := range sortedNames() {
				cmds = append(cmds, commands[n])
			}
		} else {
			for _, n := range c.args[2:] {
				if cmd := commands[strings.ToLower(string(n))]; cmd != nil {
					cmds = append(cmds, cmd)
				}
			}
		}
		c.mapLen(len(cmds))
		for _, cmd := range cmds {
			c.conn.WriteBulkString(cmd.name)
			c.mapLen(4)
			c.conn.WriteBulkString("summary")
			c.conn.WriteBulkString(cmd.summary)
			c.conn.WriteBulkString("since")
			c.conn.WriteBulkString(cmd.since)
			c.conn.WriteBulkString("group")
			c.conn.WriteBulkString(cmd.group)
			c.conn.WriteBulkString("arguments")
			c.conn.WriteArray(len(cmd.args))
			for _, a := range cmd.args {
				var flags []string
				if a.optional {
					flags = append(flags, "optional")
				}
				if a.multiple {
					flags = append(flags, "multiple")
				}
				n := 3
				if len(flags) > 0 {
					n++
				}
				c.mapLen(n)
				c.conn.WriteBulkString("name")
				c.conn.WriteBulkString(a.name)
				c.conn.WriteBulkString("type")
				c.conn.WriteBulkString(a.typ)
				c.conn.WriteBulkString("display_text")
				c.conn.WriteBulkString(a.name)
				if len(flags) > 0 {
					c.conn.WriteBulkString("flags")
					c.conn.WriteArray(len(flags))
					for _, f := range flags {
						c.conn.WriteString(f)
					}
				}
			}
		}
	case "help":
		writeHelp(c, "COMMAND", []string{
			"(no subcommand)", "    Return details about all commands.",
			"COUNT", "    Return the total number of commands in this server.",
			"LIST", "    Return a list of all commands in this server.",
			"INFO [<command-name> ...]", "    Return details about the given commands.",
			"DOCS [<command-name> ...]", "    Return documentation details about the given commands.",
		})
	default:
		unknownSubcommand(c, "COMMAND")
	}
}

func sortedNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// writeCommandInfo writes Redis 7's ten-field command description.
func writeCommandInfo(c *call, cmd *command) {
	c.conn.WriteArray(10)
	c.conn.WriteBulkString(cmd.name)
	c.conn.WriteInt(cmd.arity)
	c.conn.WriteArray(len(cmd.flags))
	for _, f := range cmd.flags {
		c.conn.WriteString(f)
	}
	c.conn.WriteInt(cmd.firstKey)
	c.conn.WriteInt(cmd.lastKey)
	c.conn.WriteInt(cmd.step)
	c.conn.WriteArray(1)
	c.conn.WriteString("@" + cmd.group)
	c.conn.WriteArray(0) // tips
	c.conn.WriteArray(0) // key specifications
	c.conn.WriteArray(0) // subcommands
}

// configValues are the parameters CONFIG GET reports. raftkv's own
// settings come from its flags; these answer what clients and tools ask.
func (s *Server) configValues() [][2]string {
	return [][2]string{
		{"appendonly", "yes"},
		{"appendfsync", "always"},
		{"client-query-buffer-limit", strconv.FormatInt(s.cfg.MaxQueryBuffer, 10)},
		{"cluster-enabled", "yes"},
		{"databases", "1"},
		{"maxmemory", "0"},
		{"port", portOf(s.Addr())},
		{"proto-max-bulk-len", strconv.FormatInt(s.cfg.MaxBulkLen, 10)},
		{"save", ""},
		{"timeout", "0"},
	}
}

// cmdDebug serves DEBUG DIGEST: a digest of this node's own data, as it
// has applied it (not a linearizable read), so that nodes can be compared.
func cmdDebug(c *call) {
	switch strings.ToLower(string(c.args[1])) {
	case "digest":
		if len(c.args) != 2 {
			c.conn.WriteError("ERR wrong number of arguments for 'debug|digest' command")
			return
		}
		d, err := c.s.backend.Digest()
		if err != nil {
			c.backendError(nil, err, false)
			return
		}
		c.conn.WriteString(hex.EncodeToString(d[:]))
	case "help":
		writeHelp(c, "DEBUG", []string{
			"DIGEST", "    Output a hex signature representing the current DB content.",
		})
	default:
		unknownSubcommand(c, "DEBUG")
	}
}

func cmdConfig(c *call) {
	switch sub := strings.ToLower(string(c.args[1])); sub {
	case "get":
		if len(c.args) < 3 {
			c.conn.WriteError("ERR wrong number of arguments for 'config|get' command")
			return
		}
		var out [][2]string
		for _, kv := range c.s.configValues() {
			for _, pat := range c.args[2:] {
				if ok, _ := path.Match(strings.ToLower(string(pat)), kv[0]); ok {
					out = append(out, kv)
					break
				}
			}
		}
		c.mapLen(len(out))
		for _, kv := range out {
			c.conn.WriteBulkString(kv[0])
			c.conn.WriteBulkString(kv[1])
		}
	case "set":
		c.conn.WriteError("ERR CONFIG SET is not supported: raftkv is configured by flags, environment or config file at start-up")
	case "resetstat":
		c.ok()
	case "help":
		writeHelp(c, "CONFIG", []string{
			"GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
		})
	default:
		unknownSubcommand(c, "CONFIG")
	}
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// cmdInfo answers INFO [section ...].
func cmdInfo(c *call) {
	// The default sections, then those only asked for by name or with
	// "all", as Redis's commandstats.
	sections := []string{"server", "clients", "persistence", "stats", "replication", "keyspace", "cluster", "commandstats"}
	defaults := sections[:len(sections)-1]
	want := map[string]bool{}
	for _, a := range c.args[1:] {
		switch s := strings.ToLower(string(a)); s {
		case "all", "everything":
			for _, s := range sections {
				want[s] = true
			}
		case "default":
			for _, s := range defaults {
				want[s] = true
			}
		default:
			want[s] = true
		}
	}
	if len(want) == 0 {
		for _, s := range defaults {
			want[s] = true
		}
	}
	st := c.s.backend.Status()
	var b strings.Builder
	line := func(k string, v any) { fmt.Fprintf(&b, "%s:%v\r\n", k, v) }
	for _, sec := range sections {
		if !want[sec] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		switch sec {
		case "server":
			b.WriteString("# Server\r\n")
			up := time.Since(c.s.started)
			line("redis_version", RedisVersion)
			line("raftkv_version", c.s.cfg.Version)
			line("raftkv_git_sha1", cmp.Or(c.s.cfg.Commit, "00000000"))
			line("redis_mode", "cluster")
			line("os", runtime.GOOS+" "+runtime.GOARCH)
			line("arch_bits", strconv.IntSize)
			line("go_version", runtime.Version())
			line("process_id", os.Getpid())
			line("run_id", c.s.runID)
			line("tcp_port", portOf(c.s.Addr()))
			line("uptime_in_seconds", int64(up.Seconds()))
			line("uptime_in_days", int64(up.Hours()/24))
			line("executable", executable())
			line("config_file", c.s.cfg.ConfigFile)
		case "clients":
			b.WriteString("# Clients\r\n")
			line("connected_clients", c.s.clients.Load())
		case "persistence":
			// Every write is in the Raft log, fsynced before it is
			// acknowledged (Redis's AOF with appendfsync always); the data
			// set on disk is the snapshot, and the log holds the entries
			// applied since it was compacted.
			b.WriteString("# Persistence\r\n")
			snap := c.s.backend.SnapshotInfo()
			line("loading", 0)
			line("rdb_changes_since_last_save", snap.LogEntries)
			line("rdb_bgsave_in_progress", 0)
			line("aof_enabled", 1)
			line("aof_rewrite_in_progress", 0)
			line("raft_snapshot_index", snap.Index)
			line("raft_snapshot_term", snap.Term)
			line("raft_data_size", snap.Size)
		case "stats":
			b.WriteString("# Stats\r\n")
			var calls, failed uint64
			for i := range c.s.stats.cmds {
				calls += c.s.stats.cmds[i].calls.Load()
				failed += c.s.stats.cmds[i].failed.Load()
			}
			line("total_connections_received", c.s.stats.connections.Load())
			line("total_commands_processed", calls)
			line("total_error_replies", failed)
		case "commandstats":
			b.WriteString("# Commandstats\r\n")
			for i := range c.s.stats.cmds {
				cs := &c.s.stats.cmds[i]
				calls := cs.calls.Load()
				if calls == 0 {
					continue
				}
				usec := cs.nanos.Load() / 1000
				line("cmdstat_"+c.s.stats.name(i), fmt.Sprintf("calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=0,failed_calls=%d",
					calls, usec, float64(usec)/float64(calls), cs.failed.Load()))
			}
		case "replication":
			b.WriteString("# Replication\r\n")
			writeReplication(line, st)
			line("raft_cluster_id", c.s.cfg.ClusterID)
		case "keyspace":
			b.WriteString("# Keyspace\r\n")
			if st.Keys > 0 {
				line("db0", fmt.Sprintf("keys=%d,expires=%d,avg_ttl=0", st.Keys, st.Expires))
			}
		case "cluster":
			b.WriteString("# Cluster\r\n")
			line("cluster_enabled", 1)
		}
	}
	c.verbatim(b.String())
}

func executable() string {
	p, _ := os.Executable()
	return p
}

func writeReplication(line func(string, any), st Status) {
	if st.Leader == st.ID {
		line("role", "master")
		line("connected_slaves", max(len(st.Members)-1, 0))
		i := 0
		for _, m := range st.Members {
			if m.ID == st.ID {
				continue
			}
			host, port, _ := net.SplitHostPort(m.RespAddr)
			line(fmt.Sprintf("slave%d", i), fmt.Sprintf("ip=%s,port=%s,state=online,offset=%d,lag=0", host, port, st.Commit))
			i++
		}
	} else {
		line("role", "slave")
		if addr := memberAddr(st, st.Leader); addr != "" {
			host, port, _ := net.SplitHostPort(addr)
			line("master_host", host)
			line("master_port", port)
			line("master_link_status", "up")
		} else {
			line("master_link_status", "down")
		}
	}
	line("master_repl_offset", st.Applied)
	line("raft_node_id", st.ID)
	line("raft_role", st.Role)
	line("raft_term", st.Term)
	line("raft_leader_id", st.Leader)
	line("raft_commit_index", st.Commit)
	line("raft_applied_index", st.Applied)
	line("raft_members", len(st.Members))
}
