package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// The final state of an event as the client saw it.
const (
	stateAccepted = "accepted" // some delivery was answered 202
	stateRefused  = "refused"  // every delivery was answered non-2xx or never reached the server
	stateUnknown  = "unknown"  // no 202, and some delivery failed after it was sent: may be stored
)

// sentEvent is one event's identity and what became of it.
type sentEvent struct {
	EventID    string
	OccurredAt string // microsecond precision, UTC: compared with the log exactly
	State      string
}

// loadStats counts requests by outcome.
type loadStats struct {
	Requests    int
	Deliveries  int
	ByStatus    map[string]int
	Redelivered int // deliveries of an already accepted batch (the client retry case)
}

// loader is the in-process load generator: clients post batches of the
// built-in event types and remember, per event, whether a delivery was
// accepted. A batch that was not accepted is sent again (same event_id and
// occurred_at, as the SDK does) a few times.
type loader struct {
	url, key string
	rate     float64 // events/s over all clients
	clients  int
	seed     uint64

	mu     sync.Mutex
	events []sentEvent
	stats  loadStats
}

const tsLayout = "2006-01-02T15:04:05.000000Z07:00"

var kinds = []struct {
	typ           string
	user, comm    bool
	weight        int
	entity, entID string
}{
	{"user.login", true, false, 25, "", ""},
	{"github.push", true, true, 20, "repository", "repo"},
	{"member.activated", true, true, 12, "membership", "m"},
	{"webhook.triggered", false, false, 10, "webhook", "wh"},
	{"github.pr.opened", true, true, 8, "pull_request", "pr"},
	{"member.created", true, true, 8, "membership", "m"},
	{"event.created", true, true, 6, "event", "ev"},
	{"user.signup", true, false, 4, "", ""},
	{"hackathon.created", true, true, 3, "hackathon", "h"},
	{"community.created", true, true, 4, "community", "c"},
}

func (l *loader) run(ctx context.Context) {
	users := make([]string, 2000)
	for i := range users {
		users[i] = uuid.NewSHA1(uuid.NameSpaceOID, []byte("chaos-user-"+strconv.Itoa(i))).String()
	}
	comms := make([]string, 40)
	for i := range comms {
		comms[i] = uuid.NewSHA1(uuid.NameSpaceOID, []byte("chaos-community-"+strconv.Itoa(i))).String()
	}
	l.stats.ByStatus = map[string]int{}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = l.clients * 2
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for c := 0; c < l.clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(l.seed, uint64(c)))
			uz := rand.NewZipf(rnd, 1.1, 2, uint64(len(users)-1))
			cz := rand.NewZipf(rnd, 1.3, 1, uint64(len(comms)-1))
			var accepted [][]byte // bodies already accepted, to redeliver
			seq := 0
			for ctx.Err() == nil {
				n := 1 + rnd.IntN(50)
				if rnd.IntN(10) == 0 {
					n = 1 + rnd.IntN(400)
				}
				// Redeliver an accepted batch now and then: stored once.
				if len(accepted) > 0 && rnd.IntN(20) == 0 {
					body := accepted[rnd.IntN(len(accepted))]
					if st, _ := deliver(ctx, client, l.url, l.key, body); ctx.Err() == nil {
						l.count(st, true)
					}
					continue
				}
				batch := make([]sentEvent, n)
				evs := make([]map[string]any, n)
				now := time.Now().UTC()
				for i := range evs {
					seq++
					w := rnd.IntN(100)
					k := kinds[0]
					for _, kk := range kinds {
						if w < kk.weight {
							k = kk
							break
						}
						w -= kk.weight
					}
					at := now
					if rnd.IntN(10) == 0 { // late arrivals, up to 3 days back
						at = now.Add(-time.Duration(rnd.Int64N(int64(72 * time.Hour))))
					}
					ci := cz.Uint64()
					e := map[string]any{
						"event_id":    fmt.Sprintf("chaos-%d-%d-%d", l.seed, c, seq),
						"event_type":  k.typ,
						"occurred_at": at.Format(tsLayout),
						"metadata": map[string]any{
							"plan": []string{"free", "pro", "team"}[rnd.IntN(3)], "source": []string{"web", "ios", "api"}[rnd.IntN(3)],
							"repo": fmt.Sprintf("org/repo-%d", rnd.IntN(30)), "tags": []string{"chaos", []string{"a", "b", "c"}[rnd.IntN(3)]},
						},
					}
					if k.user {
						e["user_id"] = users[uz.Uint64()]
					}
					if k.comm || rnd.IntN(3) == 0 {
						e["community_id"] = comms[ci]
					}
					if k.entity != "" {
						e["entity_type"], e["entity_id"] = k.entity, fmt.Sprintf("%s-%d", k.entID, rnd.IntN(1000))
					}
					if k.typ == "community.created" {
						e["metadata"].(map[string]any)["name"] = fmt.Sprintf("Community %d rev %d", ci, rnd.IntN(1000))
					}
					evs[i] = e
					batch[i] = sentEvent{EventID: e["event_id"].(string), OccurredAt: e["occurred_at"].(string)}
				}
				var body []byte
				if n == 1 && rnd.IntN(2) == 0 {
					body, _ = json.Marshal(evs[0])
				} else {
					body, _ = json.Marshal(map[string]any{"events": evs})
				}
				state := stateRefused
				for attempt := 0; attempt < 3; attempt++ {
					st, outcome := deliver(ctx, client, l.url, l.key, body)
					if ctx.Err() != nil && outcome != stateAccepted {
						// Cut by the end of the run: whether it arrived is unknown.
						if outcome == stateUnknown || st == "canceled" {
							state = stateUnknown
						}
						break
					}
					l.count(st, false)
					if outcome == stateAccepted {
						state = stateAccepted
						accepted = append(accepted, body)
						if len(accepted) > 200 {
							accepted = accepted[1:]
						}
						break
					}
					if outcome == stateUnknown {
						state = stateUnknown
					}
					sleepCtx(ctx, time.Duration(100+rnd.IntN(400))*time.Millisecond)
				}
				for i := range batch {
					batch[i].State = state
				}
				l.mu.Lock()
				l.events = append(l.events, batch...)
				l.stats.Requests++
				l.mu.Unlock()
				// Pace: this client's share of the rate.
				if l.rate > 0 {
					sleepCtx(ctx, time.Duration(float64(n)/(l.rate/float64(l.clients))*float64(time.Second)))
				}
			}
		}()
	}
	wg.Wait()
}

func (l *loader) count(status string, redelivery bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats.Deliveries++
	l.stats.ByStatus[status]++
	if redelivery {
		l.stats.Redelivered++
	}
}

func (l *loader) snapshot() ([]sentEvent, loadStats) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stats
	st.ByStatus = map[string]int{}
	for k, v := range l.stats.ByStatus {
		st.ByStatus[k] = v
	}
	return append([]sentEvent(nil), l.events...), st
}

// deliver posts body once. outcome is accepted (202 with every event
// accepted), refused (any other answer, or the connection was refused: the
// server never saw it) or unknown (the request may have reached the server).
func deliver(ctx context.Context, client *http.Client, base, key string, body []byte) (status, outcome string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/events", bytes.NewReader(body))
	if err != nil {
		return "bad request", stateRefused
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := client.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, context.Canceled):
			return "canceled", stateUnknown
		case errors.Is(err, syscall.ECONNREFUSED):
			return "connection refused", stateRefused
		}
		return "transport error", stateUnknown
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusAccepted {
		return strconv.Itoa(res.StatusCode), stateRefused
	}
	if err != nil {
		return "202 body cut", stateAccepted
	}
	var v struct {
		Accepted int `json:"accepted"`
		Rejected []struct {
			Index int `json:"index"`
		} `json:"rejected"`
	}
	if json.Unmarshal(b, &v) == nil && len(v.Rejected) > 0 {
		// Every event sent is valid: a per-event rejection is a bug to show,
		// and which of the batch is stored is not tracked.
		return "202 with rejections", stateUnknown
	}
	return "202", stateAccepted
}
