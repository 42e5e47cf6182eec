package projections

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/sketch"
)

// AllCommunities is the community key of the platform-wide rows of
// event_counts and user_sketches: every event, with a community or without.
var AllCommunities = uuid.UUID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// userSketches keeps a distinct-users sketch per UTC hour, day and month,
// per community and for the platform, per event type and for every type,
// in the tiers and keys of event_counts. A sketch is the exact set of user
// hashes up to sketch.MaxExplicit of them, a HyperLogLog beyond.
//
// Merging a sketch into itself changes nothing, so unlike the counts this
// rollup could not double-count even without the checkpoint; the checkpoint
// still makes every activity land exactly once.
var userSketches = Projection{
	Name:      "user_sketches",
	table:     "user_sketches",
	lockKey:   lockBase + 5,
	localDays: true,
	pace:      500 * time.Millisecond,
	apply:     applyUserSketches,
}

// sketchKey names one row of user_sketches.
type sketchKey struct {
	res       string
	bucket    int64 // Unix seconds of the bucket's start
	community uuid.UUID
	eventType string
}

// applyUserSketches folds the distinct (quarter hour, community, type,
// user) of (from, to] into the hour sketches of every key and the local-day
// sketches of the target's report zones, the hours into their days and
// months, then merges the stored sketches of those keys in and writes them
// back.
func applyUserSketches(ctx context.Context, q *db.Queries, t target, from, to Position) (int64, error) {
	rows, err := q.UserSketchActivities(ctx, db.UserSketchActivitiesParams{
		FromTx: from.Tx, FromID: from.ID, ToTx: to.Tx, ToID: to.ID, FirstAt: t.first, LastAt: t.last,
	})
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	zones, err := loadZones(t.zones)
	if err != nil {
		return 0, err
	}
	fresh := make(map[sketchKey]*sketch.Sketch)
	add := func(k sketchKey, h uint64) {
		s := fresh[k]
		if s == nil {
			s = new(sketch.Sketch)
			fresh[k] = s
		}
		s.Add(h)
	}
	// Each row counts under the platform and its community, for its type
	// and for every type, in its hour and in its local day of each report
	// zone (from the quarter: a zone's midnight may fall inside an hour;
	// memoized, as most rows share a quarter hour).
	type quarterZone struct {
		quarter int64
		zone    int
	}
	days := map[quarterZone]int64{}
	for _, r := range rows {
		h := sketch.Hash(r.UserID)
		addKeys := func(res string, bucket int64) {
			add(sketchKey{res, bucket, AllCommunities, ""}, h)
			add(sketchKey{res, bucket, AllCommunities, r.EventType}, h)
			if r.CommunityID.Valid {
				add(sketchKey{res, bucket, r.CommunityID.UUID, ""}, h)
				add(sketchKey{res, bucket, r.CommunityID.UUID, r.EventType}, h)
			}
		}
		addKeys("h", r.Quarter.Truncate(time.Hour).Unix())
		for i, z := range zones {
			qz := quarterZone{r.Quarter.Unix(), i}
			day, ok := days[qz]
			if !ok {
				day = localMidnight(r.Quarter, z.loc).Unix()
				days[qz] = day
			}
			addKeys(z.res, day)
		}
	}
	hours := make([]sketchKey, 0, len(fresh))
	for k := range fresh {
		if k.res == "h" {
			hours = append(hours, k)
		}
	}
	for _, k := range hours {
		at := time.Unix(k.bucket, 0).UTC()
		day := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
		month := time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC)
		for _, up := range []sketchKey{
			{"d", day.Unix(), k.community, k.eventType},
			{"m", month.Unix(), k.community, k.eventType},
		} {
			s := fresh[up]
			if s == nil {
				s = new(sketch.Sketch)
				fresh[up] = s
			}
			s.Merge(fresh[k])
		}
	}

	n := len(fresh)
	keys := db.UserSketchesGetParams{
		Version:     t.version,
		Res:         make([]string, 0, n),
		Buckets:     make([]time.Time, 0, n),
		Communities: make([]uuid.UUID, 0, n),
		EventTypes:  make([]string, 0, n),
	}
	for k := range fresh {
		keys.Res = append(keys.Res, k.res)
		keys.Buckets = append(keys.Buckets, time.Unix(k.bucket, 0).UTC())
		keys.Communities = append(keys.Communities, k.community)
		keys.EventTypes = append(keys.EventTypes, k.eventType)
	}
	stored, err := q.UserSketchesGet(ctx, keys)
	if err != nil {
		return 0, fmt.Errorf("read stored sketches: %w", err)
	}
	before := make(map[sketchKey][]byte, len(stored))
	for _, s := range stored {
		k := sketchKey{s.Res, s.Bucket.Unix(), s.CommunityID, s.EventType}
		if f := fresh[k]; f != nil {
			if err := f.MergeBytes(s.Sketch); err != nil {
				return 0, fmt.Errorf("stored sketch %s %s %s %q: %w", k.res, s.Bucket.UTC().Format(time.RFC3339), k.community, k.eventType, err)
			}
			before[k] = s.Sketch
		}
	}

	// Only the sketches the batch changed are written: most of a day's or a
	// month's users were seen before, and rewriting a 4 KiB HyperLogLog
	// that did not change costs as much as one that did.
	put := db.UserSketchesPutParams{Version: t.version}
	for k, s := range fresh {
		b := s.Bytes()
		if old, ok := before[k]; ok && bytes.Equal(old, b) {
			continue
		}
		users, exact := s.Estimate()
		put.Res = append(put.Res, k.res)
		put.Buckets = append(put.Buckets, time.Unix(k.bucket, 0).UTC())
		put.Communities = append(put.Communities, k.community)
		put.EventTypes = append(put.EventTypes, k.eventType)
		put.Users = append(put.Users, users)
		put.Exact = append(put.Exact, exact)
		put.Sketches = append(put.Sketches, b)
	}
	if len(put.Res) == 0 {
		return int64(len(rows)), nil
	}
	if err := q.UserSketchesPut(ctx, put); err != nil {
		return 0, fmt.Errorf("store sketches: %w", err)
	}
	return int64(len(rows)), nil
}

// reportZone is a report time zone and the res of its local-day rows.
type reportZone struct {
	res string
	loc *time.Location
}

// locations caches loaded time zones by name: time.LoadLocation reads the
// zone database on every call, and every sketch batch needs its zones.
var locations sync.Map // string → *time.Location

// loadZones loads the named report time zones.
func loadZones(names []string) ([]reportZone, error) {
	out := make([]reportZone, len(names))
	for i, n := range names {
		loc, ok := locations.Load(n)
		if !ok {
			l, err := time.LoadLocation(n)
			if err != nil {
				return nil, fmt.Errorf("report time zone %q: %w", n, err)
			}
			loc, _ = locations.LoadOrStore(n, l)
		}
		out[i] = reportZone{ZoneRes(n), loc.(*time.Location)}
	}
	return out, nil
}

// ZoneRes is the res of the local-day rows of a report time zone.
func ZoneRes(zone string) string { return "z:" + zone }

// localMidnight is the start of t's local day in loc.
func localMidnight(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return DayStart(time.Date(y, m, d, 0, 0, 0, 0, time.UTC), loc)
}

// DayStart is the first instant whose date in loc is day (a date, as
// midnight UTC) or later: local midnight, or on a day a transition skips
// midnight, the instant of the transition. The read side cuts its days with
// it too, so a zone's local-day rows are exactly its series' slots.
func DayStart(day time.Time, loc *time.Location) time.Time {
	const step = 15 * time.Minute // every transition lies on the quarter-hour lattice
	const maxSteps = 26 * 4       // and a day start is never more than 26 hours off midnight
	localDate := func(t time.Time) time.Time {
		y, m, d := t.In(loc).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	y, m, d := day.Date()
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	// time.Date leaves the choice of instant open around transitions: walk
	// the lattice to the first instant of the day.
	for i := 0; i < maxSteps && localDate(t).Before(day); i++ {
		t = t.Add(step)
	}
	for i := 0; i < maxSteps && !localDate(t.Add(-step)).Before(day); i++ {
		t = t.Add(-step)
	}
	return t.UTC()
}
