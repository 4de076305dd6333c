package engine

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/raftkv/raftkv/raft"
)

// A snapshot travels as a self-checking stream:
//
//	magic "RKVSNAP2", uvarint index, uvarint term, uvarint key count
//	per data family record (key records, expiry index, clock): byte 1,
//	    uvarint len(key), key without its 'd', uvarint len(value), value
//	per member: byte 2, then the member record's key and value likewise
//	byte 0, uvarint number of records sent, CRC-32C of every byte before it (4 bytes, big-endian)
//
// The sender iterates a pebble snapshot, so writes go on while it streams
// and memory stays bounded whatever the data size.
const snapMagic = "RKVSNAP2"

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// SnapshotSource is a consistent view of the data set at an applied index,
// to be streamed to a follower.
type SnapshotSource struct {
	e       *Engine
	snap    *pebble.Snapshot
	meta    raft.SnapshotMeta
	keys    uint64
	members []Member
}

// OpenSnapshot takes a consistent view of the data set and the index it
// reflects. The caller must Close it.
func (e *Engine) OpenSnapshot() (*SnapshotSource, error) {
	if err := e.rlock(); err != nil {
		return nil, err
	}
	defer e.closeMu.RUnlock()
	// No ApplyBatch may commit between reading the applied index and
	// taking the view.
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	applied := e.applied.Load()
	term, err := e.termLocked(applied)
	if err != nil {
		return nil, fmt.Errorf("open snapshot at %d: %w", applied, err)
	}
	snap := e.db.NewSnapshot()
	members, err := readMembers(snap)
	if err != nil {
		snap.Close()
		return nil, fmt.Errorf("open snapshot at %d: %w", applied, err)
	}
	return &SnapshotSource{
		e:       e,
		snap:    snap,
		meta:    raft.SnapshotMeta{Index: applied, Term: term},
		keys:    e.keyCount.Load(),
		members: members,
	}, nil
}

// Members is the membership the snapshot records (nil: the configured
// one).
func (s *SnapshotSource) Members() []Member { return s.members }

// termLocked is Term for callers that already hold closeMu.
func (e *Engine) termLocked(i uint64) (uint64, error) {
	e.logMu.RLock()
	last, lastTerm, snap := e.last, e.lastTerm, e.snap
	e.logMu.RUnlock()
	switch {
	case i == last:
		return lastTerm, nil
	case i == snap.Index:
		return snap.Term, nil
	}
	v, closer, err := e.db.Get(logKey(i))
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	t, _, err := decodeEntryHeader(i, v)
	return t, err
}

// Meta is the index and term the snapshot reflects.
func (s *SnapshotSource) Meta() raft.SnapshotMeta { return s.meta }

// WriteTo streams the snapshot to w.
func (s *SnapshotSource) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 256<<10)
	crc := crc32.New(crcTable)
	out := io.MultiWriter(bw, crc)
	var buf []byte
	buf = append(buf, snapMagic...)
	buf = binary.AppendUvarint(buf, s.meta.Index)
	buf = binary.AppendUvarint(buf, s.meta.Term)
	buf = binary.AppendUvarint(buf, s.keys)
	if _, err := out.Write(buf); err != nil {
		return cw.n, err
	}
	it, err := s.snap.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixData}, UpperBound: dataUpper})
	if err != nil {
		return cw.n, err
	}
	var n uint64
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return cw.n, errors.Join(err, it.Close())
		}
		k := it.Key()[1:]
		buf = append(buf[:0], 1)
		buf = binary.AppendUvarint(buf, uint64(len(k)))
		buf = append(buf, k...)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
		if _, err := out.Write(buf); err != nil {
			return cw.n, errors.Join(err, it.Close())
		}
		n++
	}
	if err := it.Close(); err != nil {
		return cw.n, err
	}
	for _, m := range s.members {
		k, v := memberKey(m.ID), encodeMember(m)
		buf = append(buf[:0], 2)
		buf = binary.AppendUvarint(buf, uint64(len(k)))
		buf = append(buf, k...)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
		if _, err := out.Write(buf); err != nil {
			return cw.n, err
		}
	}
	buf = append(buf[:0], 0)
	buf = binary.AppendUvarint(buf, n+uint64(len(s.members)))
	if _, err := out.Write(buf); err != nil {
		return cw.n, err
	}
	buf = binary.BigEndian.AppendUint32(buf[:0], crc.Sum32())
	if _, err := bw.Write(buf); err != nil {
		return cw.n, err
	}
	err = bw.Flush()
	return cw.n, err
}

// Close releases the view.
func (s *SnapshotSource) Close() error { return s.snap.Close() }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// crcReader reads through a CRC-32C.
type crcReader struct {
	r   *bufio.Reader
	crc hash.Hash32
}

func (c *crcReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.crc.Write([]byte{b})
	}
	return b, err
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc.Write(p[:n])
	return n, err
}

// InstallSnapshot replaces the whole data set with the snapshot read from
// r, which must reflect meta, and empties the log, which now continues
// after meta.Index; the hard state's commit index becomes at least
// meta.Index. A stream that is truncated, corrupt or for another index
// changes nothing.
//
// The stream is written into sstables of at most stagingFileSize bytes in
// a staging folder, so memory stays bounded whatever the snapshot's size.
// They hold the new applied index, data, hard state, key count, members
// and compaction point, and are ingested in one atomic step that also
// excises everything the node held in those key families and its log: a
// crash leaves the old state or the new one.
func (e *Engine) InstallSnapshot(meta raft.SnapshotMeta, r io.Reader) error {
	if err := e.rlock(); err != nil {
		return err
	}
	defer e.closeMu.RUnlock()
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	// Whatever the outcome, the states of the data replaced are forgotten,
	// and the records reads keep once the data is in place.
	e.states.Reset()
	e.holdHot()
	defer e.releaseHot(nil)
	e.logMu.Lock()
	defer e.logMu.Unlock()
	defer e.removeStaging()

	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("install snapshot %d: %w: %s", meta.Index, ErrCorrupt, fmt.Sprintf(format, args...))
	}
	cr := &crcReader{r: bufio.NewReaderSize(r, 256<<10), crc: crc32.New(crcTable)}
	magic := make([]byte, len(snapMagic))
	if _, err := io.ReadFull(cr, magic); err != nil || string(magic) != snapMagic {
		return corrupt("bad header")
	}
	index, err1 := binary.ReadUvarint(cr)
	term, err2 := binary.ReadUvarint(cr)
	keys, err3 := binary.ReadUvarint(cr)
	if err := errors.Join(err1, err2, err3); err != nil {
		return corrupt("bad header: %v", err)
	}
	if index != meta.Index || term != meta.Term {
		return corrupt("stream is for index %d term %d", index, term)
	}
	hs, err := e.readHardState()
	if err != nil {
		return err
	}
	hs.Commit = max(hs.Commit, meta.Index)

	st := &stager{e: e}
	// Keys go in key order: 'a' < 'd'... < 'h' < 'k' < 'm'... < 's'.
	if err := st.set(keyApplied, uint64Value(meta.Index)); err != nil {
		return err
	}
	var n, expires, records uint64
	var clock int64
	afterData := func() error {
		if err := st.set(keyExpires, uint64Value(expires)); err != nil {
			return err
		}
		if err := st.set(keyHard, encodeHardState(hs)); err != nil {
			return err
		}
		return st.set(keyKeyCount, uint64Value(n))
	}
	inData := true
	for {
		tag, err := cr.ReadByte()
		if err != nil {
			return corrupt("truncated after %d keys", n)
		}
		if tag == 0 {
			break
		}
		if tag != 1 && tag != 2 {
			return corrupt("bad record tag %d", tag)
		}
		k, err := readBytes(cr)
		if err != nil {
			return corrupt("key %d: %v", records, err)
		}
		v, err := readBytes(cr)
		if err != nil {
			return corrupt("value %d: %v", records, err)
		}
		records++
		if tag == 1 {
			if !inData {
				return corrupt("data key after members")
			}
			if err := checkDataRecord(k, v); err != nil {
				return corrupt("data record %d: %v", records, err)
			}
			if err := st.set(append([]byte{prefixData}, k...), v); err != nil {
				return corrupt("data record %d out of order: %v", records, err)
			}
			switch k[0] {
			case subKey:
				n++
			case subExpire:
				expires++
			case subClock:
				clock = int64(binary.BigEndian.Uint64(v))
			}
			continue
		}
		if _, err := decodeMember(k, v); err != nil || k[0] != prefixMember {
			return corrupt("member record")
		}
		if inData {
			inData = false
			if err := afterData(); err != nil {
				return err
			}
		}
		if err := st.set(k, v); err != nil {
			return corrupt("member out of order: %v", err)
		}
	}
	if inData {
		if err := afterData(); err != nil {
			return err
		}
	}
	sent, err := binary.ReadUvarint(cr)
	if err != nil || sent != records || n != keys {
		return corrupt("%d records (%d keys) read, trailer says %d, header %d keys", records, n, sent, keys)
	}
	want := cr.crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(cr.r, sum[:]); err != nil || binary.BigEndian.Uint32(sum[:]) != want {
		return corrupt("checksum mismatch")
	}
	if err := st.set(keySnapshot, encodeSnapshotMeta(meta)); err != nil {
		return err
	}
	paths, err := st.finish()
	if err != nil {
		return fmt.Errorf("install snapshot %d: %w", meta.Index, err)
	}
	// Everything from the applied index to the compaction point, the log
	// included, is replaced at once.
	span := pebble.KeyRange{Start: keyApplied, End: []byte{prefixSnapshot + 1}}
	if _, err := e.db.IngestAndExcise(context.Background(), paths, nil, nil, span); err != nil {
		return fmt.Errorf("install snapshot %d: ingest: %w", meta.Index, err)
	}
	if e.hotChanged != nil {
		e.hotChanged()
	}
	e.first, e.last, e.lastTerm, e.snap = meta.Index+1, meta.Index, meta.Term, meta
	e.cache.reset()
	e.applied.Store(meta.Index)
	e.keyCount.Store(n)
	e.installs.Add(1)
	e.expires.Store(expires)
	e.clock.Store(clock)
	return nil
}

// checkDataRecord checks one data record of a snapshot stream: k is its
// pebble key without the 'd'.
func checkDataRecord(k, v []byte) error {
	if len(k) == 0 {
		return errors.New("empty key")
	}
	switch k[0] {
	case subKey:
		_, err := decodeRecord(v)
		return err
	case subExpire:
		if len(k) < 9 || len(v) != 0 {
			return errors.New("bad expiry index entry")
		}
	case subClock:
		if len(k) != 1 || len(v) != 8 {
			return errors.New("bad clock")
		}
	case subHash, subList, subSet, subZSet, subZScore:
		if len(k) < 5 || uint64(binary.BigEndian.Uint32(k[1:5])) > uint64(len(k)-5) {
			return errors.New("bad element key")
		}
	default:
		return fmt.Errorf("unknown data family %q", k[0])
	}
	return nil
}

// stagingDir holds the sstables of a snapshot being installed.
const stagingDir = "snapshot-staging"

// stagingFileSize is where a snapshot's data is split into another
// sstable.
const stagingFileSize = 64 << 20

func (e *Engine) stagingPath() string { return e.fs.PathJoin(e.dir, stagingDir) }

func (e *Engine) removeStaging() error {
	if err := e.fs.RemoveAll(e.stagingPath()); err != nil {
		return fmt.Errorf("remove %s: %w", e.stagingPath(), err)
	}
	return nil
}

// stager writes keys, in order, into sstables.
type stager struct {
	e       *Engine
	w       *sstable.Writer
	size    int
	paths   []string
	lastKey []byte
}

func (s *stager) set(k, v []byte) error {
	if s.lastKey != nil && string(k) <= string(s.lastKey) {
		return fmt.Errorf("key %q after %q", k, s.lastKey)
	}
	s.lastKey = append(s.lastKey[:0], k...)
	if s.w == nil || s.size >= stagingFileSize {
		if err := s.closeFile(); err != nil {
			return err
		}
		if err := s.e.fs.MkdirAll(s.e.stagingPath(), 0o755); err != nil {
			return err
		}
		path := s.e.fs.PathJoin(s.e.stagingPath(), fmt.Sprintf("%06d.sst", len(s.paths)))
		f, err := s.e.fs.Create(path, vfs.WriteCategoryUnspecified)
		if err != nil {
			return err
		}
		s.w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), s.e.writerOpts)
		s.paths = append(s.paths, path)
		s.size = 0
	}
	s.size += len(k) + len(v)
	return s.w.Set(k, v)
}

func (s *stager) closeFile() error {
	if s.w == nil {
		return nil
	}
	err := s.w.Close()
	s.w = nil
	return err
}

func (s *stager) finish() ([]string, error) {
	return s.paths, s.closeFile()
}

// maxRecord bounds a key or value in a snapshot stream (Redis's largest
// bulk string), so a corrupt length cannot make us allocate wildly.
const maxRecord = 512 << 20

func readBytes(r *crcReader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxRecord {
		return nil, fmt.Errorf("length %d", n)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}
