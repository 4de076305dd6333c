package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftkv/raftkv/test/testport"
)

// TestCompatWithRedis sends the same commands to a real redis-server and to
// a raftkv node and compares the replies byte for byte.
func TestCompatWithRedis(t *testing.T) {
	server, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed; .ci/run must install it")
		}
		t.Skip("redis-server not found: install Debian's redis-server to compare replies with Redis")
	}
	port := testport.Free(t, 1)[0]
	dir := t.TempDir()
	redis := exec.Command(server, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "log"))
	if err := redis.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { redis.Process.Kill(); redis.Wait() })
	c := startCluster(t, 1)
	lead := c.waitLeader(10 * time.Second)

	ref := dialReplies(t, fmt.Sprintf("127.0.0.1:%d", port))
	got := dialReplies(t, lead.respAddr)
	script := [][]string{
		{"PING"}, {"PING", "hi"}, {"ECHO", "hi"}, {"ECHO"}, {"SELECT", "0"}, {"SELECT", "x"},
		// Strings.
		{"SET", "k", "v"}, {"GET", "k"}, {"GET", "missing"},
		{"SET", "k", "v", "NX"}, {"SET", "k", "w", "XX", "GET"}, {"SET", "k2", "w", "GET"}, {"GET", "k"},
		{"SETNX", "x", "1"}, {"SETNX", "x", "2"}, {"GETSET", "x", "3"}, {"GETSET", "nox", "3"}, {"GET", "x"},
		{"APPEND", "a", "hello"}, {"APPEND", "a", " world"}, {"GET", "a"},
		{"DEL", "a", "missing", "a"}, {"EXISTS", "k", "k", "missing"},
		// Counters.
		{"SET", "n", "10"}, {"INCR", "n"}, {"INCRBY", "n", "5"}, {"DECR", "n"}, {"DECRBY", "n", "3"}, {"GET", "n"},
		{"INCR", "fresh"}, {"DECR", "fresh2"}, {"DECRBY", "fresh3", "-7"}, {"INCRBY", "fresh4", "-9223372036854775808"},
		{"SET", "s", "abc"}, {"INCR", "s"}, {"SET", "s", ""}, {"INCR", "s"},
		{"SET", "s", "007"}, {"INCR", "s"}, {"SET", "s", " 5"}, {"INCR", "s"}, {"SET", "s", "5 "}, {"INCR", "s"},
		{"SET", "s", "-0"}, {"INCR", "s"}, {"SET", "s", "+5"}, {"INCR", "s"}, {"SET", "s", "1.5"}, {"INCR", "s"},
		{"SET", "big", "9223372036854775807"}, {"INCR", "big"}, {"DECRBY", "big", "-1"}, {"INCRBY", "big", "0"},
		{"SET", "small", "-9223372036854775808"}, {"DECR", "small"}, {"INCRBY", "small", "-1"}, {"GET", "small"},
		{"SET", "s", "9223372036854775808"}, {"INCR", "s"},
		{"INCRBY", "n", "abc"}, {"INCRBY", "n", "1.5"}, {"INCRBY", "n", " 1"}, {"INCRBY", "n", "+1"},
		{"INCRBY", "n", "01"}, {"INCRBY", "n", "-0"}, {"INCRBY", "n", ""}, {"INCRBY", "n", "9223372036854775808"},
		{"DECRBY", "n", "-9223372036854775808"}, {"DECRBY", "n", "9223372036854775807"}, {"GET", "n"},
		{"INCR"}, {"INCRBY", "n"}, {"DECR", "a", "b"}, {"DECRBY", "n", "1", "2"},
		// INCRBYFLOAT: long double sums in Redis's format.
		{"SET", "f", "10.5"}, {"INCRBYFLOAT", "f", "0.1"}, {"INCRBYFLOAT", "f", "-5.0e3"}, {"GET", "f"},
		{"INCRBYFLOAT", "ff", "3"}, {"INCRBYFLOAT", "ff", "1.0e-20"}, {"INCRBYFLOAT", "ff", "-3"}, {"INCRBYFLOAT", "ff", "-1.0e-20"},
		{"INCRBYFLOAT", "f2", "0x1p-3"}, {"INCRBYFLOAT", "f2", "0X10"}, {"INCRBYFLOAT", "f2", ".5"}, {"INCRBYFLOAT", "f2", "5."},
		{"INCRBYFLOAT", "f2", "+1"}, {"INCRBYFLOAT", "f2", "1e+2"}, {"INCRBYFLOAT", "f3", "3.0000000000000000001"},
		{"INCRBYFLOAT", "f4", "1e300"}, {"INCRBYFLOAT", "f4", "1e300"}, {"INCRBYFLOAT", "f5", "1.18e4932"}, {"INCRBYFLOAT", "f5", "1.18e4932"},
		{"INCRBYFLOAT", "f6", "123456789012345678901234567890"}, {"INCRBYFLOAT", "f7", "0.1"}, {"INCRBYFLOAT", "f7", "0.2"},
		{"INCRBYFLOAT", "f8", "-0.0"}, {"INCRBYFLOAT", "f9", "1e-5000"}, {"INCRBYFLOAT", "f9", "1e5000"},
		{"INCRBYFLOAT", "f9", "1e-2147483647"}, {"INCRBYFLOAT", "f9", "0e-2147483647"}, {"INCRBYFLOAT", "f9", "0x0p-99"},
		{"INCRBYFLOAT", "f", "inf"}, {"INCRBYFLOAT", "f", "-Infinity"}, {"INCRBYFLOAT", "f", "nan"}, {"INCRBYFLOAT", "f", "abc"},
		{"INCRBYFLOAT", "f", ""}, {"INCRBYFLOAT", "f", " 1"}, {"INCRBYFLOAT", "f", "1 "}, {"INCRBYFLOAT", "f", "1_0"},
		{"INCRBYFLOAT", "f", "0b1"}, {"INCRBYFLOAT", "f", "0o7"}, {"INCRBYFLOAT", "f", "0x"}, {"INCRBYFLOAT", "f", "--1"}, {"INCRBYFLOAT", "f", "1e"},
		{"SET", "fs", "abc"}, {"INCRBYFLOAT", "fs", "1"}, {"INCRBYFLOAT", "fs", "inf"}, {"SET", "fs", "inf"}, {"INCRBYFLOAT", "fs", "1"},
		{"SET", "fs", "7"}, {"INCRBYFLOAT", "fs", "1.5"}, {"SET", "fs", " 7"}, {"INCRBYFLOAT", "fs", "1"},
		{"INCRBYFLOAT", "f"}, {"INCRBYFLOAT", "f", "1", "2"},
		{"APPEND", "n", "1"}, {"INCR", "n"}, {"GET", "n"},
		// Whole and partial values.
		{"SET", "str", "Hello World"}, {"STRLEN", "str"}, {"STRLEN", "missing"}, {"STRLEN"},
		{"GETRANGE", "str", "0", "4"}, {"GETRANGE", "str", "-5", "-1"}, {"GETRANGE", "str", "-1", "-5"},
		{"GETRANGE", "str", "5", "2"}, {"GETRANGE", "str", "-100", "100"}, {"GETRANGE", "str", "0", "-100"},
		{"GETRANGE", "str", "100", "200"}, {"GETRANGE", "missing", "0", "-1"}, {"GETRANGE", "str", "x", "1"},
		{"GETRANGE", "str", "0"},
		{"SETRANGE", "str", "6", "Redis"}, {"GET", "str"}, {"SETRANGE", "pad", "5", "x"}, {"GET", "pad"},
		{"SETRANGE", "none", "3", ""}, {"EXISTS", "none"}, {"SETRANGE", "str", "0", ""},
		{"SETRANGE", "str", "-1", "x"}, {"SETRANGE", "str", "x", "y"}, {"SETRANGE", "str", "536870912", "x"}, {"SETRANGE", "str", "536870911", ""}, {"SETRANGE", "str", "1000", "x"},
		{"STRLEN", "str"}, {"DEL", "str"},
		{"GETDEL", "x"}, {"GETDEL", "x"}, {"EXISTS", "x"}, {"GETDEL"},
		// Several keys.
		{"MSET", "m1", "a", "m2", "b"}, {"MGET", "m1", "missing", "m2", "m1"}, {"MGET"},
		{"MSET", "m1"}, {"MSET", "m1", "a", "m2"}, {"MSETNX", "m3", "c", "m1", "z"}, {"MGET", "m1", "m3"},
		{"MSETNX", "m3", "c", "m4", "d"}, {"MGET", "m3", "m4"}, {"MSETNX", "m5"},
		{"MSET", "dup", "1", "dup", "2"}, {"GET", "dup"},
		// Keys.
		{"TYPE", "dup"}, {"TYPE", "missing"}, {"TYPE"},
		{"RENAME", "dup", "dup2"}, {"GET", "dup"}, {"GET", "dup2"}, {"RENAME", "missing", "x"},
		{"RENAME", "dup2", "dup2"}, {"RENAME", "dup2", "m1"}, {"MGET", "dup2", "m1"},
		{"RENAMENX", "m1", "m2"}, {"RENAMENX", "m1", "m1"}, {"RENAMENX", "m1", "fresh5"}, {"RENAMENX", "missing", "x"},
		{"RENAME", "m1"}, {"UNLINK", "fresh5", "m2", "missing"}, {"UNLINK"},
		{"DBSIZE"}, {"DBSIZE", "x"},
		{"FLUSHDB", "BOGUS"}, {"FLUSHALL", "SYNC", "x"}, {"FLUSHDB"}, {"DBSIZE"}, {"GET", "k"}, {"EXISTS", "k"},
		{"SET", "k", "v"}, {"FLUSHALL", "ASYNC"}, {"DBSIZE"}, {"SET", "k", "v"}, {"FLUSHDB", "sync"}, {"MGET", "k"},
		{"TIME", "x"},
		// AUTH without a password set (TestRequirePass covers one set).
		{"AUTH", "x"}, {"AUTH", "default", "x"}, {"AUTH", "nobody", "x"}, {"AUTH"}, {"AUTH", "a", "b", "c"},
		// Expiry: every time compared is exact (whole seconds of a fresh
		// TTL, or absolute times).
		{"SET", "e", "v", "EX", "100"}, {"TTL", "e"}, {"SET", "e", "v2", "KEEPTTL"}, {"TTL", "e"}, {"GET", "e"},
		{"SET", "e", "v3"}, {"TTL", "e"}, {"PTTL", "e"}, {"EXPIRETIME", "e"}, {"PEXPIRETIME", "e"},
		{"TTL", "nokey"}, {"PTTL", "nokey"}, {"EXPIRETIME", "nokey"}, {"PEXPIRETIME", "nokey"},
		{"SET", "e", "v", "EXAT", "4102444800"}, {"EXPIRETIME", "e"}, {"PEXPIRETIME", "e"},
		{"SET", "e", "v", "PXAT", "4102444800123"}, {"EXPIRETIME", "e"}, {"PEXPIRETIME", "e"},
		{"SET", "e", "v", "PX", "100000", "GET"}, {"TTL", "e"}, {"SET", "e", "w", "NX", "EX", "5"}, {"SET", "e", "w", "XX", "EX", "7"}, {"TTL", "e"},
		{"SET", "e", "v", "EX", "10", "EX", "20"}, {"TTL", "e"}, {"SET", "e", "v", "EX", "10", "PX", "20"}, {"SET", "e", "v", "EX", "10", "KEEPTTL"},
		{"SET", "e", "v", "KEEPTTL", "PX", "10"}, {"SET", "e", "v", "PERSIST"}, {"SET", "e", "v", "EX"}, {"SET", "e", "v", "EX", "abc"},
		{"SET", "e", "v", "EX", "0"}, {"SET", "e", "v", "EX", "-1"}, {"SET", "e", "v", "PX", "0"}, {"SET", "e", "v", "EXAT", "0"},
		{"SET", "e", "v", "EX", "9223372036854775807"}, {"SET", "e", "v", "EX", "9223372036854775"}, {"SET", "e", "v", "PX", "9223372036854775807"},
		{"SET", "e", "v", "EXAT", "9223372036854775807"}, {"SET", "e", "v", "PXAT", "9223372036854775807"}, {"PEXPIRETIME", "e"},
		{"SET", "e", "v", "ex", "100", "nx"}, {"TTL", "e"},
		{"SET", "e", "v", "EX", "100"}, {"INCR", "e"}, {"SET", "e", "1", "EX", "100"}, {"INCR", "e"}, {"TTL", "e"},
		{"APPEND", "e", "0"}, {"TTL", "e"}, {"SETRANGE", "e", "0", "9"}, {"TTL", "e"}, {"INCRBYFLOAT", "e", "0.5"}, {"TTL", "e"},
		{"RENAME", "e", "e2"}, {"TTL", "e2"}, {"GETSET", "e2", "x"}, {"TTL", "e2"},
		{"SET", "e", "v", "EX", "100"}, {"MSET", "e", "v"}, {"TTL", "e"},
		// EXPIRE and its forms.
		{"SET", "x1", "v"}, {"EXPIRE", "x1", "100"}, {"TTL", "x1"}, {"EXPIRE", "x1", "50", "GT"}, {"TTL", "x1"},
		{"EXPIRE", "x1", "200", "GT"}, {"TTL", "x1"}, {"EXPIRE", "x1", "300", "LT"}, {"EXPIRE", "x1", "150", "lt"}, {"TTL", "x1"},
		{"EXPIRE", "x1", "10", "NX"}, {"EXPIRE", "x1", "120", "XX"}, {"TTL", "x1"}, {"EXPIRE", "x1", "130", "XX", "GT"}, {"TTL", "x1"},
		{"PERSIST", "x1"}, {"TTL", "x1"}, {"PERSIST", "x1"}, {"PERSIST", "nokey"},
		{"EXPIRE", "x1", "10", "XX"}, {"EXPIRE", "x1", "10", "GT"}, {"EXPIRE", "x1", "10", "LT"}, {"TTL", "x1"}, {"PERSIST", "x1"},
		{"EXPIRE", "x1", "10", "NX"}, {"TTL", "x1"}, {"EXPIRE", "nokey", "10"},
		{"PEXPIRE", "x1", "100000"}, {"TTL", "x1"}, {"EXPIREAT", "x1", "4102444800"}, {"EXPIRETIME", "x1"},
		{"PEXPIREAT", "x1", "4102444800999"}, {"PEXPIRETIME", "x1"}, {"EXPIRETIME", "x1"},
		{"PEXPIREAT", "x1", "9223372036854775807"}, {"PEXPIRETIME", "x1"},
		{"EXPIRE", "x1", "abc"}, {"EXPIRE", "x1", "10", "BOGUS"}, {"EXPIRE", "x1", "abc", "BOGUS"}, {"EXPIRE", "x1", "abc", "NX", "XX"},
		{"EXPIRE", "x1", "10", "NX", "GT"}, {"EXPIRE", "x1", "10", "GT", "LT"}, {"EXPIRE", "x1", "10", "XX", "NX"},
		{"EXPIRE", "x1", "9223372036854775807"}, {"EXPIRE", "x1", "-9223372036854775807"}, {"EXPIREAT", "x1", "9223372036854775807"},
		{"PEXPIRE", "x1", "9223372036854775807"}, {"EXPIRE", "x1"}, {"TTL"}, {"PERSIST", "a", "b"}, {"EXPIRETIME", "a", "b"},
		{"EXPIRE", "x1", "0"}, {"EXISTS", "x1"}, {"SET", "x1", "v"}, {"EXPIRE", "x1", "-5"}, {"GET", "x1"},
		{"SET", "x1", "v"}, {"PEXPIREAT", "x1", "1"}, {"TTL", "x1"}, {"SET", "x1", "v"}, {"EXPIREAT", "x1", "-1", "LT"}, {"EXISTS", "x1"},
		// SETEX, PSETEX, GETEX.
		{"SETEX", "sx", "100", "v"}, {"TTL", "sx"}, {"GET", "sx"}, {"PSETEX", "sx", "200000", "w"}, {"TTL", "sx"}, {"GET", "sx"},
		{"SETEX", "sx", "0", "v"}, {"SETEX", "sx", "-1", "v"}, {"SETEX", "sx", "abc", "v"}, {"PSETEX", "sx", "0", "v"},
		{"SETEX", "sx", "9223372036854775807", "v"}, {"SETEX", "sx", "1"}, {"PSETEX", "sx"},
		{"GETEX", "sx"}, {"TTL", "sx"}, {"GETEX", "sx", "EX", "300"}, {"TTL", "sx"}, {"GETEX", "sx", "PERSIST"}, {"TTL", "sx"},
		{"GETEX", "sx", "PXAT", "4102444800123"}, {"PEXPIRETIME", "sx"}, {"GETEX", "sx", "EXAT", "4102444801"}, {"EXPIRETIME", "sx"},
		{"GETEX", "sx", "EX", "10", "EX", "20"}, {"TTL", "sx"}, {"GETEX", "sx", "EX", "10", "PERSIST"}, {"GETEX", "sx", "PERSIST", "EX", "1"},
		{"GETEX", "sx", "NX"}, {"GETEX", "sx", "KEEPTTL"}, {"GETEX", "sx", "EX"}, {"GETEX", "sx", "EX", "0"}, {"GETEX", "sx", "PX", "abc"},
		{"GETEX", "nokey", "EX", "10"}, {"GETEX", "nokey"}, {"GETEX"},
		{"GETEX", "sx", "EXAT", "1"}, {"GET", "sx"}, {"EXISTS", "sx"},
		{"SET", "past", "v", "PXAT", "1"}, {"GET", "past"}, {"EXISTS", "past"}, {"TTL", "past"},
		// Hashes. Fields are added in byte order: raftkv lists them so, a
		// small Redis hash in insertion order (Redis promises none).
		{"HSET", "h", "f1", "v1", "f2", "v2"}, {"HSET", "h", "f1", "x"}, {"HGET", "h", "f1"}, {"HGET", "h", "nof"}, {"HGET", "nokey", "f"},
		{"HMGET", "h", "f1", "nof", "f2"}, {"HMGET", "nokey", "a", "b"}, {"HLEN", "h"}, {"HLEN", "nokey"},
		{"HEXISTS", "h", "f1"}, {"HEXISTS", "h", "nof"}, {"HEXISTS", "nokey", "f"}, {"HSTRLEN", "h", "f2"}, {"HSTRLEN", "h", "nof"}, {"HSTRLEN", "nokey", "f"},
		{"HSETNX", "h", "f1", "y"}, {"HSETNX", "h", "f3", "z"}, {"HDEL", "h", "f3", "nof", "f3"}, {"HDEL", "nokey", "f"},
		{"HKEYS", "h"}, {"HVALS", "h"}, {"HGETALL", "h"}, {"HKEYS", "nokey"}, {"HVALS", "nokey"}, {"HGETALL", "nokey"},
		{"HSET", "h", "", ""}, {"HGET", "h", ""}, {"HSET", "h", "f\x00\r\n", "\x00"}, {"HGET", "h", "f\x00\r\n"}, {"HLEN", "h"}, {"HDEL", "h", "", "f\x00\r\n"},
		{"HINCRBY", "h", "n", "5"}, {"HINCRBY", "h", "n", "-10"}, {"HGET", "h", "n"}, {"HINCRBY", "h", "f1", "1"}, {"HINCRBY", "h", "n", "abc"},
		{"HINCRBY", "h", "n", "9223372036854775807"}, {"HINCRBY", "h", "n", "10"}, {"HINCRBY", "h", "n", "-9223372036854775808"}, {"HINCRBY", "hn", "n", "-3"},
		{"HINCRBYFLOAT", "h", "fl", "1.5"}, {"HINCRBYFLOAT", "h", "fl", "0.1"}, {"HINCRBYFLOAT", "h", "f1", "1"}, {"HINCRBYFLOAT", "h", "fl", "abc"},
		{"HINCRBYFLOAT", "h", "fl", "inf"}, {"HINCRBYFLOAT", "h", "fl", "1e5000"}, {"HSET", "h", "fi", "inf"}, {"HINCRBYFLOAT", "h", "fi", "1"}, {"HINCRBYFLOAT", "hf", "x", "-2.5e3"},
		{"HSET", "h", "f"}, {"HSET", "h", "f", "v", "g"}, {"HSET", "h"}, {"HMSET", "h", "f4", "v", "f5", "w"}, {"HMSET", "h", "f"}, {"HGET", "h"}, {"HDEL", "h"},
		{"HSETNX", "h", "f"}, {"HMGET", "h"}, {"HGETALL"}, {"HLEN", "h", "x"}, {"HINCRBY", "h", "f"}, {"HINCRBYFLOAT", "h", "f", "1", "2"}, {"HEXISTS", "h"}, {"HSTRLEN", "h"}, {"HKEYS"}, {"HVALS", "a", "b"},
		{"HGETALL", "h"},
		// WRONGTYPE, both ways.
		{"SET", "s", "v"}, {"HSET", "s", "f", "v"}, {"HSETNX", "s", "f", "v"}, {"HGET", "s", "f"}, {"HMGET", "s", "f"}, {"HGETALL", "s"}, {"HKEYS", "s"},
		{"HLEN", "s"}, {"HDEL", "s", "f"}, {"HEXISTS", "s", "f"}, {"HINCRBY", "s", "f", "1"}, {"HINCRBYFLOAT", "s", "f", "1"}, {"HSTRLEN", "s", "f"},
		{"GET", "h"}, {"APPEND", "h", "x"}, {"INCR", "h"}, {"INCRBYFLOAT", "h", "1"}, {"STRLEN", "h"}, {"GETRANGE", "h", "0", "1"}, {"SETRANGE", "h", "0", "x"},
		{"SETRANGE", "h", "0", ""}, {"GETDEL", "h"}, {"GETEX", "h"}, {"GETEX", "h", "PERSIST"}, {"GETSET", "h", "v"}, {"SET", "h", "v", "GET"}, {"SET", "h", "v", "NX", "GET"},
		{"TYPE", "h"}, {"TYPE", "s"}, {"MGET", "h", "s"}, {"EXISTS", "h", "s"}, {"SETNX", "h", "v"}, {"SET", "h", "v", "NX"}, {"MSETNX", "h", "v"}, {"TYPE", "h"},
		// A hash's expiry, rename and replacement.
		{"EXPIRE", "h", "100"}, {"TTL", "h"}, {"RENAME", "h", "h2"}, {"TTL", "h2"}, {"HGETALL", "h2"}, {"EXISTS", "h"}, {"PERSIST", "h2"}, {"TTL", "h2"},
		{"HSET", "a", "f", "1"}, {"HSET", "b", "g", "2"}, {"RENAME", "a", "b"}, {"HGETALL", "b"}, {"RENAMENX", "b", "h2"}, {"RENAMENX", "b", "c"}, {"HGETALL", "c"},
		{"RENAME", "s", "c"}, {"TYPE", "c"}, {"GET", "c"}, {"HSET", "c2", "f", "v"}, {"SET", "c2", "v"}, {"TYPE", "c2"}, {"HGET", "c2", "f"},
		{"HSET", "h3", "f", "v"}, {"HDEL", "h3", "f"}, {"EXISTS", "h3"}, {"TYPE", "h3"}, {"HSET", "h3", "f", "v"}, {"DEL", "h3", "h2"}, {"HGETALL", "h2"}, {"GETDEL", "c"},
		{"HSET", "h4", "f", "v"}, {"EXPIRE", "h4", "0"}, {"EXISTS", "h4"}, {"HSET", "h4", "f", "w"}, {"HGETALL", "h4"}, {"DBSIZE"},
		// Lists.
		{"RPUSH", "l", "a", "b", "c"}, {"LPUSH", "l", "z", "y"}, {"LRANGE", "l", "0", "-1"}, {"LLEN", "l"}, {"LLEN", "nokey"},
		{"LRANGE", "l", "1", "2"}, {"LRANGE", "l", "-2", "-1"}, {"LRANGE", "l", "-100", "100"}, {"LRANGE", "l", "3", "1"}, {"LRANGE", "l", "5", "10"},
		{"LRANGE", "l", "-1", "-2"}, {"LRANGE", "l", "0", "0"}, {"LRANGE", "nokey", "0", "-1"}, {"LRANGE", "l", "x", "1"}, {"LRANGE", "l", "0", "1.5"},
		{"LINDEX", "l", "0"}, {"LINDEX", "l", "-1"}, {"LINDEX", "l", "5"}, {"LINDEX", "l", "-6"}, {"LINDEX", "nokey", "0"}, {"LINDEX", "l", "x"},
		{"LSET", "l", "1", "Y"}, {"LSET", "l", "-1", "C"}, {"LSET", "l", "5", "x"}, {"LSET", "nokey", "0", "x"}, {"LSET", "l", "x", "x"}, {"LRANGE", "l", "0", "-1"},
		{"LPUSHX", "nokey", "a"}, {"RPUSHX", "nokey", "a"}, {"EXISTS", "nokey"}, {"LPUSHX", "l", "p1", "p2"}, {"RPUSHX", "l", "q"}, {"LRANGE", "l", "0", "-1"},
		{"LPOP", "l"}, {"RPOP", "l"}, {"LPOP", "l", "2"}, {"RPOP", "l", "1"}, {"LPOP", "l", "0"}, {"LRANGE", "l", "0", "-1"},
		{"LPOP", "nokey"}, {"RPOP", "nokey", "2"}, {"LPOP", "nokey", "0"}, {"LPOP", "l", "-1"}, {"LPOP", "l", "x"}, {"LPOP", "l", "1", "2"},
		{"RPOP", "l", "100"}, {"EXISTS", "l"}, {"LLEN", "l"},
		{"RPUSH", "r", "a", "b", "a", "c", "a", "b", "a"}, {"LREM", "r", "2", "a"}, {"LRANGE", "r", "0", "-1"}, {"LREM", "r", "-1", "a"}, {"LRANGE", "r", "0", "-1"},
		{"LREM", "r", "0", "b"}, {"LRANGE", "r", "0", "-1"}, {"LREM", "r", "0", "nothere"}, {"LREM", "nokey", "0", "a"}, {"LREM", "r", "x", "a"},
		{"LPUSH", "r", "a"}, {"LINDEX", "r", "1"}, {"LREM", "r", "0", "a"}, {"LRANGE", "r", "0", "-1"}, {"LREM", "r", "0", "c"}, {"EXISTS", "r"},
		{"RPUSH", "t", "0", "1", "2", "3", "4", "5"}, {"LTRIM", "t", "1", "-2"}, {"LRANGE", "t", "0", "-1"}, {"LTRIM", "t", "-100", "100"}, {"LRANGE", "t", "0", "-1"},
		{"LTRIM", "t", "1", "1"}, {"LRANGE", "t", "0", "-1"}, {"LPUSH", "t", "x"}, {"RPUSH", "t", "y"}, {"LRANGE", "t", "0", "-1"}, {"LINDEX", "t", "1"},
		{"LTRIM", "t", "2", "1"}, {"EXISTS", "t"}, {"LTRIM", "nokey", "0", "1"}, {"LTRIM", "t", "x", "1"},
		{"RPUSH", "b", "", "\x00\r\n"}, {"LRANGE", "b", "0", "-1"}, {"LPUSH"}, {"LPUSH", "b"}, {"RPUSHX", "b"}, {"LLEN"}, {"LINDEX", "b"}, {"LRANGE", "b", "0"}, {"LSET", "b", "0"}, {"LREM", "b", "0"}, {"LTRIM", "b", "0"}, {"RPOP"},
		{"LPUSH", "s", "x"}, {"RPOP", "s"}, {"LLEN", "s"}, {"LRANGE", "s", "0", "1"}, {"LINDEX", "s", "0"}, {"LSET", "s", "0", "x"}, {"LREM", "s", "0", "x"}, {"LTRIM", "s", "0", "1"}, {"LPUSHX", "s", "x"},
		{"LPUSH", "c2", "x"}, {"HSET", "c2", "f", "v"}, {"GET", "c2"}, {"TYPE", "c2"}, {"LPOP", "h2"}, {"EXPIRE", "c2", "100"}, {"RENAME", "c2", "l2"}, {"TTL", "l2"}, {"LRANGE", "l2", "0", "-1"},
		{"SET", "l2", "v"}, {"TYPE", "l2"}, {"DEL", "l2"},
		// Sets (member lists compared as sets: Redis promises no order).
		{"SADD", "st", "a", "b", "c", "a"}, {"SADD", "st", "c", "d"}, {"SCARD", "st"}, {"SCARD", "nokey"}, {"SMEMBERS", "st"}, {"SMEMBERS", "nokey"},
		{"SISMEMBER", "st", "a"}, {"SISMEMBER", "st", "z"}, {"SISMEMBER", "nokey", "a"}, {"SMISMEMBER", "st", "a", "z", "d"}, {"SMISMEMBER", "nokey", "a", "b"},
		{"SREM", "st", "a", "z", "a"}, {"SREM", "nokey", "a"}, {"SMEMBERS", "st"},
		{"SADD", "st2", "c", "d", "e"}, {"SADD", "st3", "d", "x"},
		{"SINTER", "st", "st2"}, {"SINTER", "st", "st2", "st3"}, {"SINTER", "st", "nokey"}, {"SINTER", "nokey", "st"}, {"SINTER", "st"},
		{"SUNION", "st", "st2", "st3"}, {"SUNION", "nokey", "st3"}, {"SUNION", "nokey"},
		{"SDIFF", "st2", "st"}, {"SDIFF", "st2", "st", "st3"}, {"SDIFF", "nokey", "st"}, {"SDIFF", "st", "nokey"},
		{"SINTER", "st", "s"}, {"SUNION", "s", "st"}, {"SDIFF", "nokey", "s"}, {"SINTER", "nokey", "s"},
		{"SADD", "one", "only"}, {"SPOP", "one"}, {"EXISTS", "one"}, {"SPOP", "nokey"}, {"SPOP", "nokey", "3"}, {"SPOP", "st", "0"},
		{"SADD", "one", "only"}, {"SPOP", "one", "5"}, {"EXISTS", "one"}, {"SPOP", "st", "-1"}, {"SPOP", "st", "x"}, {"SPOP", "st", "1", "2"},
		{"SADD", "one", "only"}, {"SRANDMEMBER", "one"}, {"SRANDMEMBER", "one", "3"}, {"SRANDMEMBER", "one", "-3"}, {"SRANDMEMBER", "one", "0"},
		{"SRANDMEMBER", "nokey"}, {"SRANDMEMBER", "nokey", "2"}, {"SRANDMEMBER", "one", "x"}, {"SRANDMEMBER", "one", "1", "2"},
		{"SADD", "st"}, {"SREM", "st"}, {"SCARD"}, {"SISMEMBER", "st"}, {"SMISMEMBER", "st"}, {"SMEMBERS"}, {"SPOP"}, {"SRANDMEMBER"}, {"SINTER"}, {"SUNION"}, {"SDIFF"},
		{"SADD", "s", "x"}, {"SREM", "s", "x"}, {"SCARD", "s"}, {"SISMEMBER", "s", "x"}, {"SMEMBERS", "s"}, {"SPOP", "s"}, {"SPOP", "s", "0"}, {"SRANDMEMBER", "s"},
		{"GET", "st"}, {"LPUSH", "st", "x"}, {"HSET", "st", "f", "v"}, {"TYPE", "st"}, {"RENAME", "st", "st4"}, {"SMEMBERS", "st4"},
		{"SADD", "bin", "", "\x00\r\n"}, {"SISMEMBER", "bin", ""}, {"SMEMBERS", "bin"},
		// Sorted sets.
		{"ZADD", "z", "1", "a", "2", "b", "3", "c"}, {"ZADD", "z", "1.5", "a", "10", "d"}, {"ZCARD", "z"}, {"ZCARD", "nokey"},
		{"ZSCORE", "z", "a"}, {"ZSCORE", "z", "nom"}, {"ZSCORE", "nokey", "a"}, {"ZRANGE", "z", "0", "-1"}, {"ZRANGE", "z", "0", "-1", "WITHSCORES"},
		{"ZRANGE", "z", "1", "2"}, {"ZRANGE", "z", "-2", "-1", "withscores"}, {"ZRANGE", "z", "5", "10"}, {"ZRANGE", "z", "2", "1"}, {"ZRANGE", "z", "-100", "100"},
		{"ZRANGE", "z", "0", "-1", "REV"}, {"ZRANGE", "z", "0", "1", "REV", "WITHSCORES"}, {"ZRANGE", "nokey", "0", "-1"}, {"ZRANGE", "z", "x", "1"},
		{"ZRANGE", "z", "1", "3", "BYSCORE"}, {"ZRANGE", "z", "(1.5", "3", "BYSCORE", "WITHSCORES"}, {"ZRANGE", "z", "-inf", "+inf", "BYSCORE"},
		{"ZRANGE", "z", "-inf", "(3", "BYSCORE"}, {"ZRANGE", "z", "3", "1", "BYSCORE", "REV"}, {"ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2"},
		{"ZRANGE", "z", "0", "100", "BYSCORE", "LIMIT", "1", "2"}, {"ZRANGE", "z", "0", "100", "BYSCORE", "LIMIT", "0", "-1"}, {"ZRANGE", "z", "0", "100", "BYSCORE", "LIMIT", "-1", "2"},
		{"ZRANGE", "z", "0", "100", "BYSCORE", "LIMIT", "10", "2"}, {"ZRANGE", "z", "0", "100", "BYSCORE", "LIMIT", "1", "0"}, {"ZRANGE", "z", "(3", "(3", "BYSCORE"},
		{"ZRANGE", "z", "x", "1", "BYSCORE"}, {"ZRANGE", "z", "1", "(x", "BYSCORE"}, {"ZRANGE", "z", "nan", "1", "BYSCORE"}, {"ZRANGE", "z", "0", "1", "LIMIT", "0", "1"},
		{"ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"}, {"ZRANGE", "z", "0", "1", "REV", "REV"}, {"ZRANGE", "z", "0", "1", "BOGUS"}, {"ZRANGE", "z", "0", "1", "LIMIT", "1"},
		{"ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "x", "1"}, {"ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"},
		{"ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"}, {"ZRANGE", "lex", "-", "+", "BYLEX"}, {"ZRANGE", "lex", "[b", "(d", "BYLEX"},
		{"ZRANGE", "lex", "(b", "[d", "BYLEX", "LIMIT", "1", "5"}, {"ZRANGE", "lex", "+", "-", "BYLEX", "REV"}, {"ZRANGE", "lex", "[d", "[b", "BYLEX", "REV"},
		{"ZRANGE", "lex", "b", "d", "BYLEX"}, {"ZRANGE", "lex", "+", "-", "BYLEX"}, {"ZRANGE", "lex", "[z", "+", "BYLEX"},
		{"ZRANGEBYSCORE", "z", "1", "3"}, {"ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES"}, {"ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "1", "1", "WITHSCORES"},
		{"ZRANGEBYSCORE", "z", "(1", "(10"}, {"ZRANGEBYSCORE", "z", "1", "3", "REV"}, {"ZRANGEBYSCORE", "z", "1", "3", "BYSCORE"}, {"ZRANGEBYSCORE", "nokey", "1", "3"},
		{"ZRANK", "z", "a"}, {"ZRANK", "z", "d"}, {"ZRANK", "z", "nom"}, {"ZRANK", "nokey", "a"}, {"ZREVRANK", "z", "a"}, {"ZREVRANK", "z", "d"},
		{"ZCOUNT", "z", "-inf", "+inf"}, {"ZCOUNT", "z", "(1.5", "3"}, {"ZCOUNT", "z", "2", "1"}, {"ZCOUNT", "nokey", "0", "1"}, {"ZCOUNT", "z", "x", "1"},
		{"ZADD", "z", "NX", "100", "a", "5", "e"}, {"ZADD", "z", "XX", "100", "a", "5", "f"}, {"ZADD", "z", "XX", "CH", "200", "a", "5", "f"}, {"ZSCORE", "z", "a"},
		{"ZADD", "z", "GT", "CH", "100", "a", "300", "b"}, {"ZADD", "z", "LT", "CH", "1", "a", "300", "c"}, {"ZRANGE", "z", "0", "-1", "WITHSCORES"},
		{"ZADD", "z", "INCR", "5", "a"}, {"ZADD", "z", "INCR", "NX", "5", "a"}, {"ZADD", "z", "XX", "INCR", "5", "newm"}, {"ZADD", "z", "GT", "INCR", "-1", "a"},
		{"ZADD", "z", "NX", "XX", "1", "a"}, {"ZADD", "z", "GT", "LT", "1", "a"}, {"ZADD", "z", "NX", "GT", "1", "a"}, {"ZADD", "z", "INCR", "1", "a", "2", "b"},
		{"ZADD", "z", "1"}, {"ZADD", "z", "1", "a", "2"}, {"ZADD", "z", "x", "a"}, {"ZADD", "z", "1", "a", "nan", "b"}, {"ZADD", "z", "CH"}, {"ZADD", "z"},
		{"ZADD", "nokey", "XX", "1", "a"}, {"EXISTS", "nokey"}, {"ZADD", "nokey", "XX", "INCR", "1", "a"},
		{"ZADD", "fl", "0.1", "a", "-0", "b", "1e20", "c", "inf", "d", "-inf", "e", "4503599627370496", "f", "-4503599627370495", "g", "0x10", "h", "+2", "i", "1.5e-7", "j"},
		{"ZRANGE", "fl", "0", "-1", "WITHSCORES"}, {"ZSCORE", "fl", "b"}, {"ZADD", "fl", "1e400", "x"}, {"ZADD", "fl", " 1", "x"}, {"ZADD", "fl", "1 ", "x"},
		{"ZINCRBY", "fl", "1", "d"}, {"ZINCRBY", "fl", "-inf", "d"}, {"ZINCRBY", "fl", "x", "d"}, {"ZINCRBY", "fl", "2.5", "new"}, {"ZINCRBY", "nokey2", "1", "m"},
		{"ZINCRBY", "fl", "1"}, {"ZREM", "fl", "a", "nom", "a"}, {"ZREM", "nokey", "a"}, {"ZREM", "fl"},
		{"ZPOPMIN", "z"}, {"ZPOPMAX", "z"}, {"ZPOPMIN", "z", "2"}, {"ZPOPMAX", "z", "0"}, {"ZPOPMIN", "z", "-1"}, {"ZPOPMIN", "z", "x"}, {"ZPOPMIN", "z", "1", "2"},
		{"ZPOPMIN", "nokey"}, {"ZPOPMAX", "nokey", "3"}, {"ZPOPMAX", "z", "100"}, {"EXISTS", "z"}, {"ZPOPMIN", "s", "0"},
		{"ZCARD"}, {"ZSCORE", "z"}, {"ZRANK", "z"}, {"ZCOUNT", "z", "1"}, {"ZRANGE", "z", "1"}, {"ZRANGEBYSCORE", "z"}, {"ZPOPMIN"}, {"ZREM", "z"}, {"ZINCRBY", "z"},
		{"SET", "zs", "v"}, {"ZADD", "zs", "1", "a"}, {"ZINCRBY", "zs", "1", "a"}, {"ZREM", "zs", "a"}, {"ZCARD", "zs"}, {"ZSCORE", "zs", "a"}, {"ZRANK", "zs", "a"},
		{"ZCOUNT", "zs", "0", "1"}, {"ZRANGE", "zs", "0", "1"}, {"ZRANGEBYSCORE", "zs", "0", "1"}, {"ZPOPMIN", "zs"}, {"ZPOPMAX", "zs", "2"}, {"TYPE", "fl"},
		{"ZADD", "zr", "1", "a", "2", "b"}, {"EXPIRE", "zr", "100"}, {"RENAME", "zr", "zr2"}, {"TTL", "zr2"}, {"ZRANGE", "zr2", "0", "-1", "WITHSCORES"}, {"ZRANK", "zr2", "b"},
		{"ZADD", "zv", "1", "a", "2", "b", "3", "c"}, {"ZREVRANGE", "zv", "0", "-1"}, {"ZREVRANGE", "zv", "0", "1", "WITHSCORES"}, {"ZREVRANGE", "zv", "0", "1", "REV"},
		{"ZREVRANGE", "zv", "0", "1", "BYSCORE"}, {"ZREVRANGE", "zv", "0", "1", "LIMIT", "0", "1"}, {"ZREVRANGE", "nokey", "0", "1"}, {"ZREVRANGE", "zv", "0"},
		{"ZREVRANGEBYSCORE", "zv", "+inf", "-inf"}, {"ZREVRANGEBYSCORE", "zv", "2", "(1", "WITHSCORES"}, {"ZREVRANGEBYSCORE", "zv", "3", "1", "LIMIT", "1", "1"},
		{"ZREVRANGEBYSCORE", "zv", "1", "3"}, {"ZREVRANGEBYSCORE", "zv", "3", "1", "REV"}, {"ZREVRANGEBYSCORE", "zv", "x", "1"}, {"ZRANGEBYSCORE", "zv", "1", "3", "BYLEX"},
		{"ZADD", "zq", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"}, {"ZPOPMIN", "zq"}, {"ZPOPMAX", "zq"}, {"ZRANGE", "zq", "0", "-1", "WITHSCORES"},
		{"ZRANK", "zq", "c"}, {"ZREVRANK", "zq", "b"}, {"ZCOUNT", "zq", "-inf", "+inf"}, {"ZREVRANGE", "zq", "0", "-1"}, {"ZRANGEBYSCORE", "zq", "-inf", "+inf"},
		{"ZADD", "zq", "0", "z", "9", "y"}, {"ZRANGE", "zq", "0", "-1"}, {"ZRANK", "zq", "b"}, {"ZREVRANGE", "zq", "0", "0"}, {"ZPOPMIN", "zq", "2"}, {"ZPOPMAX", "zq", "2"}, {"ZRANGE", "zq", "0", "-1"},
		{"SET", "zr2", "x"}, {"TYPE", "zr2"}, {"ZADD", "zr3", "1", "a"}, {"DEL", "zr3"}, {"ZRANGE", "zr3", "0", "-1"},
		// Transactions.
		{"MULTI"}, {"SET", "ta", "1"}, {"INCR", "ta"}, {"GET", "ta"}, {"HSET", "ta", "f", "v"}, {"LPUSH", "tl", "x", "y"}, {"LRANGE", "tl", "0", "-1"},
		{"GETEX", "ta"}, {"EXISTS", "ta", "tl"}, {"INCRBY", "ta", "x"}, {"SET", "ta", "v", "EX", "0"}, {"ZADD", "tz", "1", "a"}, {"ZRANGE", "tz", "0", "-1", "WITHSCORES"},
		{"PING"}, {"ECHO", "e"}, {"TYPE", "tl"}, {"EXEC"},
		{"MULTI"}, {"EXEC"}, {"EXEC"}, {"DISCARD"}, {"MULTI"}, {"SET", "tb", "1"}, {"DISCARD"}, {"GET", "tb"},
		{"MULTI"}, {"SET", "tb", "1"}, {"NOSUCHCMD"}, {"INCR"}, {"SET", "tc", "2"}, {"EXEC"}, {"GET", "tb"}, {"GET", "tc"},
		{"MULTI"}, {"MULTI"}, {"WATCH", "x"}, {"SET", "tb", "3"}, {"EXEC"}, {"GET", "tb"},
		{"WATCH", "tw"}, {"SET", "tw", "1"}, {"MULTI"}, {"SET", "tw", "2"}, {"EXEC"}, {"GET", "tw"},
		{"WATCH", "tw", "nokey"}, {"MULTI"}, {"INCR", "tw"}, {"EXEC"}, {"GET", "tw"},
		{"WATCH", "tw"}, {"UNWATCH"}, {"SET", "tw", "5"}, {"MULTI"}, {"INCR", "tw"}, {"EXEC"},
		{"WATCH", "tw"}, {"MULTI"}, {"DISCARD"}, {"SET", "tw", "7"}, {"MULTI"}, {"INCR", "tw"}, {"EXEC"},
		{"HSET", "th", "f", "1"}, {"WATCH", "th"}, {"HSET", "th", "g", "2"}, {"MULTI"}, {"HDEL", "th", "f"}, {"EXEC"}, {"HGETALL", "th"},
		{"WATCH"}, {"MULTI", "x"}, {"EXEC", "x"}, {"DISCARD", "x"}, {"UNWATCH", "x"},
		{"MULTI"}, {"DBSIZE"}, {"FLUSHDB"}, {"DBSIZE"}, {"EXEC"},
		// Listing keys (compared as sets: Redis lists them in no order).
		{"KEYS", "*"}, {"RANDOMKEY"}, {"SCAN", "0"}, {"MSET", "user:1", "a", "user:2", "b", "user:10", "c", "usr:3", "d", "u*x", "e", "", "empty"},
		{"HSET", "uh", "f", "v"}, {"SADD", "us", "m"}, {"ZADD", "uz", "1", "m"}, {"RPUSH", "ul", "x"}, {"SET", "gone", "v", "PXAT", "1"},
		{"KEYS", "*"}, {"KEYS", "user:*"}, {"KEYS", "user:?"}, {"KEYS", "us[er]*"}, {"KEYS", "u[^s]*"}, {"KEYS", "u[a-s]*"}, {"KEYS", `u\*x`}, {"KEYS", "u*x"},
		{"KEYS", "nomatch*"}, {"KEYS", "user:1"}, {"KEYS", "[u"}, {"KEYS", ""}, {"KEYS", "*:*"}, {"KEYS"}, {"KEYS", "a", "b"},
		{"SCAN", "0", "COUNT", "1000"}, {"SCAN", "0", "COUNT", "1000", "MATCH", "user:*"}, {"SCAN", "0", "COUNT", "1000", "TYPE", "hash"},
		{"SCAN", "0", "COUNT", "1000", "TYPE", "ZSET"}, {"SCAN", "0", "COUNT", "1000", "TYPE", "string", "MATCH", "u*"}, {"SCAN", "0", "COUNT", "1000", "TYPE", "nosuch"},
		{"SCAN", "x"}, {"SCAN", "1.5"}, {"SCAN", "0", "COUNT"}, {"SCAN", "0", "COUNT", "0"}, {"SCAN", "0", "COUNT", "x"}, {"SCAN", "0", "BOGUS", "1"}, {"SCAN"},
		{"HSET", "uh", "g", "w", "h", "x"}, {"HSCAN", "uh", "0"}, {"HSCAN", "uh", "0", "MATCH", "g*"}, {"HSCAN", "uh", "0", "COUNT", "1"}, {"HSCAN", "nokey", "0"},
		{"HSCAN", "nokey", "0", "BOGUS"}, {"HSCAN", "uh", "0", "BOGUS"}, {"HSCAN", "uh", "x"}, {"HSCAN", "us", "0"}, {"HSCAN", "uh", "0", "TYPE", "hash"}, {"HSCAN", "uh"},
		{"SADD", "us", "n", "o"}, {"SSCAN", "us", "0"}, {"SSCAN", "us", "0", "MATCH", "[mn]"}, {"SSCAN", "nokey", "0"}, {"SSCAN", "uh", "0"},
		{"ZADD", "uz", "2.5", "n", "-1", "o"}, {"ZSCAN", "uz", "0"}, {"ZSCAN", "uz", "0", "MATCH", "n"}, {"ZSCAN", "nokey", "0"}, {"ZSCAN", "uh", "0"},
		{"FLUSHDB"}, {"SET", "only", "v"}, {"RANDOMKEY"}, {"RANDOMKEY", "x"}, {"DEL", "only"}, {"RANDOMKEY"},
	}
	for _, cmd := range script {
		want, have := ref.do(cmd...), got.do(cmd...)
		if unordered[strings.ToUpper(cmd[0])] {
			want, have = sortedReply(want, cmd[0]), sortedReply(have, cmd[0])
		}
		if want != have {
			t.Errorf("%q: Redis replies %q, raftkv %q", cmd, want, have)
		}
	}

	// TIME differs by the clocks' reading: compare the shape and the value.
	timeRe := regexp.MustCompile(`^\*2\r\n\$\d+\r\n(\d+)\r\n\$\d+\r\n(\d+)\r\n$`)
	for _, r := range []*replyConn{ref, got} {
		m := timeRe.FindStringSubmatch(r.do("TIME"))
		if m == nil {
			t.Fatalf("TIME reply is not two integers")
		}
		sec, _ := strconv.ParseInt(m[1], 10, 64)
		usec, _ := strconv.ParseInt(m[2], 10, 64)
		if d := time.Since(time.Unix(sec, usec*1000)); d < -time.Second || d > time.Second || usec > 999999 {
			t.Errorf("TIME answered %s.%s, %v from this clock", m[1], m[2], d)
		}
	}

	// RESP3: after HELLO 3 the same server answers with maps, sets,
	// doubles and nulls of their own types.
	ref3, got3 := dialReplies(t, fmt.Sprintf("127.0.0.1:%d", port)), dialReplies(t, lead.respAddr)
	for _, r := range []*replyConn{ref3, got3} {
		if reply := r.do("HELLO", "3"); !strings.HasPrefix(reply, "%7\r\n") {
			t.Fatalf("HELLO 3 answered %q", reply)
		}
	}
	for _, cmd := range [][]string{
		{"FLUSHDB"}, {"GET", "nokey"}, {"HSET", "h", "a", "1", "b", "2"}, {"HGETALL", "h"}, {"HGETALL", "nokey"}, {"HGET", "h", "nof"}, {"HMGET", "h", "a", "nof"},
		{"SADD", "s", "a", "b"}, {"SMEMBERS", "s"}, {"SMEMBERS", "nokey"}, {"SINTER", "s", "s"}, {"SUNION", "s"}, {"SDIFF", "s", "nokey"}, {"SPOP", "nokey", "2"},
		{"ZADD", "z", "1.5", "a", "2", "b", "-inf", "c"}, {"ZSCORE", "z", "a"}, {"ZSCORE", "z", "c"}, {"ZSCORE", "z", "nom"}, {"ZINCRBY", "z", "1", "b"},
		{"ZADD", "z", "INCR", "0.25", "a"}, {"ZADD", "z", "NX", "INCR", "1", "a"}, {"ZRANGE", "z", "0", "-1", "WITHSCORES"}, {"ZRANGE", "z", "0", "-1"},
		{"ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES"}, {"ZREVRANGE", "z", "0", "0", "WITHSCORES"}, {"ZPOPMIN", "z"}, {"ZPOPMAX", "z", "1"}, {"ZPOPMIN", "nokey"},
		{"ZPOPMIN", "nokey", "2"}, {"LPOP", "nokey"}, {"LPOP", "nokey", "2"}, {"LINDEX", "nokey", "0"}, {"GETDEL", "nokey"}, {"SET", "k", "v", "NX", "GET"},
		{"SET", "k", "w", "NX"}, {"MGET", "k", "nokey"}, {"MULTI"}, {"GET", "nokey"}, {"HGETALL", "h"}, {"EXEC"},
		{"WATCH", "k"}, {"SET", "k", "x"}, {"MULTI"}, {"GET", "k"}, {"EXEC"}, {"CONFIG", "GET", "nosuchparameter"},
	} {
		want, have := ref3.do(cmd...), got3.do(cmd...)
		if unordered[strings.ToUpper(cmd[0])] {
			want, have = sortedReply(want, cmd[0]), sortedReply(have, cmd[0])
		}
		if want != have {
			t.Errorf("RESP3 %q: Redis replies %q, raftkv %q", cmd, want, have)
		}
	}

	// PTTL counts down in milliseconds: check the value, not the bytes.
	for _, r := range []*replyConn{ref, got} {
		r.do("SET", "pt", "v", "PX", "100000")
		reply := r.do("PTTL", "pt")
		if n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(reply, ":")), 10, 64); err != nil || n < 99000 || n > 100000 {
			t.Errorf("PTTL of a key set with PX 100000 answered %q", reply)
		}
	}

	// Every command in raftkv's table has a comparison case, but for those
	// whose replies describe the server rather than the data.
	notComparable := map[string]string{
		"quit":      "closes the connection",
		"hello":     "reports the server's name, version and role",
		"client":    "reports connection IDs and addresses",
		"command":   "describes each server's own command table",
		"config":    "reports each server's own settings",
		"debug":     "DIGEST is raftkv's own; Redis's DEBUG does much more",
		"info":      "reports each server's own state",
		"cluster":   "redis-server here runs without cluster mode",
		"readonly":  "a cluster command; redis-server here runs without cluster mode",
		"readwrite": "a cluster command; redis-server here runs without cluster mode",
	}
	covered := map[string]bool{}
	for _, cmd := range script {
		covered[strings.ToLower(cmd[0])] = true
	}
	names, err := c.client(lead).Do(context.Background(), "COMMAND", "LIST").StringSlice()
	if err != nil {
		// COMMAND LIST may be missing: take the names from COMMAND.
		infos, err := c.client(lead).Command(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		names = nil
		for name := range infos {
			names = append(names, name)
		}
	}
	if len(names) < 20 {
		t.Fatalf("raftkv lists %d commands: %q", len(names), names)
	}
	t.Logf("%d commands in the table, %d compared with Redis", len(names), len(covered))
	for _, name := range names {
		name = strings.ToLower(name)
		if strings.HasPrefix(name, "raft.") || notComparable[name] != "" {
			continue
		}
		if !covered[name] {
			t.Errorf("%s has no case comparing it with Redis", strings.ToUpper(name))
		}
	}
}

// unordered are the commands whose replies list elements in no promised
// order: raftkv lists a hash's fields in byte order, a small Redis hash in
// insertion order.
var unordered = map[string]bool{"HGETALL": true, "HKEYS": true, "HVALS": true, "SMEMBERS": true, "SINTER": true, "SUNION": true, "SDIFF": true,
	"KEYS": true, "SCAN": true, "HSCAN": true, "SSCAN": true, "ZSCAN": true}

// sortedReply puts the elements of a flat array reply of bulk strings in
// byte order (field-value pairs kept together for HGETALL); any other
// reply is returned as it is.
func sortedReply(reply, cmd string) string {
	rd := bufio.NewReader(strings.NewReader(reply))
	head, err := rd.ReadString('\n')
	if err != nil || (head[0] != '*' && head[0] != '~' && head[0] != '%') {
		return reply
	}
	cmd = strings.ToUpper(cmd)
	if strings.HasSuffix(cmd, "SCAN") {
		// [cursor, [elements]]: sort the elements.
		cursor, err := readReply(rd)
		if err != nil || head != "*2\r\n" {
			return reply
		}
		rest, _ := io.ReadAll(rd)
		return head + cursor + sortedReply(string(rest), strings.TrimSuffix(cmd, "SCAN")+"SCAN-ELEMENTS")
	}
	n, _ := strconv.Atoi(strings.TrimSpace(head[1:]))
	per := 1
	if head[0] == '%' {
		n *= 2
	}
	if cmd == "HGETALL" || cmd == "HSCAN-ELEMENTS" || cmd == "ZSCAN-ELEMENTS" {
		per = 2
	}
	var items []string
	for i := 0; i < n; i += per {
		var item string
		for j := 0; j < per; j++ {
			s, err := readReply(rd)
			if err != nil {
				return reply
			}
			item += s
		}
		items = append(items, item)
	}
	sort.Strings(items)
	return head + strings.Join(items, "")
}

// replyConn sends commands and reads whole replies as raw bytes.
type replyConn struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func dialReplies(t *testing.T, addr string) *replyConn {
	t.Helper()
	var c net.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err = net.Dial("tcp", addr); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &replyConn{t: t, c: c, rd: bufio.NewReader(c)}
}

func (r *replyConn) do(args ...string) string {
	r.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	r.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.c.Write([]byte(b.String())); err != nil {
		r.t.Fatal(err)
	}
	reply, err := readReply(r.rd)
	if err != nil {
		r.t.Fatalf("%q: %v", args, err)
	}
	return reply
}

// readReply reads one RESP2 or RESP3 reply, nested aggregates included,
// as raw bytes.
func readReply(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return line, err
	}
	switch line[0] {
	case '$', '=':
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		if n < 0 {
			return line, nil
		}
		buf := make([]byte, n+2)
		_, err := io.ReadFull(rd, buf)
		return line + string(buf), err
	case '*', '~', '%':
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		if line[0] == '%' {
			n *= 2
		}
		out := line
		for i := 0; i < n; i++ {
			s, err := readReply(rd)
			out += s
			if err != nil {
				return out, err
			}
		}
		return out, nil
	}
	return line, nil
}
