package seed

import (
	"net/netip"
	"strconv"
	"strings"
)

// kind is a built-in event type drawn for an ordinary event, with its weight
// (per mille) and the ids it carries. user.signup and member.created are not
// drawn: a user's first event becomes a user.signup (unless the user signed
// up before the history), and a user's first event in a community becomes a
// member.created. community.created happens once per community, at its
// creation time.
type kind struct {
	typ       string
	weight    int
	user      bool    // carries a user_id
	community float64 // probability of a community_id; 1 = required
}

var mix = []kind{
	{"user.login", 420, true, 0.25},
	{"github.push", 190, true, 0.9},
	{"webhook.triggered", 110, false, 0.6},
	{"member.activated", 90, true, 1},
	{"github.pr.opened", 80, true, 0.9},
	{"event.created", 60, true, 1},
	{"hackathon.created", 8, true, 1},
}

var (
	plans       = []string{"free", "free", "free", "free", "pro", "pro", "team", "enterprise"}
	sources     = []string{"web", "web", "web", "ios", "android", "api", "cli"}
	loginVia    = []string{"password", "password", "github", "google", "sso", "magic_link"}
	branches    = []string{"main", "main", "main", "develop", "feature/search", "fix/login", "release/2.4"}
	repos       = []string{"api", "web", "docs", "infra", "mobile", "sdk", "website", "cli", "data", "design-system"}
	hookSources = []string{"github", "github", "stripe", "slack", "discord", "zapier"}
	hookStatus  = []int{200, 200, 200, 200, 200, 201, 202, 204, 400, 404, 429, 500, 502}
	topics      = []string{"Rust", "Go", "Python", "TypeScript", "Data", "DevOps", "Design", "AI", "Security", "Mobile", "Cloud", "Open Source", "Web3", "Game Dev", "Kotlin", "Elixir"}
	cities      = []string{"Berlin", "Lisbon", "London", "Paris", "Amsterdam", "New York", "San Francisco", "Toronto", "São Paulo", "Bangalore", "Tokyo", "Sydney", "Warsaw", "Nairobi", "Madrid", "Zurich"}
	meetups     = []string{"Meetup", "Workshop", "Study Group", "Office Hours", "Lightning Talks", "Conference", "Hack Night"}
	browserUAs  = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
	}
	iosUAs     = []string{"Activity/4.12.0 (iPhone; iOS 17.5; Scale/3.00)", "Activity/4.11.2 (iPad; iOS 17.4; Scale/2.00)"}
	androidUAs = []string{"Activity/4.12.0 (Android 14; Pixel 8)", "Activity/4.10.1 (Android 13; SM-S911B)"}
	toolUAs    = []string{"activity-cli/1.8.3 (linux; amd64)", "activity-cli/1.8.3 (darwin; arm64)", "python-requests/2.32.3", "Go-http-client/2.0"}
	hookUAs    = map[string]string{
		"github": "GitHub-Hookshot/2e5a7c1", "stripe": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
		"slack": "Slackbot 1.0 (+https://api.slack.com/robots)", "discord": "Discord-Webhook/1.0", "zapier": "Zapier",
	}
)

// communityName is the name of the community of rank c: a topic and a city.
func communityName(c int) string {
	t, city := topics[c%len(topics)], cities[(c/len(topics)+c)%len(cities)]
	name := t + " " + city
	if n := len(topics) * len(cities); c >= n {
		name += " " + strconv.Itoa(c/n+1)
	}
	return name
}

// slug renders a community name for repository owners: "Open Source Berlin" → "open-source-berlin".
func slug(s string) string {
	s = strings.ToLower(s)
	s = strings.NewReplacer(" ", "-", "ã", "a").Replace(s)
	return s
}

// communityCreated fills r as the community.created of community c.
func (g *Generator) communityCreated(r *Row, c int) {
	u := g.userRank()
	testAndSet(g.seen, u) // the founder is a known user
	r.EventType = "community.created"
	r.UserID = UserID(u)
	r.CommunityID = g.commIDs[c]
	r.EntityType = "community"
	r.EntityID = g.commIDs[c].String()
	r.Metadata = new(object).str("name", g.commNames[c]).bytes()
	g.client(r, u, "web")
}

// event fills r with an ordinary event at t.
func (g *Generator) event(r *Row, t int64) {
	w := g.rnd.IntN(g.mixTotal)
	k := mix[0]
	for _, c := range mix {
		if w < c.weight {
			k = c
			break
		}
		w -= c.weight
	}
	source := sources[g.rnd.IntN(len(sources))]
	if !k.user {
		g.webhook(r, t)
		return
	}
	u := g.userRank()
	r.UserID = UserID(u)
	plan := plans[g.userHash(u, 7)%uint64(len(plans))]
	typ := k.typ
	comm, mslot := -1, -1
	switch {
	case !testAndSet(g.seen, u) && unit(g.userHash(u, 5)) >= preexistingShare:
		typ = "user.signup" // first appearance of a new user
	case k.community >= 1 || g.rnd.Float64() < k.community:
		comm, mslot = g.communityOf(u, t)
		if comm < 0 && k.community >= 1 {
			typ = "user.login" // none of the user's communities exists yet
		}
	}
	if comm >= 0 {
		r.CommunityID = g.commIDs[comm]
		if !testAndSet(g.member, u*maxMemberships+mslot) {
			typ = "member.created" // first appearance in this community
		}
	}
	r.EventType = typ
	md := new(object)
	switch typ {
	case "user.login":
		md.str("method", loginVia[g.rnd.IntN(len(loginVia))]).str("plan", plan).str("source", source)
	case "user.signup":
		md.str("plan", plan).str("referrer", []string{"google", "github", "twitter", "direct", "newsletter", "friend"}[g.userHash(u, 8)%6]).str("source", source)
	case "member.created":
		r.EntityType, r.EntityID = "membership", r.UserID.String()
		md.str("plan", plan).str("role", "member").str("source", source)
	case "member.activated":
		r.EntityType, r.EntityID = "membership", r.UserID.String()
		md.str("plan", plan).str("source", source)
	case "github.push", "github.pr.opened":
		repo := g.repo(comm, u)
		branch := branches[g.rnd.IntN(len(branches))]
		source = "github"
		if typ == "github.push" {
			r.EntityType, r.EntityID = "repository", repo
			md.str("branch", branch).num("commits", 1+int(g.rnd.ExpFloat64()*2)).str("repo", repo).str("source", source)
		} else {
			n := 1 + g.rnd.IntN(4000)
			r.EntityType, r.EntityID = "pull_request", repo+"#"+strconv.Itoa(n)
			md.str("base", "main").str("branch", branch).num("number", n).str("repo", repo).str("source", source)
		}
	case "event.created", "hackathon.created":
		what := meetups[g.rnd.IntN(len(meetups))]
		entity := "event"
		if typ == "hackathon.created" {
			what, entity = "Hackathon", "hackathon"
		}
		r.EntityType, r.EntityID = entity, entity+"-"+strconv.Itoa(g.seq)
		title := g.commNames[comm] + " " + what + " #" + strconv.Itoa(1+g.rnd.IntN(60))
		md.num("capacity", 20+10*g.rnd.IntN(50)).str("plan", plan).str("source", source).str("title", title)
	}
	r.Metadata = md.bytes()
	g.client(r, u, source)
}

// webhook fills r as a webhook.triggered: no user, often a community.
func (g *Generator) webhook(r *Row, t int64) {
	r.EventType = "webhook.triggered"
	src := hookSources[g.rnd.IntN(len(hookSources))]
	md := new(object).num("duration_ms", 5+int(g.rnd.ExpFloat64()*120))
	if g.rnd.Float64() < 0.6 {
		if c := g.anyCommunity(t); c >= 0 {
			r.CommunityID = g.commIDs[c]
			if src == "github" {
				md.str("repo", g.repo(c, g.rnd.IntN(1000)))
			}
		}
	}
	md.str("source", src).num("status_code", hookStatus[g.rnd.IntN(len(hookStatus))])
	r.Metadata = md.bytes()
	r.EntityType, r.EntityID = "webhook", src+"-"+strconv.Itoa(g.rnd.IntN(500))
	r.IP = netip.AddrFrom4([4]byte{140, 82, 112 + byte(g.rnd.IntN(4)), byte(g.rnd.IntN(256))})
	r.UserAgent = hookUAs[src]
}

// repo names a repository of community c (or of user u's own account).
func (g *Generator) repo(c, u int) string {
	owner := "user-" + strconv.Itoa(u)
	if c >= 0 {
		owner = slug(g.commNames[c])
	}
	return owner + "/" + repos[g.rnd.IntN(len(repos))]
}

// client sets the address and user agent of user u's device for source:
// each user keeps an address and a browser; a few events come without.
func (g *Generator) client(r *Row, u int, source string) {
	h := g.userHash(u, 11)
	switch source {
	case "ios":
		r.UserAgent = iosUAs[h%uint64(len(iosUAs))]
	case "android":
		r.UserAgent = androidUAs[h%uint64(len(androidUAs))]
	case "api", "cli", "github":
		r.UserAgent = toolUAs[h%uint64(len(toolUAs))]
	default:
		r.UserAgent = browserUAs[h%uint64(len(browserUAs))]
	}
	if g.rnd.IntN(50) == 0 {
		return // server-side events: no client address
	}
	a := g.userHash(u, 12+uint64(g.rnd.IntN(2))) // home or work
	if a%8 == 0 {
		var b [16]byte
		b[0], b[1] = 0x2a, 0x02
		for i := 2; i < 16; i++ {
			b[i] = byte(a >> (8 * (i % 8)))
		}
		r.IP = netip.AddrFrom16(b)
		return
	}
	first := []byte{31, 37, 46, 62, 73, 77, 81, 84, 86, 88, 91, 98, 104, 151, 176, 185, 188, 201}[(a>>8)%18]
	r.IP = netip.AddrFrom4([4]byte{first, byte(a >> 16), byte(a >> 24), 1 + byte(a>>32)%254})
}

// object writes a flat JSON object whose keys the caller gives in sorted
// order (as ingest stores metadata) and whose strings need no escaping
// beyond quotes and backslashes.
type object struct{ b []byte }

func (o *object) key(k string) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = appendString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *object) str(k, v string) *object {
	o.key(k)
	o.b = appendString(o.b, v)
	return o
}

func (o *object) num(k string, v int) *object {
	o.key(k)
	o.b = strconv.AppendInt(o.b, int64(v), 10)
	return o
}

func (o *object) bytes() []byte {
	if len(o.b) == 0 {
		return []byte("{}")
	}
	return append(o.b, '}')
}

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}
