package read

import (
	"math/rand/v2"
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// windowOf is the window from..to (YYYY-MM-DD) in zone, as the handlers
// build it.
func windowOf(t *testing.T, from, to, zone string) window {
	t.Helper()
	p := &params{q: map[string][]string{"from": {from}, "to": {to}, "tz": {zone}}}
	w := p.window(testNow, maxDays, "")
	if err := p.err(); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestPlanSlots_UsesTheCoarsestRowsThatFit(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name      string
		w         window
		whole     bool // one slot for the whole range
		want      []piece
		singleRow bool
	}{{
		name:      "UTC days: each slot one day row, merged into one piece",
		w:         windowOf(t, "2026-11-01", "2026-11-03", "UTC"),
		want:      []piece{{res: "d", lo: utc("2026-11-01T00:00:00Z"), hi: utc("2026-11-04T00:00:00Z"), qhi: 4}},
		singleRow: true,
	}, {
		name:  "a UTC year as one slot: twelve months",
		w:     windowOf(t, "2025-01-01", "2025-12-31", "UTC"),
		whole: true,
		want:  []piece{{res: "m", lo: utc("2025-01-01T00:00:00Z"), hi: utc("2026-01-01T00:00:00Z"), qhi: 4}},
	}, {
		name:  "months in the middle, days and hours at the edges",
		w:     windowOf(t, "2025-12-30", "2026-03-01", "Europe/Berlin"),
		whole: true,
		want: []piece{
			{res: "h", lo: utc("2025-12-29T23:00:00Z"), hi: utc("2025-12-30T00:00:00Z"), qhi: 4},
			{res: "d", lo: utc("2025-12-30T00:00:00Z"), hi: utc("2026-01-01T00:00:00Z"), qhi: 4},
			{res: "m", lo: utc("2026-01-01T00:00:00Z"), hi: utc("2026-03-01T00:00:00Z"), qhi: 4},
			{res: "h", lo: utc("2026-03-01T00:00:00Z"), hi: utc("2026-03-01T23:00:00Z"), qhi: 4},
		},
	}, {
		name: "New York days are hours",
		w:    windowOf(t, "2026-11-01", "2026-11-02", "America/New_York"),
		// 2026-11-01 is 25 hours long there (DST ends).
		want: []piece{{res: "h", lo: utc("2026-11-01T04:00:00Z"), hi: utc("2026-11-03T05:00:00Z"), qhi: 4}},
	}, {
		name: "Kolkata days start half-way through an hour",
		w:    windowOf(t, "2026-11-01", "2026-11-01", "Asia/Kolkata"),
		want: []piece{
			{res: "h", lo: utc("2026-10-31T18:00:00Z"), hi: utc("2026-10-31T19:00:00Z"), qlo: 2, qhi: 4},
			{res: "h", lo: utc("2026-10-31T19:00:00Z"), hi: utc("2026-11-01T18:00:00Z"), qhi: 4},
			{res: "h", lo: utc("2026-11-01T18:00:00Z"), hi: utc("2026-11-01T19:00:00Z"), qlo: 0, qhi: 2},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bounds := tt.w.dayStarts
			if tt.whole {
				bounds = bounds[:1]
			}
			pl := planSlots(bounds, tt.w.end)
			if len(pl.pieces) != len(tt.want) {
				t.Fatalf("pieces %+v, want %+v", pl.pieces, tt.want)
			}
			for i := range tt.want {
				g, w := pl.pieces[i], tt.want[i]
				if g.res != w.res || !g.lo.Equal(w.lo) || !g.hi.Equal(w.hi) || g.qlo != w.qlo || g.qhi != w.qhi {
					t.Errorf("piece %d = %+v, want %+v", i, g, w)
				}
			}
			if pl.singleRow != tt.singleRow {
				t.Errorf("singleRow = %v, want %v", pl.singleRow, tt.singleRow)
			}
		})
	}
}

// TestPlanSlots_CoversEveryQuarterOnceInItsSlot checks random windows in
// many zones: the pieces, taken quarter hour by quarter hour, cover the
// range exactly once, every whole row lies inside one slot, and a row's
// slot is the one width_bucket finds from its start (plus qlo quarters).
func TestPlanSlots_CoversEveryQuarterOnceInItsSlot(t *testing.T) {
	t.Parallel()
	zones := []string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu",
		"Australia/Adelaide", "Pacific/Chatham", "America/St_Johns", "Pacific/Apia", "Australia/Lord_Howe"}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		zone := zones[rnd.IntN(len(zones))]
		from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rnd.IntN(600))
		to := from.AddDate(0, 0, rnd.IntN(maxDays))
		w := windowOf(t, from.Format(dateLayout), to.Format(dateLayout), zone)
		hourly := rnd.IntN(3) == 0 && to.Sub(from) < maxHourDays*24*time.Hour
		bounds := w.dayStarts
		switch {
		case hourly:
			bounds = utcHours(w.start, w.end)
		case rnd.IntN(2) == 0:
			bounds = bounds[:1]
		}
		slotOf := func(t time.Time) int { // 0-based, as width_bucket - 1
			i := 0
			for i+1 < len(bounds) && !t.Before(bounds[i+1]) {
				i++
			}
			return i
		}
		seen := map[time.Time]bool{}
		for _, p := range planSlots(bounds, w.end).pieces {
			unit := map[string]func(time.Time) time.Time{
				"m": func(t time.Time) time.Time { return t.AddDate(0, 1, 0) },
				"d": func(t time.Time) time.Time { return t.AddDate(0, 0, 1) },
				"h": func(t time.Time) time.Time { return t.Add(time.Hour) },
			}[p.res]
			for row := p.lo; row.Before(p.hi); row = unit(row) {
				first, last := row, unit(row)
				if !p.whole() {
					first = row.Add(time.Duration(p.qlo) * 15 * time.Minute)
					last = row.Add(time.Duration(p.qhi) * 15 * time.Minute)
				}
				slot := slotOf(first)
				for q := first; q.Before(last); q = q.Add(15 * time.Minute) {
					if seen[q] {
						t.Fatalf("%s %s..%s: quarter %s covered twice", zone, from.Format(dateLayout), to.Format(dateLayout), q)
					}
					seen[q] = true
					if slotOf(q) != slot {
						t.Fatalf("%s %s..%s: row %s %s spans slots %d and %d", zone, from.Format(dateLayout), to.Format(dateLayout), p.res, row, slot, slotOf(q))
					}
				}
			}
		}
		for q := w.start; q.Before(w.end); q = q.Add(15 * time.Minute) {
			if !seen[q] {
				t.Fatalf("%s %s..%s: quarter %s not covered", zone, from.Format(dateLayout), to.Format(dateLayout), q)
			}
		}
		if want := int(w.end.Sub(w.start) / (15 * time.Minute)); len(seen) != want {
			t.Fatalf("%s: %d quarters covered, want %d", zone, len(seen), want)
		}
	}
}

func TestDailyPlan_ReadsOneLocalDayRowPerDayOfAReportZone(t *testing.T) {
	// 2026-11-01 is 25 hours long in New York.
	w := windowOf(t, "2026-10-30", "2026-11-02", "America/New_York")
	pl := dailyPlan(w, []string{"Asia/Kathmandu", "America/New_York"})
	if !pl.singleRow || len(pl.units) != 4 {
		t.Fatalf("plan: single row %v, %d units, want one row per day", pl.singleRow, len(pl.units))
	}
	for i, u := range pl.units {
		end := w.end
		if i+1 < len(w.dayStarts) {
			end = w.dayStarts[i+1]
		}
		if u.res != "z:America/New_York" || u.slot != i || !u.lo.Equal(w.dayStarts[i]) || !u.hi.Equal(end) || !u.whole() {
			t.Errorf("unit %d: %+v, want the local-day row of [%s, %s)", i, u, w.dayStarts[i], end)
		}
	}
	if got := w.dayStarts[3].Sub(w.dayStarts[2]); got != 25*time.Hour {
		t.Errorf("2026-11-01 in New York lasts %s", got)
	}
	// Not a report zone: the tiers, 24 (or 25) hour rows a day.
	if pl := dailyPlan(w, []string{"Asia/Kathmandu"}); pl.singleRow || len(pl.units) != 4*24+1 {
		t.Errorf("without the zone: single row %v, %d units, want the hour rows", pl.singleRow, len(pl.units))
	}
}
