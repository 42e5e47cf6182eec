package read

import (
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/activity-dev/activity/projections"
)

// A read plan covers the slots of a series (local days, UTC hours, or one
// slot for a whole range) with rows of the tiered rollups: UTC months,
// days and hours, each wholly inside one slot, and where a slot starts or
// ends inside an hour (zones with :30 and :45 offsets), quarters of that
// hour's row. Months and days are used wherever they fit, so a 366-day
// range reads about a dozen months and the days and hours at its edges,
// whatever the length of the log.

// quartersPerHour is the number of quarter-hour counts of an hour row.
const quartersPerHour = 4

// piece selects rollup rows of one tier: the rows with lo <= bucket < hi,
// or for a partial hour (whole false) quarters [qlo, qhi) of the single
// hour row at lo.
type piece struct {
	res      string // "m", "d" or "h"
	lo, hi   time.Time
	qlo, qhi int32
}

func (p piece) whole() bool { return p.qlo == 0 && p.qhi == quartersPerHour }

// plan is the pieces covering [bounds[0], end), and whether every slot is
// covered by exactly one whole rollup row (so the row's own figures are the
// slot's: no sketches to merge).
type plan struct {
	bounds    []time.Time // the start of every slot, ascending
	pieces    []piece
	singleRow bool
	// units are the pieces before merging: one rollup row (or quarters of
	// an hour row) each, with its slot.
	units []slotPiece
}

// slotPiece is one unmerged piece and the slot (0-based) it lies in.
type slotPiece struct {
	piece
	slot int
}

// planSlots covers the slots bounds[i]..bounds[i+1] (the last ending at end)
// with the coarsest whole rollup rows that fit each slot. Bounds lie on the
// quarter-hour lattice (every zone in use starts its days on a quarter hour);
// an instant off it is taken at the quarter hour before.
func planSlots(bounds []time.Time, end time.Time) plan {
	pl := plan{bounds: bounds, singleRow: true}
	if len(bounds) == 0 {
		return pl
	}
	end = end.UTC().Truncate(15 * time.Minute)
	t := bounds[0].UTC().Truncate(15 * time.Minute)
	slot, rowsInSlot := 0, 0
	for t.Before(end) {
		next := end
		if slot+1 < len(bounds) {
			next = bounds[slot+1].UTC().Truncate(15 * time.Minute)
		}
		if !t.Before(next) {
			// The end of this slot, or an empty one (a day a zone skips).
			slot++
			rowsInSlot = 0
			continue
		}
		p := unitAt(t, next)
		if rowsInSlot++; rowsInSlot > 1 || !p.whole() {
			pl.singleRow = false
		}
		pl.add(p)
		pl.units = append(pl.units, slotPiece{p, slot})
		t = p.hi
		if !p.whole() {
			t = p.lo.Add(time.Duration(p.qhi) * 15 * time.Minute)
		}
	}
	return pl
}

// dailyPlan covers the local days of w. Where the rollups hold w's zone as
// a report time zone, each day is its one local-day row (so a daily series
// reads one row per day and merges no sketches); else the tiers of
// planSlots.
func dailyPlan(w window, zones []string) plan {
	if !slices.Contains(zones, w.tz) {
		return planSlots(w.dayStarts, w.end)
	}
	pl := plan{bounds: w.dayStarts, singleRow: true}
	res := projections.ZoneRes(w.tz)
	for i, start := range w.dayStarts {
		end := w.end
		if i+1 < len(w.dayStarts) {
			end = w.dayStarts[i+1]
		}
		if !start.Before(end) {
			continue // a day the zone skips
		}
		p := piece{res: res, lo: start, hi: end, qhi: quartersPerHour}
		pl.add(p)
		pl.units = append(pl.units, slotPiece{p, i})
	}
	return pl
}

// unitAt is the coarsest whole rollup row starting at t that ends by limit,
// else the quarters of t's hour before limit.
func unitAt(t, limit time.Time) piece {
	if month := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC); t.Equal(month) {
		if e := month.AddDate(0, 1, 0); !e.After(limit) {
			return piece{res: "m", lo: t, hi: e, qhi: quartersPerHour}
		}
	}
	if day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC); t.Equal(day) {
		if e := day.AddDate(0, 0, 1); !e.After(limit) {
			return piece{res: "d", lo: t, hi: e, qhi: quartersPerHour}
		}
	}
	hour := t.Truncate(time.Hour)
	if e := hour.Add(time.Hour); t.Equal(hour) && !e.After(limit) {
		return piece{res: "h", lo: t, hi: e, qhi: quartersPerHour}
	}
	stop := hour.Add(time.Hour)
	if limit.Before(stop) {
		stop = limit
	}
	return piece{
		res: "h", lo: hour, hi: hour.Add(time.Hour),
		qlo: int32(t.Sub(hour) / (15 * time.Minute)),
		qhi: int32(stop.Sub(hour) / (15 * time.Minute)),
	}
}

// add appends p, extending the last piece when both are whole rows of the
// same tier and p starts where it ends.
func (pl *plan) add(p piece) {
	if n := len(pl.pieces); n > 0 {
		last := &pl.pieces[n-1]
		if last.res == p.res && last.whole() && p.whole() && last.hi.Equal(p.lo) {
			last.hi = p.hi
			return
		}
	}
	pl.pieces = append(pl.pieces, p)
}

// columns are the plan's pieces as the parallel arrays the queries unnest.
type columns struct {
	res      []string
	lo, hi   []time.Time
	qlo, qhi []int32
}

func (pl plan) columns() columns {
	var c columns
	for _, p := range pl.pieces {
		c.res = append(c.res, p.res)
		c.lo = append(c.lo, p.lo)
		c.hi = append(c.hi, p.hi)
		c.qlo = append(c.qlo, p.qlo)
		c.qhi = append(c.qhi, p.qhi)
	}
	return c
}

// keys are the community keys of the rollup rows a scope reads: the
// platform rows for an unscoped key, else one row per community.
func (sc scope) keys() []uuid.UUID {
	if sc.all {
		return []uuid.UUID{projections.AllCommunities}
	}
	return sc.communities
}

// quartersPerDay is the number of quarter hours in a UTC day: the values of
// user_counts.qs are 0..quartersPerDay-1.
const quartersPerDay = 96

// dayUnit selects one row of user_counts, which has no hour tier: a month
// or day row, and for a day row only its events in quarters [qlo, qhi) of
// the day (0, quartersPerDay for the whole row).
type dayUnit struct {
	res      string
	bucket   time.Time
	qlo, qhi int32
}

// whole reports whether u selects its whole row.
func (u dayUnit) whole() bool { return u.qlo == 0 && u.qhi == quartersPerDay }

// dayUnits covers the plan with rows of user_counts: months and days as
// they are, and the hours (or quarters) of each day that lie in one slot as
// a quarter range of that day's row.
func (pl plan) dayUnits() []dayUnit {
	var out []dayUnit
	lastSlot := -1
	for _, u := range pl.units {
		if u.res != "h" {
			out = append(out, dayUnit{u.res, u.lo, 0, quartersPerDay})
			lastSlot = -1
			continue
		}
		day := time.Date(u.lo.Year(), u.lo.Month(), u.lo.Day(), 0, 0, 0, 0, time.UTC)
		first := int32(u.lo.Sub(day)/(15*time.Minute)) + u.qlo
		last := int32(u.lo.Sub(day)/(15*time.Minute)) + u.qhi
		if n := len(out); n > 0 && lastSlot == u.slot && out[n-1].res == "d" && out[n-1].bucket.Equal(day) && out[n-1].qhi == first {
			out[n-1].qhi = last
			continue
		}
		out = append(out, dayUnit{"d", day, first, last})
		lastSlot = u.slot
	}
	return out
}

// dayColumns are day units as the parallel arrays the queries unnest.
type dayColumns struct {
	res      []string
	buckets  []time.Time
	qlo, qhi []int32
}

func (pl plan) dayColumns() dayColumns {
	var c dayColumns
	for _, u := range pl.dayUnits() {
		c.res = append(c.res, u.res)
		c.buckets = append(c.buckets, u.bucket)
		c.qlo = append(c.qlo, u.qlo)
		c.qhi = append(c.qhi, u.qhi)
	}
	return c
}
