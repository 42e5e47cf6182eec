package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// idSpace is the namespace of the deterministic user and community ids, so
// runs against the same database reuse the same population (rank 0 is the
// busiest user and community).
var idSpace = uuid.MustParse("6f1d3c0e-4b7a-4f53-9a0c-2d4e6f8a0b1c")

// UserID returns the id of the user of Zipf rank i.
func UserID(i int) string {
	return uuid.NewSHA1(idSpace, []byte("user-"+strconv.Itoa(i))).String()
}

// CommunityID returns the id of the community of Zipf rank i.
func CommunityID(i int) string {
	return uuid.NewSHA1(idSpace, []byte("community-"+strconv.Itoa(i))).String()
}

// eventKind is one built-in event type with its weight in the mix and the
// ids it carries.
type eventKind struct {
	typ       string
	weight    int
	user      bool    // carries a user_id (required for user.* and member.*)
	community float64 // probability of a community_id (1 = required)
	entity    string  // entity_type, "" for none
}

// theMix is a product's traffic: mostly logins and GitHub activity, a few
// signups, rare community and hackathon creation.
var theMix = []eventKind{
	{"user.login", 30, true, 0.3, ""},
	{"github.push", 20, true, 0.9, "repository"},
	{"webhook.triggered", 10, false, 0.6, "webhook"},
	{"member.activated", 10, true, 1, "membership"},
	{"github.pr.opened", 8, true, 0.9, "pull_request"},
	{"member.created", 6, true, 1, "membership"},
	{"event.created", 6, true, 1, "event"},
	{"user.signup", 4, true, 0.2, ""},
	{"hackathon.created", 2, true, 1, "hackathon"},
	{"community.created", 1, true, 1, "community"},
}

var (
	plans   = []string{"free", "free", "free", "pro", "pro", "team", "enterprise"}
	sources = []string{"web", "web", "ios", "android", "api", "cli"}
	tagSet  = []string{"beta", "growth", "oss", "ai", "infra", "design", "edu", "devrel"}
	words   = []string{"Rustaceans", "Gophers", "Pythonistas", "Makers", "Builders", "Hackers", "Designers", "Data"}
)

// Mix generates events. It is not safe for concurrent use: give each client
// its own (they share seq, which is atomic).
type Mix struct {
	rnd         *rand.Rand
	users       *rand.Zipf
	communities *rand.Zipf
	userIDs     []string
	commIDs     []string
	total       int
	run         string
	seq         *atomic.Int64
}

// NewMix returns a generator over the given population; run prefixes every
// event_id, seq numbers them.
func NewMix(seed uint64, userIDs, commIDs []string, run string, seq *atomic.Int64) *Mix {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	m := &Mix{rnd: r, userIDs: userIDs, commIDs: commIDs, run: run, seq: seq}
	// s slightly above 1: a long tail, the top few hundred carrying most traffic.
	m.users = rand.NewZipf(r, 1.07, 2, uint64(len(userIDs)-1))
	m.communities = rand.NewZipf(r, 1.2, 1, uint64(len(commIDs)-1))
	for _, k := range theMix {
		m.total += k.weight
	}
	return m
}

// Population returns the deterministic ids of n users and c communities.
func Population(n, c int) (users, communities []string) {
	users = make([]string, n)
	for i := range users {
		users[i] = UserID(i)
	}
	communities = make([]string, c)
	for i := range communities {
		communities[i] = CommunityID(i)
	}
	return users, communities
}

// TimeLayout renders occurred_at with the microsecond precision PostgreSQL
// keeps, so (event_id, occurred_at) can be compared with the log exactly.
const TimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// Event returns one event occurring at t.
func (m *Mix) Event(t time.Time) map[string]any {
	w := m.rnd.IntN(m.total)
	k := theMix[0]
	for _, c := range theMix {
		if w < c.weight {
			k = c
			break
		}
		w -= c.weight
	}
	e := map[string]any{
		"event_id":    fmt.Sprintf("%s-%d", m.run, m.seq.Add(1)),
		"event_type":  k.typ,
		"occurred_at": t.UTC().Format(TimeLayout),
	}
	if k.user {
		e["user_id"] = m.userIDs[m.users.Uint64()]
	}
	ci := m.communities.Uint64()
	if k.community >= 1 || m.rnd.Float64() < k.community {
		e["community_id"] = m.commIDs[ci]
	}
	md := map[string]any{
		"plan":   plans[m.rnd.IntN(len(plans))],
		"source": sources[m.rnd.IntN(len(sources))],
	}
	if k.entity != "" {
		e["entity_type"] = k.entity
		e["entity_id"] = fmt.Sprintf("%s-%d", k.entity, m.rnd.IntN(5000))
	}
	switch k.typ {
	case "github.push", "github.pr.opened":
		md["repo"] = fmt.Sprintf("org-%d/repo-%d", ci, m.rnd.IntN(40))
		md["commits"] = 1 + m.rnd.IntN(12)
		md["branch"] = []string{"main", "main", "dev", "feature/x"}[m.rnd.IntN(4)]
	case "community.created":
		md["name"] = fmt.Sprintf("%s %d", words[m.rnd.IntN(len(words))], ci)
	case "hackathon.created", "event.created":
		md["title"] = fmt.Sprintf("%s meetup #%d", words[m.rnd.IntN(len(words))], m.rnd.IntN(100))
		md["capacity"] = 20 + m.rnd.IntN(500)
	case "webhook.triggered":
		md["status_code"] = []int{200, 200, 200, 201, 500, 404}[m.rnd.IntN(6)]
		md["duration_ms"] = m.rnd.IntN(900)
	case "user.login":
		md["method"] = []string{"password", "github", "google", "sso"}[m.rnd.IntN(4)]
	}
	if n := m.rnd.IntN(4); n > 0 {
		tags := make([]string, n)
		for i := range tags {
			tags[i] = tagSet[m.rnd.IntN(len(tagSet))]
		}
		md["tags"] = tags
	}
	e["metadata"] = md
	return e
}

// Marker returns a freshness marker event (type MarkerType, no user or
// community) occurring at t.
func (m *Mix) Marker(t time.Time) map[string]any {
	return map[string]any{
		"event_id":    fmt.Sprintf("%s-m%d", m.run, m.seq.Add(1)),
		"event_type":  MarkerType,
		"occurred_at": t.UTC().Format(TimeLayout),
		"metadata":    map[string]any{"source": "loadgen"},
	}
}

// MarkerType is the event type of freshness markers.
const MarkerType = "loadgen.marker"

// UserMarker returns a distinct-user freshness marker occurring at t: type
// UserMarkerType, from a new user in a new community (returned), so the
// community's count of distinct users of that type goes from 0 to 1 when
// the rollups hold it.
func (m *Mix) UserMarker(t time.Time) (event map[string]any, community string) {
	community = uuid.NewString()
	return map[string]any{
		"event_id":     fmt.Sprintf("%s-u%d", m.run, m.seq.Add(1)),
		"event_type":   UserMarkerType,
		"user_id":      uuid.NewString(),
		"community_id": community,
		"occurred_at":  t.UTC().Format(TimeLayout),
		"metadata":     map[string]any{"source": "loadgen"},
	}, community
}

// UserMarkerType is the event type of distinct-user freshness markers.
const UserMarkerType = "loadgen.user_marker"
