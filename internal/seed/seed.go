// Package seed generates a realistic synthetic activity history for
// benchmarks and demos (`activity dev seed`): a population of users and
// communities with power-law (Zipf) activity, daily and weekly seasonality,
// and the built-in event types in plausible proportions. The Generator is
// deterministic: the same Config yields the same rows, one at a time, so any
// number of them can be streamed into the log without holding them.
package seed

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/activity-dev/activity/domain"
)

// Config describes the history to generate. Zero fields take the defaults
// noted, except End, which is required (the caller owns the clock).
type Config struct {
	Communities int       // communities, default 200
	Users       int       // users, default 1,000,000
	Days        int       // length of the history in days, default 365
	Activities  int       // rows in all, community.created included; default 1,000,000
	Seed        uint64    // random seed; the same seed (and Config) yields the same rows
	End         time.Time // the history is [End - Days*24h, End); required
}

func (c *Config) setDefaults() {
	if c.Communities <= 0 {
		c.Communities = 200
	}
	if c.Users <= 0 {
		c.Users = 1_000_000
	}
	if c.Days <= 0 {
		c.Days = 365
	}
	if c.Activities <= 0 {
		c.Activities = 1_000_000
	}
}

// Row is one generated activity. A zero UserID or CommunityID means none; an
// invalid IP means none.
type Row struct {
	EventID     string
	EventType   string
	UserID      uuid.UUID
	CommunityID uuid.UUID
	EntityType  string
	EntityID    string
	Metadata    []byte // a JSON object, keys sorted, as ingest stores it after sanitizing
	IP          netip.Addr
	UserAgent   string
	OccurredAt  time.Time // UTC, microseconds
	ReceivedAt  time.Time // UTC, microseconds, shortly after OccurredAt
}

// Event returns r as a domain event (for validation).
func (r *Row) Event() domain.Event {
	e := domain.Event{
		EventID: r.EventID, EventType: r.EventType,
		EntityType: r.EntityType, EntityID: r.EntityID,
		Metadata: r.Metadata, UserAgent: r.UserAgent,
		OccurredAt: r.OccurredAt, ReceivedAt: r.ReceivedAt,
	}
	if r.UserID != (uuid.UUID{}) {
		e.UserID = r.UserID.String()
	}
	if r.CommunityID != (uuid.UUID{}) {
		e.CommunityID = r.CommunityID.String()
	}
	if r.IP.IsValid() {
		e.IPAddress = r.IP.String()
	}
	return e
}

// Community is one generated community, for the communities table.
type Community struct {
	ID        uuid.UUID
	Name      string
	CreatedAt time.Time // when its community.created event occurs
}

const (
	// maxMemberships is how many communities a user belongs to at most.
	maxMemberships = 3
	// preexistingShare is the share of users who signed up before the
	// history starts; the first event of any other user is a user.signup.
	preexistingShare = 0.5
	// userZipfS, userZipfV shape activity per user: P(rank k) ∝ (v+k)^-s.
	userZipfS, userZipfV = 1.1, 4
	// communityZipfS shapes membership (and so activity) per community.
	communityZipfS = 1.1
	micro          = int64(time.Second / time.Microsecond)
	dayMicros      = 24 * 3600 * micro
)

// idSpace is the namespace of the user and community ids: rank i gets the
// same id whatever the seed, so demos can name the busiest user.
var idSpace = uuid.MustParse("0b7c3f5e-2d1a-4c8e-9f60-5a4b3c2d1e0f")

// UserID returns the id of the user of Zipf rank i (0 is the busiest).
func UserID(i int) uuid.UUID {
	return uuid.NewSHA1(idSpace, []byte("user-"+strconv.Itoa(i)))
}

// CommunityID returns the id of the community of rank i (0 is the largest).
func CommunityID(i int) uuid.UUID {
	return uuid.NewSHA1(idSpace, []byte("community-"+strconv.Itoa(i)))
}

// slot is one row to come in the current day: when, and the community it
// creates (-1 for an ordinary event).
type slot struct {
	at     int64 // unix microseconds
	create int32
}

// Generator yields the rows of a Config in time order. It is not safe for
// concurrent use.
type Generator struct {
	cfg         Config
	start, end  int64 // unix microseconds
	hash        uint64
	rnd         *rand.Rand
	users       *rand.Zipf
	commCDF     []float64 // cumulative membership weight of community ranks
	commCreated []int64   // unix microseconds
	commIDs     []uuid.UUID
	commNames   []string
	dayCounts   []int // ordinary events per day
	day         int
	slots       []slot
	pos         int
	seq         int
	idPrefix    string
	seen        []uint64 // bitset: user has appeared
	member      []uint64 // bitset: (user, membership slot) has appeared
	counts      map[string]int64
	mixTotal    int
}

// New returns a Generator for cfg.
func New(cfg Config) (*Generator, error) {
	cfg.setDefaults()
	if cfg.End.IsZero() {
		return nil, errors.New("seed: End is required")
	}
	if cfg.Activities < cfg.Communities {
		return nil, fmt.Errorf("seed: %d activities cannot hold one community.created for each of %d communities", cfg.Activities, cfg.Communities)
	}
	cfg.End = cfg.End.UTC().Truncate(time.Microsecond)
	g := &Generator{
		cfg:      cfg,
		end:      cfg.End.UnixMicro(),
		hash:     mix64(cfg.Seed ^ 0x5eed5eed5eed5eed),
		rnd:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		idPrefix: "seed" + strconv.FormatUint(cfg.Seed, 10) + "-",
		seen:     make([]uint64, (cfg.Users+63)/64),
		member:   make([]uint64, (cfg.Users*maxMemberships+63)/64),
		counts:   make(map[string]int64),
	}
	g.start = g.end - int64(cfg.Days)*dayMicros
	if cfg.Users > 1 {
		g.users = rand.NewZipf(g.rnd, userZipfS, userZipfV, uint64(cfg.Users-1))
	}
	for _, k := range mix {
		g.mixTotal += k.weight
	}

	// Communities: membership weight by Zipf rank; the largest are the
	// oldest. Rank 0 is created when the history starts, the last at about
	// two thirds of it: a platform that grows.
	g.commCDF = make([]float64, cfg.Communities)
	g.commCreated = make([]int64, cfg.Communities)
	g.commIDs = make([]uuid.UUID, cfg.Communities)
	g.commNames = make([]string, cfg.Communities)
	span := float64(g.end - g.start)
	sum := 0.0
	for c := range cfg.Communities {
		sum += math.Pow(float64(c+1), -communityZipfS)
		g.commCDF[c] = sum
		frac := float64(c) / float64(cfg.Communities)
		jitter := float64(mix64(g.hash^uint64(c)^0xc0ffee)%1000) / 1000 * 0.01 // spreads equal ranks over ~3.6 days
		g.commCreated[c] = g.start + int64(span*(0.66*math.Pow(frac, 1.5)+jitter*frac))
		g.commIDs[c] = CommunityID(c)
		g.commNames[c] = communityName(c)
	}
	for c := range g.commCDF {
		g.commCDF[c] /= sum
	}

	// Ordinary events per day: weekly and daily seasonality, growth over
	// the year and some day-to-day noise; cumulative rounding keeps the
	// total exact.
	weights := make([]float64, cfg.Days)
	total := 0.0
	for d := range cfg.Days {
		ds := g.start + int64(d)*dayMicros
		w := 0.0
		for h := range 24 {
			w += weightAt(ds + int64(h)*3600*micro + 1800*micro)
		}
		trend := 0.7 + 0.6*(float64(d)+0.5)/float64(cfg.Days)
		noise := 0.9 + 0.2*g.rnd.Float64()
		weights[d] = w * trend * noise
		total += weights[d]
	}
	ordinary := cfg.Activities - cfg.Communities
	g.dayCounts = make([]int, cfg.Days)
	acc, prev := 0.0, 0
	for d, w := range weights {
		acc += w
		next := int(math.Round(acc / total * float64(ordinary)))
		if d == cfg.Days-1 {
			next = ordinary
		}
		g.dayCounts[d] = next - prev
		prev = next
	}
	g.day = -1
	return g, nil
}

// Config returns the configuration with its defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Start returns the beginning of the history.
func (g *Generator) Start() time.Time { return time.UnixMicro(g.start).UTC() }

// End returns the end of the history (exclusive).
func (g *Generator) End() time.Time { return time.UnixMicro(g.end).UTC() }

// Community returns the community of rank c.
func (g *Generator) Community(c int) Community {
	return Community{ID: g.commIDs[c], Name: g.commNames[c], CreatedAt: time.UnixMicro(g.commCreated[c]).UTC()}
}

// Counts returns how many rows of each event type Next has produced so far.
func (g *Generator) Counts() map[string]int64 { return g.counts }

// Next fills r with the next row, in occurred_at order, and reports whether
// there was one. The history holds exactly Config.Activities rows.
func (g *Generator) Next(r *Row) bool {
	for g.pos >= len(g.slots) {
		if g.day+1 >= g.cfg.Days {
			return false
		}
		g.day++
		g.fillDay()
	}
	s := g.slots[g.pos]
	g.pos++
	g.seq++
	*r = Row{
		EventID:    g.idPrefix + strconv.Itoa(g.seq),
		OccurredAt: time.UnixMicro(s.at).UTC(),
		// Received a few milliseconds to a few seconds later, never after End.
		ReceivedAt: time.UnixMicro(min(s.at+int64(g.rnd.ExpFloat64()*300_000)+5_000, g.end)).UTC(),
	}
	if s.create >= 0 {
		g.communityCreated(r, int(s.create))
	} else {
		g.event(r, s.at)
	}
	g.counts[r.EventType]++
	return true
}

// fillDay draws the times of the current day's events, in order.
func (g *Generator) fillDay() {
	ds := g.start + int64(g.day)*dayMicros
	de := ds + dayMicros
	g.slots = g.slots[:0]
	g.pos = 0
	for range g.dayCounts[g.day] {
		// Rejection sampling against the daily and weekly curve.
		for {
			t := ds + g.rnd.Int64N(dayMicros)
			if g.rnd.Float64() < weightAt(t) {
				g.slots = append(g.slots, slot{at: t, create: -1})
				break
			}
		}
	}
	for c, at := range g.commCreated {
		if at >= ds && at < de {
			g.slots = append(g.slots, slot{at: at, create: int32(c)})
		}
	}
	slices.SortFunc(g.slots, func(a, b slot) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(b.create, a.create) // community.created first
	})
}

// hourWeight is the relative traffic of each UTC hour (users mostly in
// Europe and the Americas): quiet at night, busiest in the afternoon.
var hourWeight = [24]float64{
	0.34, 0.27, 0.22, 0.19, 0.19, 0.23, 0.32, 0.46, 0.64, 0.80, 0.90, 0.96,
	1.00, 1.00, 0.99, 1.00, 0.97, 0.92, 0.86, 0.79, 0.70, 0.60, 0.50, 0.41,
}

// weekendFactor is the traffic of a Saturday or Sunday relative to a weekday.
const weekendFactor = 0.55

// weightAt is the relative traffic at t (unix microseconds), at most 1.
func weightAt(t int64) float64 {
	secs := t / micro
	days := secs / 86400
	w := hourWeight[(secs%86400)/3600]
	if wd := (days + 4) % 7; wd == 0 || wd == 6 { // 1970-01-01 was a Thursday; 0 is Sunday
		w *= weekendFactor
	}
	return w
}

// userRank draws a user by Zipf rank.
func (g *Generator) userRank() int {
	if g.users == nil {
		return 0
	}
	return int(g.users.Uint64())
}

// userHash is a stable pseudo-random number for user u and purpose salt.
func (g *Generator) userHash(u int, salt uint64) uint64 {
	return mix64(g.hash ^ (uint64(u)+1)*0x9e3779b97f4a7c15 ^ salt*0xbf58476d1ce4e5b9)
}

// memberships returns the communities user u belongs to, home first.
func (g *Generator) memberships(u int, buf *[maxMemberships]int) []int {
	h := g.userHash(u, 1)
	n := 1
	switch p := h % 10; {
	case p >= 8:
		n = 3
	case p >= 5:
		n = 2
	}
	n = min(n, len(g.commCDF))
	out := buf[:0]
	for k := 0; len(out) < n && k < 16; k++ {
		c := g.pickCommunity(unit(g.userHash(u, uint64(2+k))))
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// pickCommunity maps x in [0,1) to a community rank by membership weight.
func (g *Generator) pickCommunity(x float64) int {
	c, _ := slices.BinarySearch(g.commCDF, x)
	return min(c, len(g.commCDF)-1)
}

// communityOf chooses which of user u's communities an event at t happens
// in: mostly the home community, and only one already created. It returns
// the rank and the membership slot, or -1, -1.
func (g *Generator) communityOf(u int, t int64) (rank, slot int) {
	var buf [maxMemberships]int
	ms := g.memberships(u, &buf)
	want := 0
	if x := g.rnd.Float64(); x >= 0.7 && len(ms) > 1 {
		want = 1
		if x >= 0.9 && len(ms) > 2 {
			want = 2
		}
	}
	if g.commCreated[ms[want]] <= t {
		return ms[want], want
	}
	for k, c := range ms {
		if g.commCreated[c] <= t {
			return c, k
		}
	}
	return -1, -1
}

// anyCommunity draws a community already created at t by membership
// weight, or -1.
func (g *Generator) anyCommunity(t int64) int {
	for range 4 {
		if c := g.pickCommunity(g.rnd.Float64()); g.commCreated[c] <= t {
			return c
		}
	}
	return -1
}

func testAndSet(bits []uint64, i int) bool {
	w, m := i/64, uint64(1)<<(i%64)
	was := bits[w]&m != 0
	bits[w] |= m
	return was
}

// unit maps h to [0,1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// mix64 is SplitMix64's finalizer: a cheap, well-mixed hash of x.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
