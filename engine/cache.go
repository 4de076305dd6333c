package engine

import "github.com/raftkv/raftkv/raft"

// entryCacheBytes bounds the entry cache: Data plus entryOverhead per
// entry. It holds far more than one batch, so that the entries a leader
// sends and every node applies shortly after saving them come from it.
const entryCacheBytes = 16 << 20

// entryCache holds the newest log entries as saved: a contiguous run that
// ends at the last index. Raft reads entries back soon after saving them,
// to send them to followers and to apply them once committed; from here
// that costs a copy instead of a pebble iterator. It is guarded by logMu
// and changes only after the write it mirrors succeeded.
type entryCache struct {
	ents  []raft.Entry
	bytes int
}

func entrySize(e *raft.Entry) int { return len(e.Data) + entryOverhead }

// saved mirrors a successful Save of ents, which replace every entry
// from ents[0].Index on.
func (c *entryCache) saved(ents []raft.Entry) {
	if len(ents) == 0 {
		return
	}
	lo := ents[0].Index
	if n := len(c.ents); n > 0 && lo >= c.ents[0].Index && lo <= c.ents[n-1].Index+1 {
		for _, e := range c.ents[lo-c.ents[0].Index:] {
			c.bytes -= entrySize(&e)
		}
		c.ents = c.ents[:lo-c.ents[0].Index]
	} else {
		c.ents, c.bytes = c.ents[:0], 0
	}
	for i := range ents {
		c.bytes += entrySize(&ents[i])
	}
	c.ents = append(c.ents, ents...)
	c.trim()
}

// trim drops the oldest entries beyond the budget, keeping the newest one.
func (c *entryCache) trim() {
	k := 0
	for c.bytes > entryCacheBytes && k < len(c.ents)-1 {
		c.bytes -= entrySize(&c.ents[k])
		k++
	}
	c.dropFirst(k)
}

// compacted drops the entries up to index.
func (c *entryCache) compacted(index uint64) {
	k := 0
	for k < len(c.ents) && c.ents[k].Index <= index {
		c.bytes -= entrySize(&c.ents[k])
		k++
	}
	c.dropFirst(k)
}

// dropFirst drops the first k entries. The rest move to the front of the
// same array, which keeps its size for the entries to come (a new array
// after every compaction was regrown by appends until the next: an eighth
// of a leader's allocated bytes under pipelined SETs); the slots left
// behind let go of their data.
func (c *entryCache) dropFirst(k int) {
	if k == 0 {
		return
	}
	n := copy(c.ents, c.ents[k:])
	clear(c.ents[n:])
	c.ents = c.ents[:n]
}

func (c *entryCache) reset() { c.ents, c.bytes = nil, 0 }

// term returns the term of entry i if the cache holds it.
func (c *entryCache) term(i uint64) (uint64, bool) {
	if len(c.ents) == 0 || i < c.ents[0].Index || i > c.ents[len(c.ents)-1].Index {
		return 0, false
	}
	return c.ents[i-c.ents[0].Index].Term, true
}

// get returns entries [lo, hi) as Entries does, if the cache holds them
// all. The slice is the caller's; the Data are shared and never changed.
func (c *entryCache) get(lo, hi, maxSize uint64) ([]raft.Entry, bool) {
	if len(c.ents) == 0 || lo < c.ents[0].Index || hi-1 > c.ents[len(c.ents)-1].Index {
		return nil, false
	}
	src := c.ents[lo-c.ents[0].Index : hi-c.ents[0].Index]
	n, size := 0, uint64(0)
	for n < len(src) {
		size += uint64(entrySize(&src[n]))
		if n > 0 && size > maxSize {
			break
		}
		n++
	}
	return append([]raft.Entry(nil), src[:n]...), true
}
