package projections

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/sketch"
)

// The bulk fill's builders: each folds the log into exactly the rows the
// live statements (queries/projections.sql, user_sketches.go) would have
// written for it, so a version filled in bulk and one filled batch by batch
// are the same rows; the rebuild tests compare them with the live tables.

// Keys of the builders' maps. Communities and event types are indexes into
// the bulkDict, with two more values each:
const (
	commNone = -1 // the activity has no community
	commAll  = -2 // the all-communities key (AllCommunities)
	typeAll  = -1 // every event type (the empty event type)
)

// keyVariants are the keys an activity of (comm, typ) counts under: the
// platform for its type and every type and, if it has a community, the
// community for both; the first n of the array. (An array, not a slice:
// the builders call it for every row.)
func keyVariants(comm, typ int32) (keys [4][2]int32, n int) {
	keys = [4][2]int32{{commAll, typeAll}, {commAll, typ}, {comm, typeAll}, {comm, typ}}
	if comm < 0 {
		return keys, 2
	}
	return keys, 4
}

func (d *bulkDict) community(i int32) [16]byte {
	switch i {
	case commAll:
		return AllCommunities
	case commNone:
		return [16]byte{}
	}
	return d.communities[i]
}

func (d *bulkDict) eventType(i int32) string {
	if i == typeAll {
		return ""
	}
	return d.types[i]
}

const (
	microsPerSecond = 1_000_000
	secondsPerDay   = 86_400
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// monthStart is the start of the UTC month of the Unix second t.
func monthStart(t int64) int64 {
	at := time.Unix(t, 0).UTC()
	return time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC).Unix()
}

// emitEvery is how often (in rows) emit loops look at the context.
const emitEvery = 1 << 14

// bulkBudget counts the memory the builders take (their arrays and an upper
// bound of what the sketches grow by), so a log they would need more than
// Config.BulkMemory for is filled batch by batch instead of exhausting the
// process: sparse keys cost a day's array each.
type bulkBudget struct {
	used  atomic.Int64
	limit int64
}

func (b *bulkBudget) add(n int64) { b.used.Add(n) }

// check fails once the builders took more than the limit.
func (b *bulkBudget) check() error {
	if used := b.used.Load(); used > b.limit {
		return fmt.Errorf("the bulk fill needs more than its %d MiB of memory (%d MiB so far)", b.limit>>20, used>>20)
	}
	return nil
}

// logSpan is the range of UTC days of the rows a bulk fill reads: the
// builders index their days by it instead of hashing them.
type logSpan struct {
	firstDay int64 // Unix day (seconds / 86400) of the first row
	days     int   // days up to the last row's, inclusive
}

func newLogSpan(first, last time.Time) logSpan {
	f, l := floorDiv(first.Unix(), secondsPerDay), floorDiv(last.Unix(), secondsPerDay)
	return logSpan{firstDay: f, days: int(l-f) + 1}
}

// dayIndex is the index of the UTC day of at (microseconds) in the span.
func (s logSpan) dayIndex(at int64) (int, bool) {
	i := floorDiv(at, secondsPerDay*microsPerSecond) - s.firstDay
	return int(i), i >= 0 && i < int64(s.days)
}

// dayStart is the Unix second of the start of day index i.
func (s logSpan) dayStart(i int) int64 { return (s.firstDay + int64(i)) * secondsPerDay }

// cells holds a *T per (community, type) key, community and type being
// dictionary indexes or commAll/commNone/typeAll.
type cells[T any] struct {
	rows [][]*T
	make func() *T
}

func (c *cells[T]) get(comm, typ int32) *T {
	x := c.slot(int(comm)+2, int(typ)+1)
	if *x == nil {
		*x = c.make()
	}
	return *x
}

// slot is where the cell of row ci, column ti is kept.
func (c *cells[T]) slot(ci, ti int) **T {
	for len(c.rows) <= ci {
		c.rows = append(c.rows, nil)
	}
	row := c.rows[ci]
	for len(row) <= ti {
		row = append(row, nil)
	}
	c.rows[ci] = row
	return &row[ti]
}

// absorb takes o's cells, whose keys c has none of.
func (c *cells[T]) absorb(o *cells[T]) {
	for ci, row := range o.rows {
		for ti, x := range row {
			if x != nil {
				*c.slot(ci, ti) = x
			}
		}
	}
	o.rows = nil
}

// keysInOrder lists the (community, type) keys that hold something in the
// order of the rollups' primary keys: community UUID, then event type.
func (c *cells[T]) keysInOrder(d *bulkDict) [][2]int32 {
	var keys [][2]int32
	for ci, row := range c.rows {
		for ti, x := range row {
			if x != nil {
				keys = append(keys, [2]int32{int32(ci - 2), int32(ti - 1)})
			}
		}
	}
	slices.SortFunc(keys, func(a, b [2]int32) int {
		ca, cb := d.community(a[0]), d.community(b[0])
		if c := bytes.Compare(ca[:], cb[:]); c != 0 {
			return c
		}
		return strings.Compare(d.eventType(a[1]), d.eventType(b[1]))
	})
	return keys
}

// byCommunity splits keys sorted by keysInOrder into runs of one community.
func byCommunity(keys [][2]int32) [][][2]int32 {
	var out [][][2]int32
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j][0] == keys[i][0] {
			j++
		}
		out = append(out, keys[i:j])
		i = j
	}
	return out
}

// zoneDays maps the quarter hours of a span to the local days of a report
// zone, numbered in order from the local day of the span's first quarter
// hour: local day k starts at starts[k].
type zoneDays struct {
	of     []int32 // per quarter hour of the span: its local day
	starts []int64
}

// newZoneDays cuts the span's quarter hours into local days with start,
// which gives the start of the local day of a quarter hour.
func newZoneDays(span logSpan, start func(quarter int64) int64) zoneDays {
	z := zoneDays{of: make([]int32, span.days*96)}
	index := map[int64]int32{}
	for i := range z.of {
		s := start(span.dayStart(i/96) + int64(i%96)*900)
		k, ok := index[s]
		if !ok {
			k = int32(len(z.starts))
			index[s] = k
			z.starts = append(z.starts, s)
		}
		z.of[i] = k
	}
	return z
}

// monthsOf maps the days of a span to their months: month k starts at
// starts[k].
type monthsOf struct {
	of     []int32
	starts []int64
	first  []int // per month: its first day
}

func newMonthsOf(span logSpan) monthsOf {
	m := monthsOf{of: make([]int32, span.days)}
	for i := range m.of {
		s := monthStart(span.dayStart(i))
		if len(m.starts) == 0 || m.starts[len(m.starts)-1] != s {
			m.starts = append(m.starts, s)
			m.first = append(m.first, i)
		}
		m.of[i] = int32(len(m.starts) - 1)
	}
	return m
}

// eventCountsBuild builds event_counts (EventCountsApply).
type eventCountsBuild struct {
	budget  *bulkBudget
	version int32
	zones   []string
	q       *db.Queries
	span    logSpan
	// per key: per day of the span, the events of each quarter hour
	counts cells[[]*[96]int64]
}

func newEventCountsBuild(budget *bulkBudget, version int32, zones []string, q *db.Queries, span logSpan) *eventCountsBuild {
	b := &eventCountsBuild{budget: budget, version: version, zones: zones, q: q, span: span}
	b.counts.make = func() *[]*[96]int64 {
		budget.add(int64(span.days) * 8)
		days := make([]*[96]int64, span.days)
		return &days
	}
	return b
}

func (b *eventCountsBuild) tables() []bulkTable {
	return []bulkTable{{eventCounts.table, b.version, []string{"version", "res", "bucket", "community_id", "event_type", "events", "quarters"}}}
}

func (b *eventCountsBuild) add(rows []bulkRow) {
	for _, r := range rows {
		day, _ := b.span.dayIndex(r.at)
		q := quarterOfDay(r.at)
		keys, n := keyVariants(r.comm, r.typ)
		for _, v := range keys[:n] {
			days := *b.counts.get(v[0], v[1])
			a := days[day]
			if a == nil {
				a = new([96]int64)
				b.budget.add(96 * 8)
				days[day] = a
			}
			a[q]++
		}
	}
}

// emit writes the rows in primary-key order (res, community, bucket,
// type), so the index build finds them sorted.
func (b *eventCountsBuild) emit(ctx context.Context, d *bulkDict, out map[string]*copyEncoder) error {
	e := out[eventCounts.table]
	rows := 0
	put := func(res string, comm int32, bucket int64, typ int32, n int64, quarters []int64) error {
		if rows++; rows%emitEvery == 0 && ctx.Err() != nil {
			return context.Cause(ctx)
		}
		e.rollupKey(7, b.version, res, bucket, d.community(comm), d.eventType(typ))
		e.int8(n)
		if quarters == nil {
			e.null()
		} else {
			e.int8Array(quarters)
		}
		return nil
	}
	groups := byCommunity(b.counts.keysInOrder(d))
	days := func(k [2]int32) []*[96]int64 { return *b.counts.get(k[0], k[1]) }
	sum := func(a []int64) (n int64) {
		for _, x := range a {
			n += x
		}
		return n
	}
	// 'd' < 'h' < 'm' < 'z:…': the order of res in the key.
	for _, g := range groups {
		for day := range b.span.days {
			for _, k := range g {
				if a := days(k)[day]; a != nil {
					if err := put("d", k[0], b.span.dayStart(day), k[1], sum(a[:]), nil); err != nil {
						return err
					}
				}
			}
		}
	}
	for _, g := range groups {
		for day := range b.span.days {
			for h := range 24 {
				for _, k := range g {
					a := days(k)[day]
					if a == nil {
						continue
					}
					if qs := a[4*h : 4*h+4]; qs[0]|qs[1]|qs[2]|qs[3] != 0 {
						if err := put("h", k[0], b.span.dayStart(day)+int64(h)*3600, k[1], sum(qs), qs); err != nil {
							return err
						}
					}
				}
			}
		}
	}
	months := newMonthsOf(b.span)
	if err := b.emitFolded(groups, days, len(months.starts), func(day, _ int) int32 { return months.of[day] },
		func(k [2]int32, m int, n int64) error { return put("m", k[0], months.starts[m], k[1], n, nil) }); err != nil {
		return err
	}
	zones := slices.Clone(b.zones)
	slices.SortFunc(zones, func(a, b string) int { return strings.Compare(ZoneRes(a), ZoneRes(b)) })
	for _, zone := range zones {
		z, err := b.zoneDays(ctx, zone)
		if err != nil {
			return err
		}
		res := ZoneRes(zone)
		if err := b.emitFolded(groups, days, len(z.starts), func(day, q int) int32 { return z.of[day*96+q] },
			func(k [2]int32, i int, n int64) error { return put(res, k[0], z.starts[i], k[1], n, nil) }); err != nil {
			return err
		}
	}
	return nil
}

// emitFolded sums each key's quarter hours into n buckets (bucketOf gives a
// quarter's) and emits the nonzero sums, community by community, bucket by
// bucket, type by type.
func (b *eventCountsBuild) emitFolded(groups [][][2]int32, days func([2]int32) []*[96]int64, n int,
	bucketOf func(day, q int) int32, put func(k [2]int32, bucket int, n int64) error) error {
	for _, g := range groups {
		sums := make([][]int64, len(g))
		for i, k := range g {
			sums[i] = make([]int64, n)
			for day, a := range days(k) {
				if a == nil {
					continue
				}
				for q, x := range a {
					if x != 0 {
						sums[i][bucketOf(day, q)] += x
					}
				}
			}
		}
		for bucket := range n {
			for i, k := range g {
				if x := sums[i][bucket]; x != 0 {
					if err := put(k, bucket, x); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// zoneDays cuts the span into local days of zone as the statement does
// (date_trunc in the zone), asked of PostgreSQL once.
func (b *eventCountsBuild) zoneDays(ctx context.Context, zone string) (zoneDays, error) {
	qs := make([]time.Time, 0, b.span.days*96)
	for i := range b.span.days * 96 {
		qs = append(qs, time.Unix(b.span.dayStart(i/96)+int64(i%96)*900, 0).UTC())
	}
	starts, err := b.q.ZoneDayStarts(ctx, db.ZoneDayStartsParams{Quarters: qs, Zone: zone})
	if err != nil {
		return zoneDays{}, fmt.Errorf("local days in %s: %w", zone, err)
	}
	dayOf := make(map[int64]int64, len(starts))
	for _, s := range starts {
		dayOf[s.Quarter.Unix()] = s.Day.Unix()
	}
	return newZoneDays(b.span, func(q int64) int64 { return dayOf[q] }), nil
}

// userSketchesBuild builds user_sketches (applyUserSketches): every
// activity's user goes into the sketch of its hour under every key it
// counts under. Two builders share the work, each folding the whole log
// concurrently: one takes the keys of every event type, the other
// (perType) those of one type; the first writes the rows of both.
//
// A day's sketch is the union of its hours', a month's of its days', and a
// report zone's local day's of the hours in it: the first builder merges
// them as it writes the rows (a union of sketches is the sketch of the
// union, byte for byte). Adding each user to all of them as the log was
// read took 1.6 times the CPU of the hours' adds (4.7 against 2.9 s at
// 10M), in the read, the part of a rebuild every other waits for. The one
// exception is an hour that two local days of a zone share (zones whose
// offset is not whole hours, such as Asia/Kolkata): its users go into the
// zone's days as they are read, each by its quarter hour.
type userSketchesBuild struct {
	perType bool
	other   *userSketchesBuild // the perType builder, of the first
	budget  *bulkBudget
	version int32
	zones   []reportZone
	span    logSpan
	months  monthsOf
	local   []zoneDays
	// inOneDay tells, per report zone and UTC hour of the span, whether
	// the hour lies in one local day of the zone (always, but for zones
	// whose offset is not whole hours, such as Asia/Kolkata).
	inOneDay [][]bool
	cells    cells[skCell]
	run      []*sketch.Sketch // scratch of emit
}

// skCell is the sketches of one key.
type skCell struct {
	// hours holds per day of the span the sketches of its hours, each made
	// at its first user (most hours of most keys have none).
	hours  []*[24]*sketch.Sketch
	days   []sketch.Sketch
	months []sketch.Sketch
	zones  [][]sketch.Sketch // per report zone, per local day
}

// newUserSketchesBuilds makes the two builders of a version.
func newUserSketchesBuilds(budget *bulkBudget, version int32, zones []reportZone, span logSpan) (*userSketchesBuild, *userSketchesBuild) {
	b := newUserSketchesBuild(budget, version, zones, span)
	o := *b
	o.perType, o.cells.rows = true, nil
	b.other = &o
	return b, &o
}

func newUserSketchesBuild(budget *bulkBudget, version int32, zones []reportZone, span logSpan) *userSketchesBuild {
	b := &userSketchesBuild{budget: budget, version: version, zones: zones, span: span, months: newMonthsOf(span)}
	for _, z := range zones {
		l := newZoneDays(span, func(q int64) int64 { return localMidnight(time.Unix(q, 0), z.loc).Unix() })
		one := make([]bool, span.days*24)
		for h := range one {
			one[h] = l.of[h*4] == l.of[h*4+3]
		}
		b.local, b.inOneDay = append(b.local, l), append(b.inOneDay, one)
	}
	b.cells.make = func() *skCell {
		const sketchSize = int64(unsafe.Sizeof(sketch.Sketch{}))
		n := 2*span.days + len(b.months.starts)
		for _, l := range b.local {
			n += len(l.starts)
		}
		budget.add(int64(n) * sketchSize)
		c := &skCell{hours: make([]*[24]*sketch.Sketch, span.days), days: make([]sketch.Sketch, span.days),
			months: make([]sketch.Sketch, len(b.months.starts))}
		for _, l := range b.local {
			c.zones = append(c.zones, make([]sketch.Sketch, len(l.starts)))
		}
		return c
	}
	return b
}

func (b *userSketchesBuild) tables() []bulkTable {
	if b.perType {
		return nil // the other builder writes its rows
	}
	return []bulkTable{{userSketches.table, b.version, []string{"version", "res", "bucket", "community_id", "event_type", "users", "exact", "sketch"}}}
}

func (b *userSketchesBuild) add(rows []bulkRow) {
	for _, r := range rows {
		if !r.hasUser {
			continue
		}
		h := sketch.Hash(r.user)
		keys, n := keyVariants(r.comm, r.typ)
		// At most one more hash in each sketch it goes into, now or when
		// the days, months and zones' days are merged (this builder takes
		// half of the keys).
		b.budget.add(int64(n/2*(3+len(b.zones))) * 8)
		day, _ := b.span.dayIndex(r.at)
		q := int(quarterOfDay(r.at))
		for vi, v := range keys[:n] {
			if (vi%2 == 1) != b.perType { // keyVariants: odd ones are of one type
				continue
			}
			c := b.cells.get(v[0], v[1])
			hs := c.hours[day]
			if hs == nil {
				hs = new([24]*sketch.Sketch)
				b.budget.add(int64(unsafe.Sizeof(*hs)))
				c.hours[day] = hs
			}
			hour := hs[q/4]
			if hour == nil {
				hour = new(sketch.Sketch)
				b.budget.add(int64(unsafe.Sizeof(*hour)))
				hs[q/4] = hour
			}
			hour.Add(h)
			for i, l := range b.local {
				if !b.inOneDay[i][day*24+q/4] {
					c.zones[i][l.of[day*96+q]].Add(h)
				}
			}
		}
	}
}

// mergeHours makes a cell's day sketch the union of its hours', and merges
// the hours that lie in one local day of a report zone into that day's.
func (b *userSketchesBuild) mergeHours(c *skCell, day int) {
	hs := c.hours[day]
	if hs == nil {
		return
	}
	c.days[day].MergeAll(hs[:])
	for i, l := range b.local {
		for h := 0; h < 24; {
			if !b.inOneDay[i][day*24+h] {
				h++
				continue
			}
			z := l.of[day*96+h*4]
			run := b.run[:0]
			for ; h < 24 && b.inOneDay[i][day*24+h] && l.of[day*96+h*4] == z; h++ {
				run = append(run, hs[h])
			}
			c.zones[i][z].MergeAll(run)
			b.run = run
		}
	}
}

// mergeDays makes a cell's month sketch the union of its days'.
func (b *userSketchesBuild) mergeDays(c *skCell, month int) {
	run := b.run[:0]
	for day := b.months.first[month]; day < len(b.months.of) && int(b.months.of[day]) == month; day++ {
		run = append(run, &c.days[day])
	}
	c.months[month].MergeAll(run)
	b.run = run
}

// emit writes the rows in primary-key order (res, community, bucket, type).
func (b *userSketchesBuild) emit(ctx context.Context, d *bulkDict, out map[string]*copyEncoder) error {
	if b.perType {
		return nil
	}
	b.cells.absorb(&b.other.cells)
	e := out[userSketches.table]
	rows := 0
	put := func(res string, comm int32, bucket int64, typ int32, s *sketch.Sketch) error {
		if s.Empty() {
			return nil
		}
		if rows++; rows%emitEvery == 0 && ctx.Err() != nil {
			return context.Cause(ctx)
		}
		users, exact := s.Estimate()
		e.rollupKey(8, b.version, res, bucket, d.community(comm), d.eventType(typ))
		e.int8(users)
		e.bool(exact)
		e.bytea(s.Bytes())
		return nil
	}
	groups := byCommunity(b.cells.keysInOrder(d))
	cell := func(k [2]int32) *skCell { return b.cells.get(k[0], k[1]) }
	for _, g := range groups {
		for day := range b.span.days {
			for _, k := range g {
				c := cell(k)
				b.mergeHours(c, day)
				if err := put("d", k[0], b.span.dayStart(day), k[1], &c.days[day]); err != nil {
					return err
				}
			}
		}
	}
	for _, g := range groups {
		for day := range b.span.days {
			for h := range 24 {
				for _, k := range g {
					if hs := cell(k).hours[day]; hs != nil && hs[h] != nil {
						if err := put("h", k[0], b.span.dayStart(day)+int64(h)*3600, k[1], hs[h]); err != nil {
							return err
						}
					}
				}
			}
			for _, k := range g {
				cell(k).hours[day] = nil // done with: let the collector have it
			}
		}
	}
	for _, g := range groups {
		for m, start := range b.months.starts {
			for _, k := range g {
				c := cell(k)
				b.mergeDays(c, m)
				if err := put("m", k[0], start, k[1], &c.months[m]); err != nil {
					return err
				}
			}
		}
	}
	order := make([]int, len(b.zones))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return strings.Compare(b.zones[x].res, b.zones[y].res) })
	for _, zi := range order {
		for _, g := range groups {
			for i, start := range b.local[zi].starts {
				for _, k := range g {
					if err := put(b.zones[zi].res, k[0], start, k[1], &cell(k).zones[zi][i]); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// userRollupsBuild builds user_counts (UserCountsApply) and user_stats
// (UserStatsApply), either or both, from the activities of each user
// sorted by community and time. A version of -1 is not built.
type userRollupsBuild struct {
	budget                      *bulkBudget
	countsVersion, statsVersion int32
	// shards holds the activities with a user, by the user's first byte,
	// so that sorting them shard by shard sorts them by user; each in
	// chunks of chunk activities, joined when it is sorted. Users' first
	// bytes are as uneven as their activity (one shard held nine times
	// the mean at 10M): a shard grown by doubling copied and cleared its
	// arrays on the way, through the rebuild's busiest part.
	shards [256][][]userRec
	chunk  int
}

// userRec is an activity of a user: the user's UUID as two big-endian
// halves (so comparing them compares the UUIDs), time, community (commNone
// for none or the nil UUID) and type.
type userRec struct {
	u1, u2 uint64
	at     int64
	comm   int32
	typ    int32
}

// newUserRollupsBuild makes a builder for about rows activities: a shard
// takes about a quarter of its mean share at a time.
func newUserRollupsBuild(budget *bulkBudget, rows int64) *userRollupsBuild {
	return &userRollupsBuild{budget: budget, countsVersion: -1, statsVersion: -1,
		chunk: int(min(max(rows/1024, 1024), 1<<16))}
}

func (r *userRec) user() [16]byte {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], r.u1)
	binary.BigEndian.PutUint64(u[8:], r.u2)
	return u
}

func (b *userRollupsBuild) tables() []bulkTable {
	var ts []bulkTable
	if b.countsVersion >= 0 {
		ts = append(ts, bulkTable{userCounts.table, b.countsVersion,
			[]string{"version", "user_id", "res", "bucket", "community_id", "events", "types", "type_events", "tq"}})
	}
	if b.statsVersion >= 0 {
		ts = append(ts, bulkTable{userStats.table, b.statsVersion,
			[]string{"version", "user_id", "community_id", "first_seen", "last_seen", "events"}})
	}
	return ts
}

func (b *userRollupsBuild) add(rows []bulkRow) {
	b.budget.add(int64(len(rows)) * int64(unsafe.Sizeof(userRec{})))
	for _, r := range rows {
		if !r.hasUser {
			continue
		}
		c := r.comm
		if r.nilComm {
			c = commNone
		}
		s := &b.shards[r.user[0]]
		n := len(*s)
		if n == 0 || len((*s)[n-1]) == b.chunk {
			*s = append(*s, make([]userRec, 0, b.chunk))
			n++
		}
		(*s)[n-1] = append((*s)[n-1], userRec{
			u1: binary.BigEndian.Uint64(r.user[:8]), u2: binary.BigEndian.Uint64(r.user[8:]),
			at: r.at, comm: c, typ: r.typ,
		})
	}
}

func compareUserRecs(a, b userRec) int {
	switch {
	case a.u1 != b.u1:
		return cmp.Compare(a.u1, b.u1)
	case a.u2 != b.u2:
		return cmp.Compare(a.u2, b.u2)
	case a.comm != b.comm:
		return cmp.Compare(a.comm, b.comm)
	case a.at != b.at:
		return cmp.Compare(a.at, b.at)
	}
	return cmp.Compare(a.typ, b.typ)
}

func (b *userRollupsBuild) emit(ctx context.Context, d *bulkDict, out map[string]*copyEncoder) error {
	// Join and sort the shards two at a time, ahead of the sweep.
	var joined [len(b.shards)][]userRec
	sorted := make([]chan struct{}, len(b.shards))
	for i := range sorted {
		sorted[i] = make(chan struct{})
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	next := make(chan int, len(b.shards))
	for i := range b.shards {
		next <- i
	}
	close(next)
	for range 2 {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() == nil {
					joined[i] = slices.Concat(b.shards[i]...)
					b.shards[i] = nil
					slices.SortFunc(joined[i], compareUserRecs)
				}
				close(sorted[i])
			}
		})
	}
	counts, stats := out[userCounts.table], out[userStats.table]
	sw := userSweep{b: b, d: d, counts: counts, stats: stats, nameRank: make([]int32, len(d.types))}
	byName := make([]int32, len(d.types))
	for i := range byName {
		byName[i] = int32(i)
	}
	slices.SortFunc(byName, func(a, b int32) int { return strings.Compare(d.types[a], d.types[b]) })
	for rank, typ := range byName {
		sw.nameRank[typ] = int32(rank)
	}
	for i := range b.shards {
		<-sorted[i]
		if err := context.Cause(ctx); err != nil {
			return err
		}
		recs := joined[i]
		for j := 0; j < len(recs); {
			k := j + 1
			for k < len(recs) && recs[k].u1 == recs[j].u1 && recs[k].u2 == recs[j].u2 && recs[k].comm == recs[j].comm {
				k++
			}
			sw.group(recs[j:k])
			if k == len(recs) || recs[k].u1 != recs[j].u1 || recs[k].u2 != recs[j].u2 {
				sw.flushUser()
			}
			j = k
		}
		joined[i] = nil
	}
	return nil
}

// userSweep writes the rows of each user's activities, given community by
// community, sorted by time. A user's user_counts rows are written sorted
// in primary-key order (res, bucket, community), so the index build finds
// them sorted.
type userSweep struct {
	b             *userRollupsBuild
	d             *bulkDict
	counts, stats *copyEncoder
	// nameRank orders the dictionary's event types by name: a row's types
	// are sorted by it.
	nameRank []int32
	// scratch
	day, month []typeCount // the events of each type of the day and month being swept
	user       [16]byte
	rows       []ucRow  // the user's user_counts rows so far
	types      []int32  // their event types, each once, in name order
	tn         []int64  // the events of each of those types
	tq         []int32  // day rows' events: type index * 96 + quarter
	names      []string // one row's type names, for the encoder
}

// ucRow is a user_counts row waiting for the rest of its user's: its types
// and their events are types[from:to] and tn[from:to], a day row's events
// tq[tqFrom:tqTo].
type ucRow struct {
	month        bool // res 'm' (else 'd')
	bucket       int64
	comm         [16]byte
	events       int64
	from, to     int
	tqFrom, tqTo int
}

func (s *userSweep) group(g []userRec) {
	user, comm := g[0].user(), s.d.community(g[0].comm)
	s.user = user
	if s.stats != nil {
		s.stats.row(6)
		s.stats.int4(s.b.statsVersion)
		s.stats.uuid(user)
		s.stats.uuid(comm)
		s.stats.timestamptz(g[0].at)
		s.stats.timestamptz(g[len(g)-1].at)
		s.stats.int8(int64(len(g)))
	}
	if s.counts == nil {
		return
	}
	s.month = s.month[:0]
	monthStartAt := int64(-1)
	flushMonth := func() {
		if monthStartAt >= 0 {
			s.rows = append(s.rows, s.typedRow(true, monthStartAt, comm, s.month))
		}
		s.month = s.month[:0]
	}
	for i := 0; i < len(g); {
		day := floorDiv(g[i].at, secondsPerDay*microsPerSecond) * secondsPerDay
		if m := monthStart(day); m != monthStartAt {
			flushMonth()
			monthStartAt = m
		}
		j := i
		s.day = s.day[:0]
		for ; j < len(g) && floorDiv(g[j].at, secondsPerDay*microsPerSecond)*secondsPerDay == day; j++ {
			s.day = countType(s.day, g[j].typ)
			s.month = countType(s.month, g[j].typ)
		}
		r := s.typedRow(false, day, comm, s.day)
		// Each event as its type's index in the row's types and quarter.
		r.tqFrom = len(s.tq)
		for _, e := range g[i:j] {
			ti := slices.Index(s.types[r.from:r.to], e.typ)
			s.tq = append(s.tq, int32(ti)*96+int32(quarterOfDay(e.at)))
		}
		r.tqTo = len(s.tq)
		s.rows = append(s.rows, r)
		i = j
	}
	flushMonth()
}

// typeCount is the events of one event type.
type typeCount struct {
	typ    int32
	events int64
}

// countType counts one event of typ in cs (a few types: a linear search).
func countType(cs []typeCount, typ int32) []typeCount {
	for i := range cs {
		if cs[i].typ == typ {
			cs[i].events++
			return cs
		}
	}
	return append(cs, typeCount{typ: typ, events: 1})
}

// typedRow starts a row with the given events per type: its types in name
// order (as user_counts_merge keeps them) and their events. It sorts cs.
func (s *userSweep) typedRow(month bool, bucket int64, comm [16]byte, cs []typeCount) ucRow {
	slices.SortFunc(cs, func(a, b typeCount) int { return cmp.Compare(s.nameRank[a.typ], s.nameRank[b.typ]) })
	r := ucRow{month: month, bucket: bucket, comm: comm, from: len(s.types)}
	for _, c := range cs {
		s.types = append(s.types, c.typ)
		s.tn = append(s.tn, c.events)
		r.events += c.events
	}
	r.to = len(s.types)
	return r
}

// flushUser writes the rows of the user swept last, in key order.
func (s *userSweep) flushUser() {
	if s.counts == nil || len(s.rows) == 0 {
		return
	}
	slices.SortFunc(s.rows, func(a, b ucRow) int {
		switch {
		case a.month != b.month:
			if b.month {
				return -1
			}
			return 1
		case a.bucket != b.bucket:
			return cmp.Compare(a.bucket, b.bucket)
		}
		return bytes.Compare(a.comm[:], b.comm[:])
	})
	user := s.user
	e := s.counts
	for _, r := range s.rows {
		s.names = s.names[:0]
		for _, typ := range s.types[r.from:r.to] {
			s.names = append(s.names, s.d.eventType(typ))
		}
		e.row(9)
		e.int4(s.b.countsVersion)
		e.uuid(user)
		if r.month {
			e.char('m')
		} else {
			e.char('d')
		}
		e.timestamptz(r.bucket * microsPerSecond)
		e.uuid(r.comm)
		e.int8(r.events)
		e.textArray(s.names)
		if r.to-r.from > 1 {
			e.int8Array(s.tn[r.from:r.to])
		} else {
			e.null() // one type: its events are the row's
		}
		if r.month {
			e.null()
		} else {
			e.int4Array(s.tq[r.tqFrom:r.tqTo])
		}
	}
	s.rows, s.types, s.tn, s.tq = s.rows[:0], s.types[:0], s.tn[:0], s.tq[:0]
}

// quarterOfDay is the quarter hour of the UTC day (0..95) of a time in
// microseconds (since 1970), as UserCountsApply computes it from whole
// seconds, and the quarter of an hour row's quarters array.
func quarterOfDay(at int64) int16 {
	sec := floorDiv(at, microsPerSecond)
	return int16(sec % secondsPerDay / 900)
}
