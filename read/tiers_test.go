package read

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestTiers_EveryFigureEqualsTheLogInEveryZone stores a random history over
// three months (so ranges use month, day, hour and quarter rows), in two
// rounds of projection, and compares every figure of the overview, the
// community, user and events endpoints with the same figure computed here
// from the events themselves, in zones with whole-hour, DST and :30/:45
// offsets, unscoped and scoped. The top lists start at one user per row, so
// top users also go through the growing lists and the full sum.
func TestTiers_EveryFigureEqualsTheLogInEveryZone(t *testing.T) {
	// Not parallel: it changes topListSize.
	defer func(n int32) { topListSize = n }(topListSize)
	topListSize = 1

	// Two of the zones below are report time zones (their daily series read
	// local-day rows), the others are composed from the tiers.
	f := newFixture(t).reportZones("America/New_York", "Asia/Kathmandu")
	rnd := rand.New(rand.NewPCG(7, 11))
	communities, users := ids(5), ids(12)
	types := []string{"user.login", "github.push", "member.created", "event.created"}
	var evs []ev
	first := testNow.AddDate(0, -3, 0)
	for range 1500 {
		e := ev{
			typ: types[rnd.IntN(len(types))],
			// A power law: user 0 is the busiest.
			user:      users[min(len(users)-1, int(rnd.ExpFloat64()*3))],
			community: communities[min(len(communities)-1, int(rnd.ExpFloat64()*1.5))],
			at:        first.Add(time.Duration(rnd.Int64N(int64(testNow.Sub(first)))).Truncate(time.Minute)),
		}
		switch rnd.IntN(10) {
		case 0:
			e.user = uuid.Nil
		case 1:
			e.community = uuid.Nil
		}
		evs = append(evs, e)
	}
	f.seed(evs[:700]...)
	f.seed(evs[700:]...)

	cases := []struct {
		tz, from, to string
	}{
		{"UTC", "2026-08-21", "2026-11-21"},
		{"UTC", "2026-10-02", "2026-10-02"},
		{"America/New_York", "2026-09-15", "2026-11-20"},
		{"Asia/Kolkata", "2026-08-30", "2026-11-03"},
		{"Asia/Kathmandu", "2026-11-01", "2026-11-21"},
		{"Pacific/Chatham", "2026-09-01", "2026-10-31"},
	}
	scoped := scopedKey(communities[1], communities[3])
	for _, c := range cases {
		loc := mustZone(t, c.tz)
		from, _ := time.Parse(dateLayout, c.from)
		to, _ := time.Parse(dateLayout, c.to)
		in := func(e ev) (int, bool) { // the day index of e in the range
			d := localDate(e.at, loc)
			if d.Before(from) || d.After(to) {
				return 0, false
			}
			return int(d.Sub(from) / (24 * time.Hour)), true
		}
		q := url.Values{"tz": {c.tz}, "from": {c.from}, "to": {c.to}}.Encode()
		exactZone := c.tz == "UTC" || c.tz == "America/New_York"
		// A report zone's local days are rows of their own: distinct users
		// per day are exact even where its days start inside an hour.
		exactDays := exactZone || c.tz == "Asia/Kathmandu"
		name := fmt.Sprintf("%s %s..%s", c.tz, c.from, c.to)

		// Overview, unscoped and scoped.
		for _, k := range []struct {
			key     string
			visible func(ev) bool
		}{
			{"unscoped", func(ev) bool { return true }},
			{"scoped", func(e ev) bool { return e.community == communities[1] || e.community == communities[3] }},
		} {
			key := unscoped
			if k.key == "scoped" {
				key = scoped
			}
			got := getJSON[overviewView](t, f, key, "/api/v1/analytics/overview?"+q)
			days := int(to.Sub(from)/(24*time.Hour)) + 1
			wantDaily := make([]int64, days)
			dayUsers := make([]map[uuid.UUID]bool, days)
			allUsers := map[uuid.UUID]bool{}
			byType, byCommunity := map[string]int64{}, map[uuid.UUID]int64{}
			var total int64
			for _, e := range evs {
				i, ok := in(e)
				if !ok || !k.visible(e) {
					continue
				}
				wantDaily[i]++
				total++
				byType[e.typ]++
				if e.community != uuid.Nil {
					byCommunity[e.community]++
				}
				if e.user != uuid.Nil {
					if dayUsers[i] == nil {
						dayUsers[i] = map[uuid.UUID]bool{}
					}
					dayUsers[i][e.user] = true
					allUsers[e.user] = true
				}
			}
			if got.Totals.Events != total {
				t.Errorf("%s %s: totals.events %d, want %d", name, k.key, got.Totals.Events, total)
			}
			for i, d := range got.Daily {
				if d.Events != wantDaily[i] {
					t.Errorf("%s %s: %s events %d, want %d", name, k.key, d.Date, d.Events, wantDaily[i])
				}
				if exactDays && d.ActiveUsers != int64(len(dayUsers[i])) {
					t.Errorf("%s %s: %s active users %d, want %d", name, k.key, d.Date, d.ActiveUsers, len(dayUsers[i]))
				}
			}
			if exactZone && (got.Totals.ActiveUsers != int64(len(allUsers)) || len(got.Approximate) != 0) {
				t.Errorf("%s %s: active users %d (approximate %v), want exactly %d", name, k.key, got.Totals.ActiveUsers, got.Approximate, len(allUsers))
			}
			if !exactDays && !slices.Contains(got.Approximate, "daily.active_users") {
				t.Errorf("%s %s: daily.active_users not named approximate: %v", name, k.key, got.Approximate)
			}
			if exactDays && slices.Contains(got.Approximate, "daily.active_users") {
				t.Errorf("%s %s: daily.active_users named approximate: %v", name, k.key, got.Approximate)
			}
			var wantTypes []eventTypeView
			for typ, n := range byType {
				wantTypes = append(wantTypes, eventTypeView{typ, n})
			}
			sortEventTypes(wantTypes)
			if !slices.Equal(got.EventTypes, wantTypes) {
				t.Errorf("%s %s: event types %v, want %v", name, k.key, got.EventTypes, wantTypes)
			}
			if got.Totals.ActiveCommunities != int64(len(byCommunity)) {
				t.Errorf("%s %s: active communities %d, want %d", name, k.key, got.Totals.ActiveCommunities, len(byCommunity))
			}
			wantTop := topOf(byCommunity, topN)
			if len(got.TopCommunities) != len(wantTop) {
				t.Errorf("%s %s: top communities %v, want %v", name, k.key, got.TopCommunities, wantTop)
			}
			for i := range min(len(got.TopCommunities), len(wantTop)) {
				if g := got.TopCommunities[i]; g.CommunityID != wantTop[i].id || g.Events != wantTop[i].n {
					t.Errorf("%s %s: top community %d = %s %d, want %s %d", name, k.key, i, g.CommunityID, g.Events, wantTop[i].id, wantTop[i].n)
				}
			}
		}

		// Top users of the two busiest communities.
		for _, cm := range communities[:2] {
			got := getJSON[communityPageView](t, f, unscoped, "/api/v1/analytics/community/"+cm.String()+"?"+q)
			per := map[uuid.UUID]int64{}
			for _, e := range evs {
				if _, ok := in(e); ok && e.community == cm && e.user != uuid.Nil {
					per[e.user]++
				}
			}
			want := topOf(per, topN)
			if len(got.TopUsers) != len(want) {
				t.Fatalf("%s: community %s top users %v, want %v", name, cm, got.TopUsers, want)
			}
			for i := range want {
				if g := got.TopUsers[i]; g.UserID != want[i].id || g.Events != want[i].n {
					t.Errorf("%s: community %s top user %d = %s %d, want %s %d", name, cm, i, g.UserID, g.Events, want[i].id, want[i].n)
				}
			}
		}

		// Three users' pages, scoped and not.
		for _, u := range users[:3] {
			for _, key := range []string{"unscoped", "scoped"} {
				k, visible := unscoped, func(ev) bool { return true }
				if key == "scoped" {
					k, visible = scoped, func(e ev) bool { return e.community == communities[1] || e.community == communities[3] }
				}
				got := getJSON[userPageView](t, f, k, "/api/v1/analytics/user/"+u.String()+"?"+q)
				days := int(to.Sub(from)/(24*time.Hour)) + 1
				daily := make([]int64, days)
				byType, byCommunity := map[string]int64{}, map[uuid.UUID]int64{}
				var total int64
				for _, e := range evs {
					i, ok := in(e)
					if !ok || e.user != u || !visible(e) {
						continue
					}
					daily[i]++
					total++
					byType[e.typ]++
					if e.community != uuid.Nil {
						byCommunity[e.community]++
					}
				}
				if got.Totals.Events != total {
					t.Errorf("%s: user %s (%s) events %d, want %d", name, u, key, got.Totals.Events, total)
				}
				for i, d := range got.Daily {
					if d.Events != daily[i] {
						t.Errorf("%s: user %s (%s) %s events %d, want %d", name, u, key, d.Date, d.Events, daily[i])
					}
				}
				var wantTypes []eventTypeView
				for typ, n := range byType {
					wantTypes = append(wantTypes, eventTypeView{typ, n})
				}
				sortEventTypes(wantTypes)
				if !slices.Equal(got.EventTypes, wantTypes) {
					t.Errorf("%s: user %s (%s) types %v, want %v", name, u, key, got.EventTypes, wantTypes)
				}
				want := topOf(byCommunity, len(byCommunity))
				if len(got.Communities) != len(want) {
					t.Fatalf("%s: user %s (%s) communities %v, want %v", name, u, key, got.Communities, want)
				}
				for i := range want {
					if g := got.Communities[i]; g.CommunityID != want[i].id || g.Events != want[i].n {
						t.Errorf("%s: user %s (%s) community %d = %v, want %v", name, u, key, i, g, want[i])
					}
				}
			}
		}

		// Events by day, and by hour over the last few days of the range.
		got := getJSON[eventsView](t, f, unscoped, "/api/v1/analytics/events?"+q+"&community_id="+communities[0].String())
		type cell struct {
			bucket, typ string
		}
		want := map[cell]int64{}
		wantUsers := map[cell]map[uuid.UUID]bool{}
		for _, e := range evs {
			if _, ok := in(e); ok && e.community == communities[0] {
				k := cell{localDate(e.at, loc).Format(dateLayout), e.typ}
				want[k]++
				if wantUsers[k] == nil {
					wantUsers[k] = map[uuid.UUID]bool{}
				}
				if e.user != uuid.Nil {
					wantUsers[k][e.user] = true
				}
			}
		}
		if len(got.Series) != len(want) {
			t.Errorf("%s: %d events series points, want %d", name, len(got.Series), len(want))
		}
		for _, p := range got.Series {
			k := cell{p.Bucket, p.EventType}
			if p.Events != want[k] {
				t.Errorf("%s: events %v = %d, want %d", name, k, p.Events, want[k])
			}
			if exactDays && p.UniqueUsers != int64(len(wantUsers[k])) {
				t.Errorf("%s: unique users %v = %d, want %d", name, k, p.UniqueUsers, len(wantUsers[k]))
			}
		}
		hourFrom := to.AddDate(0, 0, -2)
		hq := url.Values{"tz": {c.tz}, "from": {hourFrom.Format(dateLayout)}, "to": {c.to}, "granularity": {"hour"}}.Encode()
		hours := getJSON[eventsView](t, f, unscoped, "/api/v1/analytics/events?"+hq)
		wantHours := map[cell]int64{}
		for _, e := range evs {
			if d := localDate(e.at, loc); !d.Before(hourFrom) && !d.After(to) {
				wantHours[cell{e.at.UTC().Truncate(time.Hour).Format(time.RFC3339), e.typ}]++
			}
		}
		var sum int64
		for _, p := range hours.Series {
			k := cell{p.Bucket, p.EventType}
			sum += p.Events
			// The first and last UTC hours of a :30/:45 zone's range are
			// partial: compare the whole hours, and the total.
			if strings.HasSuffix(p.Bucket, ":00:00Z") && exactZone && p.Events != wantHours[k] {
				t.Errorf("%s: hour %v = %d, want %d", name, k, p.Events, wantHours[k])
			}
		}
		var wantSum int64
		for _, n := range wantHours {
			wantSum += n
		}
		if sum != wantSum {
			t.Errorf("%s: hourly series sums to %d, want %d", name, sum, wantSum)
		}
	}
}

type idCount struct {
	id uuid.UUID
	n  int64
}

// topOf is the n ids with the largest counts, then by id.
func topOf(m map[uuid.UUID]int64, n int) []idCount {
	var out []idCount
	for id, c := range m {
		out = append(out, idCount{id, c})
	}
	slices.SortFunc(out, func(a, b idCount) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return slices.Compare(a.id[:], b.id[:])
	})
	return out[:min(n, len(out))]
}
