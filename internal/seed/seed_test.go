package seed

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/activity-dev/activity/domain"
)

var testEnd = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

func small(seed uint64) Config {
	return Config{Communities: 50, Users: 20_000, Days: 90, Activities: 200_000, Seed: seed, End: testEnd}
}

func mustNew(t *testing.T, cfg Config) *Generator {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// digest hashes every row the generator yields.
func digest(t *testing.T, cfg Config) (uint64, int) {
	t.Helper()
	g := mustNew(t, cfg)
	h := fnv.New64a()
	n := 0
	var r Row
	for g.Next(&r) {
		b, err := json.Marshal(r.Event())
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
		n++
	}
	return h.Sum64(), n
}

func TestGenerator_SameSeedSameRows(t *testing.T) {
	t.Parallel()
	cfg := small(7)
	cfg.Activities = 30_000
	a, n := digest(t, cfg)
	b, _ := digest(t, cfg)
	if a != b {
		t.Fatal("two generators with the same config yielded different rows")
	}
	if n != cfg.Activities {
		t.Fatalf("yielded %d rows, want exactly %d", n, cfg.Activities)
	}
	cfg.Seed = 8
	if c, _ := digest(t, cfg); c == a {
		t.Fatal("a different seed yielded the same rows")
	}
}

func TestGenerator_EveryEventValidAndInOrder(t *testing.T) {
	t.Parallel()
	cfg := small(1)
	g := mustNew(t, cfg)
	lim := domain.Limits{MaxPast: time.Duration(cfg.Days) * 24 * time.Hour}
	ids := map[string]bool{}
	created := map[uuid.UUID]time.Time{}
	type pair struct{ u, c uuid.UUID }
	members := map[pair]bool{}
	var prev time.Time
	var r Row
	for i := 0; g.Next(&r); i++ {
		e := r.Event()
		if errs := domain.ValidateEvent(e, lim, testEnd); len(errs) > 0 {
			t.Fatalf("row %d %+v invalid: %v", i, e, errs)
		}
		if ids[r.EventID] {
			t.Fatalf("event_id %s repeated", r.EventID)
		}
		ids[r.EventID] = true
		if r.OccurredAt.Before(prev) {
			t.Fatalf("row %d occurs at %s, before the previous row (%s)", i, r.OccurredAt, prev)
		}
		prev = r.OccurredAt
		if !r.OccurredAt.Before(testEnd) || r.OccurredAt.Before(g.Start()) {
			t.Fatalf("row %d occurs at %s, outside [%s, %s)", i, r.OccurredAt, g.Start(), testEnd)
		}
		if r.ReceivedAt.Before(r.OccurredAt) || r.ReceivedAt.After(testEnd) {
			t.Fatalf("row %d received at %s, occurred at %s", i, r.ReceivedAt, r.OccurredAt)
		}
		// Metadata is stored sanitized: it must come out of the sanitizer unchanged.
		if i%97 == 0 {
			dec := json.NewDecoder(bytes.NewReader(r.Metadata))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			again, _ := json.Marshal(domain.SanitizeValue(v))
			if !bytes.Equal(again, r.Metadata) {
				t.Fatalf("metadata %s is %s once sanitized", r.Metadata, again)
			}
		}
		switch {
		case r.EventType == "community.created":
			if _, dup := created[r.CommunityID]; dup {
				t.Fatalf("community %s created twice", r.CommunityID)
			}
			var md map[string]any
			if err := json.Unmarshal(r.Metadata, &md); err != nil || md["name"] == "" || md["name"] == nil {
				t.Fatalf("community.created metadata %s has no name", r.Metadata)
			}
			created[r.CommunityID] = r.OccurredAt
		case r.CommunityID != uuid.UUID{}:
			if _, ok := created[r.CommunityID]; !ok {
				t.Fatalf("row %d (%s) names community %s before its community.created", i, r.EventType, r.CommunityID)
			}
		}
		if r.UserID != (uuid.UUID{}) && r.CommunityID != (uuid.UUID{}) && r.EventType != "community.created" {
			p := pair{r.UserID, r.CommunityID}
			if !members[p] && r.EventType != "member.created" {
				t.Fatalf("row %d: user %s's first event in community %s is %s, want member.created", i, p.u, p.c, r.EventType)
			}
			if members[p] && r.EventType == "member.created" {
				t.Fatalf("row %d: second member.created of user %s in community %s", i, p.u, p.c)
			}
			members[p] = true
		}
	}
	if len(created) != cfg.Communities {
		t.Fatalf("%d community.created events, want one per community (%d)", len(created), cfg.Communities)
	}
	for c := range cfg.Communities {
		cm := g.Community(c)
		if !created[cm.ID].Equal(cm.CreatedAt) {
			t.Fatalf("community %d created at %s, its row says %s", c, created[cm.ID], cm.CreatedAt)
		}
	}
}

func TestGenerator_MixLooksLikeAProduct(t *testing.T) {
	t.Parallel()
	g := mustNew(t, small(3))
	var r Row
	noUser, noCommunity := 0, 0
	byHour := make([]int, 24)
	weekday, weekend := 0, 0
	for g.Next(&r) {
		if r.UserID == (uuid.UUID{}) {
			noUser++
		}
		if r.CommunityID == (uuid.UUID{}) {
			noCommunity++
		}
		byHour[r.OccurredAt.Hour()]++
		if wd := r.OccurredAt.Weekday(); wd == time.Saturday || wd == time.Sunday {
			weekend++
		} else {
			weekday++
		}
	}
	counts := g.Counts()
	for _, typ := range domain.BuiltinEventTypes {
		if counts[typ] == 0 {
			t.Errorf("no %s events", typ)
		}
		if typ != "user.login" && counts[typ] >= counts["user.login"] {
			t.Errorf("%d %s events, not fewer than the %d logins", counts[typ], typ, counts["user.login"])
		}
	}
	if noUser == 0 || noCommunity == 0 {
		t.Errorf("events without a user: %d, without a community: %d; want some of each", noUser, noCommunity)
	}
	if night, afternoon := byHour[3], byHour[14]; float64(night) > 0.4*float64(afternoon) {
		t.Errorf("%d events at 03h UTC vs %d at 14h: no daily rhythm", night, afternoon)
	}
	// Per day, a weekend day has about weekendFactor of a weekday's traffic.
	if ratio := (float64(weekend) / 2) / (float64(weekday) / 5); ratio < 0.4 || ratio > 0.75 {
		t.Errorf("weekend/weekday traffic per day %.2f, want about %.2f", ratio, weekendFactor)
	}
}

func TestGenerator_ActivityPerUserAndCommunityIsPowerLaw(t *testing.T) {
	t.Parallel()
	cfg := small(5)
	g := mustNew(t, cfg)
	perUser := map[uuid.UUID]int{}
	perCommunity := map[uuid.UUID]int{}
	var r Row
	total := 0
	for g.Next(&r) {
		total++
		if r.UserID != (uuid.UUID{}) {
			perUser[r.UserID]++
		}
		if r.CommunityID != (uuid.UUID{}) {
			perCommunity[r.CommunityID]++
		}
	}
	users := sortedDesc(perUser)
	// log-log slope of events against rank, between ranks 10 and 1000:
	// about -s for a Zipf law, far flatter for a uniform one.
	slope := (math.Log(float64(users[999])) - math.Log(float64(users[9]))) / (math.Log(1000) - math.Log(10))
	if slope > -0.6 || slope < -1.6 {
		t.Errorf("per-user log-log slope %.2f, want a power law (about -%.1f)", slope, userZipfS)
	}
	top := 0
	for _, n := range users[:cfg.Users/100] {
		top += n
	}
	if share := float64(top) / float64(total); share < 0.25 {
		t.Errorf("the top 1%% of users carry %.0f%% of events, want a heavy head", 100*share)
	}
	comms := sortedDesc(perCommunity)
	if len(comms) != cfg.Communities {
		t.Fatalf("%d communities have events, want all %d", len(comms), cfg.Communities)
	}
	if median := comms[len(comms)/2]; comms[0] < 10*median {
		t.Errorf("largest community %d events, median %d: want a power law", comms[0], median)
	}
}

func TestNew_RejectsFewerActivitiesThanCommunities(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Communities: 10, Activities: 5, End: testEnd})
	if err == nil || !strings.Contains(err.Error(), "community.created") {
		t.Fatalf("err = %v, want one about community.created", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without End succeeded")
	}
}

func sortedDesc(m map[uuid.UUID]int) []int {
	out := make([]int, 0, len(m))
	for _, n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}
