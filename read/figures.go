package read

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/sketch"
)

// Event-type selectors of the rollup queries.
const (
	everyType = ""  // the all-types rows
	eachType  = "*" // one row per event type
)

// slotType is a series slot (0-based) and an event type.
type slotType struct {
	slot      int
	eventType string
}

// countEvents sums the events of the scope per slot of pl and event type,
// from event_counts. eventType is everyType, eachType or one type.
func countEvents(ctx context.Context, q *db.Queries, pl plan, sc scope, eventType string) (map[slotType]int64, error) {
	bounds, c := pl.bounds, pl.columns()
	rows, err := q.EventCountsSlots(ctx, db.EventCountsSlotsParams{
		Res: c.res, Lo: c.lo, Hi: c.hi, Qlo: c.qlo, Qhi: c.qhi,
		Keys: sc.keys(), EventType: eventType,
	})
	if err != nil {
		return nil, err
	}
	out := make(map[slotType]int64, len(rows))
	for _, r := range rows {
		i := slotOf(bounds, r.StartAt)
		if i < 0 {
			return nil, fmt.Errorf("event counts: a row at %s before the series", r.StartAt)
		}
		if r.Events > 0 {
			out[slotType{i, r.EventType}] += r.Events
		}
	}
	return out, nil
}

// slotOf is the index of the slot of the ascending bounds that holds t (the
// last one starting at or before it), -1 when t is before them all.
func slotOf(bounds []time.Time, t time.Time) int {
	return sort.Search(len(bounds), func(i int) bool { return bounds[i].After(t) }) - 1
}

// estimate is a distinct-user figure and whether it is exact.
type estimate struct {
	users int64
	exact bool
}

// countUsers estimates the distinct users of the scope per slot of pl
// and event type, from user_sketches. Where every slot is one whole rollup
// row of one community key, the rows' own figures are the answer; else the
// rows' sketches are merged per slot. A slot that starts or ends inside an
// hour counts the users of that whole hour and is not exact.
func countUsers(ctx context.Context, q *db.Queries, pl plan, sc scope, eventType string) (map[slotType]estimate, error) {
	bounds, c := pl.bounds, pl.columns()
	keys := sc.keys()
	if pl.singleRow && len(keys) == 1 {
		rows, err := q.UserSketchesSlots(ctx, db.UserSketchesSlotsParams{
			Res: c.res, Lo: c.lo, Hi: c.hi, Keys: keys, EventType: eventType,
		})
		if err != nil {
			return nil, err
		}
		out := make(map[slotType]estimate, len(rows))
		for _, r := range rows {
			i := slotOf(bounds, r.StartAt)
			if i < 0 {
				return nil, fmt.Errorf("user sketches: a row at %s before the series", r.StartAt)
			}
			out[slotType{i, r.EventType}] = estimate{r.Users, r.Exact}
		}
		return out, nil
	}
	rows, err := q.UserSketchesMerge(ctx, db.UserSketchesMergeParams{
		Res: c.res, Lo: c.lo, Hi: c.hi, Qlo: c.qlo, Keys: keys, EventType: eventType,
	})
	if err != nil {
		return nil, err
	}
	out := make(map[slotType]estimate, len(rows))
	partial := false
	for _, p := range pl.pieces {
		partial = partial || !p.whole()
	}
	merged := make(map[slotType]*sketch.Sketch)
	for _, r := range rows {
		i := slotOf(bounds, r.StartAt)
		if i < 0 {
			return nil, fmt.Errorf("user sketches: a row at %s before the series", r.StartAt)
		}
		k := slotType{i, r.EventType}
		s := merged[k]
		if s == nil {
			s = new(sketch.Sketch)
			merged[k] = s
		}
		if err := s.MergeBytes(r.Sketch); err != nil {
			return nil, fmt.Errorf("user sketches: row at %s %q: %w", r.StartAt, r.EventType, err)
		}
	}
	for k, s := range merged {
		n, exact := s.Estimate()
		out[k] = estimate{n, exact && !partial}
	}
	return out, nil
}

// approximations collects the names of the figures of a response that are
// estimates.
type approximations struct {
	names []string
}

// note records name as approximate unless exact (once).
func (a *approximations) note(name string, exact bool) {
	if exact {
		return
	}
	for _, n := range a.names {
		if n == name {
			return
		}
	}
	a.names = append(a.names, name)
}

// bound is the relative error bound to report with the names, or nil when
// every figure is exact.
func (a *approximations) bound() *float64 {
	if len(a.names) == 0 {
		return nil
	}
	b := sketch.ErrorBound
	return &b
}
