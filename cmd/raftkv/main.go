// Command raftkv is a Redis-protocol key-value store replicated with Raft.
//
//	raftkv server [flags]    run one node
//	raftkv cluster [-n 3]    run a local cluster of N nodes, one process each
//	raftkv status            print a node's Raft state
//	raftkv transfer-leader   hand leadership to another node
//	raftkv config check F    validate a config file
//	raftkv health            check that a node answers (for a HEALTHCHECK)
//	raftkv backup            write a snapshot of the cluster's data to a file
//	raftkv restore           fill a new node's data folder from a backup
//	raftkv recover           disaster recovery from a survivor's data
//	raftkv version           print the version
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
)

// version and commit are set at build time:
//
//	go build -ldflags "-X main.version=1.2.3 -X main.commit=$(git rev-parse HEAD)" ./cmd/raftkv
//
// Without commit, the revision Go records from a git checkout is used.
var (
	version = "0.1.0-dev"
	commit  = ""
)

const usage = `raftkv: a Redis-compatible key-value store replicated with Raft.

Usage:
  raftkv server [flags]     run one node (raftkv server -h lists the settings)
  raftkv cluster [flags]    run a local cluster, one process per node (raftkv cluster -h)
  raftkv status [--addr]    print a node's Raft state
  raftkv transfer-leader [--addr] [--to ID]
                            hand leadership to another node
  raftkv node add --id ID --peer-addr ADDR --resp-addr ADDR [--addr]
                            add a node to the cluster
  raftkv node remove --id ID [--addr]
                            remove a node from the cluster
  raftkv config check FILE  validate a config file, naming any bad setting
  raftkv health [--addr] [--password]
                            exit 0 if the node answers PING, 1 if not
  raftkv backup --out FILE [--addr]
                            write a snapshot of the cluster's data to FILE
  raftkv restore --from FILE [server flags]
                            fill a new node's empty --data-dir from a backup
  raftkv recover --from-data-dir DIR [server flags]
                            disaster recovery: a new one-node cluster from the
                            data of a node whose majority is lost for good
  raftkv version            print the version
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = runServer(os.Args[2:])
	case "cluster":
		err = runCluster(os.Args[2:])
	case "status", "transfer-leader":
		err = runAdmin(os.Args[1], os.Args[2:])
	case "node":
		if len(os.Args) < 3 || (os.Args[2] != "add" && os.Args[2] != "remove") {
			fmt.Fprintf(os.Stderr, "raftkv: node needs add or remove\n\n%s", usage)
			os.Exit(2)
		}
		err = runAdmin("node "+os.Args[2], os.Args[3:])
	case "config":
		if len(os.Args) != 4 || os.Args[2] != "check" {
			fmt.Fprintf(os.Stderr, "raftkv: usage: raftkv config check FILE\n")
			os.Exit(2)
		}
		err = runConfigCheck(os.Args[3])
	case "health":
		err = runHealth(os.Args[2:])
	case "backup":
		err = runBackup(os.Args[2:])
	case "restore":
		err = runRestore(os.Args[2:])
	case "recover":
		err = runRecover(os.Args[2:])
	case "version", "--version", "-v":
		fmt.Println("raftkv", fullVersion())
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "raftkv: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "raftkv:", err)
		os.Exit(1)
	}
}

// fullVersion is the version with the commit it was built from, when known.
func fullVersion() string {
	if c := buildCommit(); len(c) >= 12 {
		return version + " (" + c[:12] + ")"
	}
	return version
}

// buildCommit is the commit the binary was built from, or "".
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return ""
}
