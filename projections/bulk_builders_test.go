package projections

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"
)

// TestUserRollupsBuild_ChunkedShardsWriteWhatOneArrayWould: the user
// rollups builder keeps each shard in chunks and joins them to sort. Built
// with chunks of 3 activities (most shards in many chunks, users skewed so
// that some shards hold many times the others), it writes user_counts and
// user_stats byte for byte as with one chunk per shard, and every activity
// is counted.
func TestUserRollupsBuild_ChunkedShardsWriteWhatOneArrayWould(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	start := time.Date(2026, 3, 30, 22, 0, 0, 0, time.UTC).UnixMicro()
	users := make([][16]byte, 300)
	for i := range users {
		for j := range users[i] {
			users[i][j] = byte(rnd.IntN(256))
		}
	}
	d := &bulkDict{communities: [][16]byte{{1}, {}, {2}}, types: []string{"b.type", "a.type", "c.type"}}
	var rows []bulkRow
	for range 20000 {
		u := users[int(float64(len(users))*rnd.Float64()*rnd.Float64()*rnd.Float64())] // the first users far more often
		c := int32(rnd.IntN(4)) - 1
		rows = append(rows, bulkRow{at: start + rnd.Int64N(90*24*3600e6), comm: c, nilComm: c == 1,
			typ: int32(rnd.IntN(len(d.types))), user: u, hasUser: rnd.IntN(10) > 0})
	}
	build := func(chunk int) (counts, stats []byte) {
		b := newUserRollupsBuild(&bulkBudget{limit: 1 << 30}, int64(len(rows)))
		b.chunk = chunk
		b.countsVersion, b.statsVersion = 1, 1
		for i := 0; i < len(rows); i += 100 {
			b.add(rows[i:min(i+100, len(rows))])
		}
		if chunk == 3 {
			chunked := 0
			for _, s := range b.shards {
				if len(s) > 10 {
					chunked++
				}
			}
			if chunked == 0 {
				t.Fatal("no shard took more than ten chunks")
			}
		}
		var cb, sb bytes.Buffer
		out := map[string]*copyEncoder{userCounts.table: newCopyEncoder(&cb), userStats.table: newCopyEncoder(&sb)}
		if err := b.emit(context.Background(), d, out); err != nil {
			t.Fatal(err)
		}
		for _, e := range out {
			if err := e.finish(); err != nil {
				t.Fatal(err)
			}
		}
		return cb.Bytes(), sb.Bytes()
	}
	counts, stats := build(3)
	wantCounts, wantStats := build(len(rows))
	if !bytes.Equal(counts, wantCounts) || !bytes.Equal(stats, wantStats) {
		t.Errorf("chunked shards wrote %d and %d bytes, one array per shard %d and %d", len(counts), len(stats), len(wantCounts), len(wantStats))
	}
	// Every activity with a user is in user_stats: the sum of its events.
	var want, got int64
	for _, r := range rows {
		if r.hasUser {
			want++
		}
	}
	c := &copyReader{row: func(f [][]byte) error {
		got += int64(binary.BigEndian.Uint64(f[5]))
		return nil
	}}
	if _, err := c.Write(stats); err != nil || !c.done {
		t.Fatalf("user_stats: %v (trailer seen: %v)", err, c.done)
	}
	if got != want {
		t.Errorf("user_stats counts %d events, the activities with a user are %d", got, want)
	}
}
