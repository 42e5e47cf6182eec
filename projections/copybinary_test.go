package projections

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCopyReader_CutsTuplesWhateverTheChunks: a binary COPY stream written
// by copyEncoder reads back field for field through copyReader, whether it
// arrives whole, a byte at a time, or in random chunks (pgconn hands over
// whatever the socket gives it).
func TestCopyReader_CutsTuplesWhateverTheChunks(t *testing.T) {
	var stream bytes.Buffer
	e := newCopyEncoder(&stream)
	type row struct {
		n     int32
		s     string
		null  bool
		qs    []int16
		stamp int64
	}
	var want []row
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 { // a stream of ~1.7 MB: the encoder hands it over in pieces
		r := row{n: int32(i), s: string(bytes.Repeat([]byte{'a' + byte(i%26)}, rnd.IntN(40))), null: i%3 == 0, stamp: rnd.Int64()}
		for range rnd.IntN(5) + 1 {
			r.qs = append(r.qs, int16(rnd.IntN(96)))
		}
		want = append(want, r)
		e.row(5)
		e.int4(r.n)
		e.text(r.s)
		if r.null {
			e.null()
		} else {
			e.uuid([16]byte{byte(i)})
		}
		e.int2Array(r.qs)
		e.int8(r.stamp)
	}
	if err := e.finish(); err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{0, 1, 7, 1 << 20} {
		var got []row
		c := &copyReader{row: func(f [][]byte) error {
			if len(f) != 5 {
				t.Fatalf("%d fields", len(f))
			}
			r := row{n: int32(binary.BigEndian.Uint32(f[0])), s: string(f[1]), null: f[2] == nil, stamp: int64(binary.BigEndian.Uint64(f[4]))}
			arr := f[3]
			if n := int(binary.BigEndian.Uint32(arr[12:])); len(arr) != 20+6*n {
				t.Fatalf("array of %d elements in %d bytes", n, len(arr))
			}
			for p := 20; p < len(arr); p += 6 {
				r.qs = append(r.qs, int16(binary.BigEndian.Uint16(arr[p+4:])))
			}
			got = append(got, r)
			return nil
		}}
		b := stream.Bytes()
		for len(b) > 0 {
			n := chunk
			if n == 0 {
				n = 1 + rnd.IntN(300)
			}
			n = min(n, len(b))
			// pgconn reuses its buffer: hand over a copy that is then spoiled.
			part := slices.Clone(b[:n])
			if _, err := c.Write(part); err != nil {
				t.Fatal(err)
			}
			clear(part)
			b = b[n:]
		}
		if !c.done {
			t.Errorf("chunks of %d: no trailer seen", chunk)
		}
		if len(got) != len(want) {
			t.Fatalf("chunks of %d: %d rows, want %d", chunk, len(got), len(want))
		}
		for i := range want {
			if got[i].n != want[i].n || got[i].s != want[i].s || got[i].null != want[i].null ||
				got[i].stamp != want[i].stamp || !slices.Equal(got[i].qs, want[i].qs) {
				t.Fatalf("chunks of %d: row %d = %+v, want %+v", chunk, i, got[i], want[i])
			}
		}
	}
}

// TestCopyReader_RejectsAStreamWithoutItsSignature.
func TestCopyReader_RejectsAStreamWithoutItsSignature(t *testing.T) {
	c := &copyReader{row: func([][]byte) error { return nil }}
	if _, err := c.Write(append([]byte("COPY\n\xff\r\n\x00"), make([]byte, 20)...)); err == nil {
		t.Error("a stream without the PGCOPY signature was read")
	}
}

// failingWriter takes n bytes, then fails.
type failingWriter struct{ n int }

func (w *failingWriter) Write(b []byte) (int, error) {
	if len(b) > w.n {
		return 0, errors.New("broken pipe")
	}
	w.n -= len(b)
	return len(b), nil
}

// TestCopyEncoder_ReportsTheWritersError: rows the writer refused are not
// silently lost: finish returns the writer's first error.
func TestCopyEncoder_ReportsTheWritersError(t *testing.T) {
	e := newCopyEncoder(&failingWriter{n: copyFlushAt + 100})
	for i := range 100000 {
		e.row(2)
		e.int8(int64(i))
		e.text("github.push")
	}
	if err := e.finish(); err == nil || err.Error() != "broken pipe" {
		t.Fatalf("finish: %v, want broken pipe", err)
	}
	if err := newCopyEncoder(&failingWriter{n: 1 << 30}).finish(); err != nil {
		t.Fatalf("finish of an empty stream: %v", err)
	}
}
