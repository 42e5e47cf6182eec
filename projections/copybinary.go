package projections

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// PostgreSQL's binary COPY format, as far as the bulk fill needs it: the
// rows of the log come in through copyReader, the rows of the rollups go
// out through copyEncoder. Both skip the per-value type dispatch of pgx's
// row scanning, which at tens of millions of values is most of the cost.

// pgEpochMicros is 2000-01-01T00:00:00Z, the zero of PostgreSQL's binary
// timestamps, in microseconds since the Unix epoch.
const pgEpochMicros = 946_684_800_000_000

var copySignature = []byte("PGCOPY\n\xff\r\n\x00")

// errCopyFormat reports a binary COPY stream this code cannot read.
var errCopyFormat = errors.New("malformed binary COPY stream")

// copyReader is the io.Writer that pgconn's CopyTo writes a binary COPY
// stream to: it cuts the stream into tuples, whatever the chunks it is
// written in, and hands each tuple's fields to row (nil for NULL). The
// field slices are valid only during the call.
type copyReader struct {
	row     func(fields [][]byte) error
	pending []byte
	header  bool
	done    bool
	fields  [][]byte
}

func (c *copyReader) Write(b []byte) (int, error) {
	n := len(b)
	if len(c.pending) > 0 {
		c.pending = append(c.pending, b...)
		b = c.pending
	}
	rest, err := c.consume(b)
	if err != nil {
		return 0, err
	}
	// Keep what is left of an incomplete tuple (a copy: b is pgconn's buffer).
	c.pending = append(c.pending[:0], rest...)
	return n, nil
}

// consume reads every complete tuple at the start of b and returns the rest.
func (c *copyReader) consume(b []byte) ([]byte, error) {
	if !c.header {
		if len(b) < len(copySignature)+8 {
			return b, nil
		}
		if string(b[:len(copySignature)]) != string(copySignature) {
			return nil, fmt.Errorf("%w: no signature", errCopyFormat)
		}
		ext := int(binary.BigEndian.Uint32(b[len(copySignature)+4:]))
		if len(b) < len(copySignature)+8+ext {
			return b, nil
		}
		b = b[len(copySignature)+8+ext:]
		c.header = true
	}
	for len(b) >= 2 && !c.done {
		count := int16(binary.BigEndian.Uint16(b))
		if count == -1 {
			c.done = true
			return b[2:], nil
		}
		p := 2
		c.fields = c.fields[:0]
		complete := true
		for range int(count) {
			if len(b) < p+4 {
				complete = false
				break
			}
			l := int32(binary.BigEndian.Uint32(b[p:]))
			p += 4
			if l < 0 {
				c.fields = append(c.fields, nil)
				continue
			}
			if len(b) < p+int(l) {
				complete = false
				break
			}
			c.fields = append(c.fields, b[p:p+int(l)])
			p += int(l)
		}
		if !complete {
			return b, nil
		}
		if err := c.row(c.fields); err != nil {
			return nil, err
		}
		b = b[p:]
	}
	return b, nil
}

// copyEncoder writes rows in binary COPY format. It appends them to a
// buffer of its own and hands the buffer to w a megabyte at a time,
// between rows (a field is a few appends, not a buffered Write each). The
// first error of w is kept; later rows are dropped, and finish returns it.
type copyEncoder struct {
	w   io.Writer
	b   []byte
	err error
}

// copyFlushAt is the size from which the encoder hands its buffer to w.
const copyFlushAt = 1 << 20

func newCopyEncoder(w io.Writer) *copyEncoder {
	e := &copyEncoder{w: w, b: make([]byte, 0, copyFlushAt+64<<10)}
	e.b = append(e.b, copySignature...)
	e.b = append(e.b, 0, 0, 0, 0, 0, 0, 0, 0) // flags and header extension length: none
	return e
}

func (e *copyEncoder) flush() {
	if e.err == nil && len(e.b) > 0 {
		_, e.err = e.w.Write(e.b)
	}
	e.b = e.b[:0]
}

// row starts a tuple of n fields.
func (e *copyEncoder) row(n int) {
	if len(e.b) >= copyFlushAt {
		e.flush()
	}
	e.b = binary.BigEndian.AppendUint16(e.b, uint16(n))
}

func (e *copyEncoder) length(n int) {
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(int32(n)))
}

func (e *copyEncoder) null() { e.length(-1) }

func (e *copyEncoder) int4(v int32) {
	e.b = binary.BigEndian.AppendUint64(e.b, 4<<32|uint64(uint32(v)))
}

func (e *copyEncoder) int8(v int64) {
	e.length(8)
	e.b = binary.BigEndian.AppendUint64(e.b, uint64(v))
}

func (e *copyEncoder) text(s string) {
	e.length(len(s))
	e.b = append(e.b, s...)
}

func (e *copyEncoder) bytea(b []byte) {
	e.length(len(b))
	e.b = append(e.b, b...)
}

func (e *copyEncoder) uuid(u [16]byte) {
	e.length(16)
	e.b = append(e.b, u[:]...)
}

// char writes a "char" (one byte).
func (e *copyEncoder) char(c byte) {
	e.length(1)
	e.b = append(e.b, c)
}

func (e *copyEncoder) bool(b bool) {
	var v byte
	if b {
		v = 1
	}
	e.char(v)
}

// timestamptz writes a time given in microseconds since the Unix epoch.
func (e *copyEncoder) timestamptz(unixMicros int64) { e.int8(unixMicros - pgEpochMicros) }

// Element type OIDs of the arrays the rollups hold.
const (
	oidInt2 = 21
	oidInt4 = 23
	oidInt8 = 20
	oidText = 25
)

// arrayHeader writes the header of a one-dimensional array without NULLs of
// n elements of elemSize bytes each.
func (e *copyEncoder) arrayHeader(n, elemSize int, oid uint32) {
	e.arrayHeaderOf(n, n*(4+elemSize), oid)
}

// arrayHeaderOf writes the header of a one-dimensional array without NULLs
// of n elements, whose length fields and data take elems bytes.
func (e *copyEncoder) arrayHeaderOf(n, elems int, oid uint32) {
	e.length(20 + elems)
	e.b = binary.BigEndian.AppendUint32(e.b, 1) // dimensions
	e.b = binary.BigEndian.AppendUint32(e.b, 0) // no NULLs
	e.b = binary.BigEndian.AppendUint32(e.b, oid)
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(n))
	e.b = binary.BigEndian.AppendUint32(e.b, 1) // lower bound
}

func (e *copyEncoder) int8Array(vs []int64) {
	e.arrayHeader(len(vs), 8, oidInt8)
	for _, v := range vs {
		e.int8(v)
	}
}

func (e *copyEncoder) textArray(vs []string) {
	elems := 0
	for _, v := range vs {
		elems += 4 + len(v)
	}
	e.arrayHeaderOf(len(vs), elems, oidText)
	for _, v := range vs {
		e.text(v)
	}
}

func (e *copyEncoder) int4Array(vs []int32) {
	e.arrayHeader(len(vs), 4, oidInt4)
	for _, v := range vs {
		e.int4(v)
	}
}

func (e *copyEncoder) int2Array(vs []int16) {
	e.arrayHeader(len(vs), 2, oidInt2)
	for _, v := range vs {
		e.length(2)
		e.b = binary.BigEndian.AppendUint16(e.b, uint16(v))
	}
}

// rollupKey starts a row of n fields of event_counts or user_sketches with
// its key: version, res, bucket (Unix seconds), community and event type.
func (e *copyEncoder) rollupKey(n int, version int32, res string, bucket int64, comm [16]byte, eventType string) {
	e.row(n)
	e.int4(version)
	e.text(res)
	e.timestamptz(bucket * microsPerSecond)
	e.uuid(comm)
	e.text(eventType)
}

// finish writes the trailer and flushes.
func (e *copyEncoder) finish() error {
	e.b = binary.BigEndian.AppendUint16(e.b, math.MaxUint16) // -1: no more tuples
	e.flush()
	return e.err
}
