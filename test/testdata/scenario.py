"""Application-style scenarios against raftkv with redis-py (Debian's
python3-redis): a cache with TTL, a counter, a job queue, a leaderboard,
a profile hash, tags and a MULTI/EXEC transfer; first with a plain client
on the leader, then with a cluster client seeded with a follower.

Usage: python3 scenario.py <leader host:port> <follower host:port>
"""
import sys
import time

import redis
from redis.cluster import RedisCluster


def check(what, got, want):
    if got != want:
        raise SystemExit(f"{what}: got {got!r}, want {want!r}")


def scenario(r, tag):
    k = lambda name: f"{{{tag}}}{name}"
    # A cache entry that expires.
    check("cache set", r.set(k("cache:user:1"), '{"name":"ada"}', px=300), True)
    check("cache hit", r.get(k("cache:user:1")), b'{"name":"ada"}')
    ttl = r.pttl(k("cache:user:1"))
    if not 0 < ttl <= 300:
        raise SystemExit(f"cache pttl {ttl}")
    time.sleep(0.45)
    check("cache miss after expiry", r.get(k("cache:user:1")), None)
    # A counter.
    for _ in range(100):
        r.incr(k("views"))
    check("counter", r.incrby(k("views"), 5), 105)
    check("counter decr", r.decr(k("views")), 104)
    # A job queue: LPUSH in, RPOP out, first in first out.
    r.lpush(k("jobs"), *[f"job{i}" for i in range(10)])
    got = []
    while (job := r.rpop(k("jobs"))) is not None:
        got.append(job.decode())
    check("queue order", got, [f"job{i}" for i in range(10)])
    check("queue empty", r.llen(k("jobs")), 0)
    # A leaderboard.
    r.zadd(k("board"), {"ann": 10, "bob": 30, "cid": 20, "dan": 5})
    check("zincrby", r.zincrby(k("board"), 15, "ann"), 25.0)
    check("top 3", r.zrange(k("board"), 0, 2, desc=True, withscores=True),
          [(b"bob", 30.0), (b"ann", 25.0), (b"cid", 20.0)])
    check("rank", r.zrevrank(k("board"), "cid"), 2)
    check("score", r.zscore(k("board"), "dan"), 5.0)
    # A profile hash and tags.
    r.hset(k("user:1"), mapping={"name": "ada", "age": "36"})
    check("hincrby", r.hincrby(k("user:1"), "age", 1), 37)
    check("hgetall", r.hgetall(k("user:1")), {b"name": b"ada", b"age": b"37"})
    r.sadd(k("tags"), "go", "raft", "redis")
    check("sismember", r.sismember(k("tags"), "raft"), True)
    check("smembers", r.smembers(k("tags")), {b"go", b"raft", b"redis"})
    # A transfer in one transaction (redis-py 4.3's cluster client has no
    # transactions).
    if isinstance(r, RedisCluster):
        return
    r.mset({k("acct:a"): 100, k("acct:b"): 0})
    p = r.pipeline(transaction=True)
    p.decrby(k("acct:a"), 30).incrby(k("acct:b"), 30).mget(k("acct:a"), k("acct:b"))
    check("transfer", p.execute(), [70, 30, [b"70", b"30"]])


def main():
    leader, follower = sys.argv[1], sys.argv[2]
    host, port = leader.rsplit(":", 1)
    scenario(redis.Redis(host=host, port=int(port)), "plain")
    host, port = follower.rsplit(":", 1)
    rc = RedisCluster(host=host, port=int(port))
    scenario(rc, "cluster")
    print("ok")


main()
