package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Report is what a load run measured.
type Report struct {
	Source        string         `json:"freshness_source,omitempty"`
	Config        reportConfig   `json:"config"`
	Elapsed       float64        `json:"elapsed_s"`
	Requests      int64          `json:"requests"`
	Sent          int64          `json:"events_sent"`
	Accepted      int64          `json:"events_accepted"`
	Rejected      int64          `json:"events_rejected"`
	AcceptedPerS  float64        `json:"accepted_events_per_s"`
	Latency       Percentiles    `json:"request_latency"`
	Statuses      map[string]int `json:"non_2xx"`
	NonOK         int            `json:"non_2xx_total"`
	BehindBy      float64        `json:"schedule_lag_s,omitempty"`
	Freshness     *float64       `json:"freshness_all_s,omitempty"` // after the last response, until the rollups hold every accepted event
	FreshnessNote string         `json:"freshness_note,omitempty"`
	Markers       Percentiles    `json:"marker_freshness"`
	MarkersLost   int            `json:"markers_not_seen,omitempty"`
	// UserMarkers: distinct-user freshness, from user markers (read API only).
	UserMarkers     Percentiles `json:"user_marker_freshness"`
	UserMarkersLost int         `json:"user_markers_not_seen,omitempty"`
}

type reportConfig struct {
	Rate     float64 `json:"rate"`
	Clients  int     `json:"clients"`
	Batch    int     `json:"batch"`
	Duration float64 `json:"duration_s"`
	Warmup   float64 `json:"warmup_s,omitempty"`
}

// Load sends the mix for c.Duration and measures freshness afterwards.
func Load(ctx context.Context, c Config, progress io.Writer) (*Report, error) {
	client := newClient(c.Clients + 4)
	rep := &Report{Statuses: map[string]int{}, Config: reportConfig{c.Rate, c.Clients, c.Batch, c.Duration.Seconds(), c.Warmup.Seconds()}}

	rollups, err := NewRollups(ctx, c.URL, c.ReadKey, c.DatabaseURL, client)
	if err != nil {
		fmt.Fprintf(progress, "loadgen: no freshness figures: %v\n", err)
		rep.FreshnessNote = err.Error()
	} else {
		defer rollups.Close()
		rep.Source = rollups.Source()
	}
	var before, markersBefore int64
	if rollups != nil {
		if before, err = rollups.Total(ctx); err != nil {
			return nil, fmt.Errorf("rollup total before the run: %w", err)
		}
		if markersBefore, err = rollups.Markers(ctx); err != nil {
			return nil, fmt.Errorf("rollup markers before the run: %w", err)
		}
	}

	users, comms := Population(c.Users, c.Communities)
	run := runID()
	var seq atomic.Int64
	var (
		requests, sent, accepted, rejected atomic.Int64
		mu                                 sync.Mutex
		latencies                          []time.Duration
	)
	status := func(s string) {
		mu.Lock()
		rep.Statuses[s]++
		mu.Unlock()
	}

	lctx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()
	start := time.Now()
	pace := newPacer(c.Rate, c.Batch, start)

	// The markers: one request every MarkerEvery, remembered when answered
	// 202, found in the rollups by the poller. Through the read API the
	// request also carries a user marker (a new user in a new community).
	var markers markerLog
	var umarkers userMarkerLog
	withUsers := rollups != nil && rollups.viaAPI && c.UserMarkers
	var draining atomic.Bool // sending is over; waiting for the rollups
	var rollupNow, rollupWant atomic.Int64
	var wg sync.WaitGroup
	if rollups != nil && c.MarkerEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mix := NewMix(0, users, comms, run, &seq)
			t := time.NewTicker(c.MarkerEvery)
			defer t.Stop()
			for {
				select {
				case <-lctx.Done():
					return
				case <-t.C:
				}
				at := time.Now()
				var body []byte
				var comm string
				if withUsers {
					var um map[string]any
					um, comm = mix.UserMarker(at)
					body, _ = json.Marshal(map[string]any{"events": []map[string]any{mix.Marker(at), um}})
				} else {
					body, _ = json.Marshal(mix.Marker(at))
				}
				if res := post(lctx, client, c.URL, c.Key, body); res.status == http.StatusAccepted {
					markers.sent(at)
					if withUsers && res.accepted == 2 {
						umarkers.sent(at, comm)
					}
					accepted.Add(max(res.accepted, 1))
				}
			}
		}()
	}

	for i := 0; i < c.Clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mix := NewMix(uint64(i+1)*7919+uint64(start.UnixNano()), users, comms, run, &seq)
			var mine []time.Duration
			defer func() {
				mu.Lock()
				latencies = append(latencies, mine...)
				mu.Unlock()
			}()
			events := make([]map[string]any, c.Batch)
			for {
				if !pace.wait(lctx) {
					return
				}
				now := time.Now()
				for j := range events {
					events[j] = mix.Event(now)
				}
				var body []byte
				if c.Batch == 1 {
					body, _ = json.Marshal(events[0])
				} else {
					body, _ = json.Marshal(map[string]any{"events": events})
				}
				t0 := time.Now()
				res := post(lctx, client, c.URL, c.Key, body)
				if res.err != nil && lctx.Err() != nil {
					return // cut by the end of the run: neither sent nor refused
				}
				mine = append(mine, time.Since(t0))
				requests.Add(1)
				sent.Add(int64(c.Batch))
				switch {
				case res.err != nil:
					status("transport: " + res.errKind())
				case res.status == http.StatusAccepted:
					accepted.Add(res.accepted)
					rejected.Add(int64(c.Batch) - res.accepted)
				default:
					status(fmt.Sprint(res.status))
				}
			}
		}()
	}

	// Progress, once a second.
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		tty := isTerminal(progress)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var lastAcc int64
		for {
			select {
			case <-stopProgress:
				if tty {
					fmt.Fprintln(progress)
				}
				return
			case <-t.C:
			}
			acc := accepted.Load()
			mu.Lock()
			bad := 0
			for _, n := range rep.Statuses {
				bad += n
			}
			mu.Unlock()
			if draining.Load() {
				line := fmt.Sprintf("%5.0fs  sending done; the rollups hold %d of %d events, markers seen %d/%d",
					time.Since(start).Seconds(), rollupNow.Load(), rollupWant.Load(), markers.seenCount(), markers.count())
				if tty {
					fmt.Fprintf(progress, "\r%-110s", line)
				} else {
					fmt.Fprintln(progress, line)
				}
				continue
			}
			line := fmt.Sprintf("%5.0fs  requests %d  sent %d  accepted %d  %6d ev/s  non-2xx %d  markers seen %d/%d",
				time.Since(start).Seconds(), requests.Load(), sent.Load(), acc, acc-lastAcc, bad, markers.seenCount(), markers.count())
			lastAcc = acc
			if tty {
				fmt.Fprintf(progress, "\r%-110s", line)
			} else {
				fmt.Fprintln(progress, line)
			}
		}
	}()

	// The marker poller runs through the load and after it, until every
	// marker is seen or the freshness timeout passes.
	pollCtx, stopPoll := context.WithCancel(ctx)
	pollDone := make(chan struct{})
	if rollups != nil && c.MarkerEvery > 0 {
		go func() {
			defer close(pollDone)
			t := time.NewTicker(c.Poll)
			defer t.Stop()
			for {
				select {
				case <-pollCtx.Done():
					return
				case <-t.C:
				}
				n, err := rollups.Markers(pollCtx)
				if err == nil {
					markers.visible(n-markersBefore, time.Now())
				}
				// The oldest user marker not yet seen, and the next ones
				// while they are seen.
				for withUsers {
					comm, ok := umarkers.next()
					if !ok {
						break
					}
					if seen, err := rollups.UserMarkerSeen(pollCtx, comm); err != nil || !seen {
						break
					}
					umarkers.seen(time.Now())
				}
			}
		}()
	} else {
		close(pollDone)
	}

	wg.Wait()
	sendEnd := time.Now()
	rep.Elapsed = sendEnd.Sub(start).Seconds()
	rep.BehindBy = pace.lag().Seconds()

	// Freshness of everything: poll the total until it holds every accepted event.
	if rollups != nil {
		want := before + accepted.Load()
		rollupWant.Store(want)
		draining.Store(true)
		deadline := sendEnd.Add(c.FreshnessTimeout)
		for {
			n, err := rollups.Total(ctx)
			if err == nil {
				rollupNow.Store(n)
			}
			if err == nil && n >= want {
				f := time.Since(sendEnd).Seconds()
				rep.Freshness = &f
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				rep.FreshnessNote = fmt.Sprintf("the rollups held %d of the %d events expected after %s (err %v)", n, want, c.FreshnessTimeout, err)
				break
			}
			time.Sleep(c.Poll)
		}
		// Give the markers the rest of the timeout too.
		for (markers.seenCount() < markers.count() || umarkers.pending()) && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(c.Poll)
		}
	}
	stopPoll()
	<-pollDone
	close(stopProgress)
	<-progressDone

	rep.Requests, rep.Sent, rep.Accepted, rep.Rejected = requests.Load(), sent.Load(), accepted.Load(), rejected.Load()
	rep.AcceptedPerS = float64(rep.Accepted) / rep.Elapsed
	rep.Latency = percentiles(latencies)
	for _, n := range rep.Statuses {
		rep.NonOK += n
	}
	rep.Markers, rep.MarkersLost = markers.freshness()
	rep.UserMarkers, rep.UserMarkersLost = umarkers.freshness()
	return rep, nil
}

func (r *Report) print(w io.Writer) {
	fmt.Fprintf(w, "loadgen: %d clients, %d events/request, rate %s, %.0fs\n", r.Config.Clients, r.Config.Batch, rateString(r.Config.Rate), r.Config.Duration)
	fmt.Fprintf(w, "  requests          %d (%d events sent, %d accepted, %d rejected per event)\n", r.Requests, r.Sent, r.Accepted, r.Rejected)
	fmt.Fprintf(w, "  accepted          %.0f events/s\n", r.AcceptedPerS)
	if r.BehindBy > 1 {
		fmt.Fprintf(w, "  behind schedule   %.1fs (the target rate was not reached)\n", r.BehindBy)
	}
	fmt.Fprintf(w, "  request latency   %s\n", r.Latency)
	if len(r.Statuses) == 0 {
		fmt.Fprintf(w, "  non-2xx           none\n")
	} else {
		keys := make([]string, 0, len(r.Statuses))
		for k := range r.Statuses {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  non-2xx %-10s %d\n", k, r.Statuses[k])
		}
	}
	if r.Freshness != nil {
		fmt.Fprintf(w, "  freshness (all)   %.2fs after the last response the rollups held every accepted event (%s)\n", *r.Freshness, r.Source)
	}
	if r.FreshnessNote != "" {
		fmt.Fprintf(w, "  freshness         %s\n", r.FreshnessNote)
	}
	if r.Markers.N > 0 {
		fmt.Fprintf(w, "  marker freshness  %s", r.Markers)
		if r.MarkersLost > 0 {
			fmt.Fprintf(w, "; %d markers never seen", r.MarkersLost)
		}
		fmt.Fprintln(w)
	}
	if r.UserMarkers.N > 0 {
		fmt.Fprintf(w, "  user marker freshness  %s", r.UserMarkers)
		if r.UserMarkersLost > 0 {
			fmt.Fprintf(w, "; %d user markers never seen", r.UserMarkersLost)
		}
		fmt.Fprintln(w)
	}
}

func rateString(r float64) string {
	if r <= 0 {
		return "max"
	}
	return fmt.Sprintf("%.0f/s", r)
}

// markerLog pairs the send times of accepted markers with the times the
// rollups first held them. The rollups give a count, not ids, so the k-th
// marker sent is taken to be visible when the count first reaches k: exact
// while markers are applied in the order sent (they go one at a time, 100 ms
// apart), and the distribution is unchanged when two swap.
type markerLog struct {
	mu     sync.Mutex
	sentAt []time.Time
	seenAt []time.Time
}

func (m *markerLog) sent(t time.Time) {
	m.mu.Lock()
	m.sentAt = append(m.sentAt, t)
	m.mu.Unlock()
}

func (m *markerLog) visible(n int64, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for int64(len(m.seenAt)) < n && len(m.seenAt) < len(m.sentAt) {
		m.seenAt = append(m.seenAt, now)
	}
}

func (m *markerLog) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sentAt)
}

func (m *markerLog) seenCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seenAt)
}

func (m *markerLog) freshness() (Percentiles, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := make([]time.Duration, len(m.seenAt))
	for i := range d {
		d[i] = m.seenAt[i].Sub(m.sentAt[i])
	}
	return percentiles(d), len(m.sentAt) - len(m.seenAt)
}

// userMarkerLog is markerLog for user markers, which are found one by one
// (each is its community's only user): the poller asks for the oldest not
// yet seen, and for the next once it is. A marker the rollups held before
// an older one is taken as seen when it is asked for, so a time here is
// never earlier than the marker's true one.
type userMarkerLog struct {
	markerLog
	comm []string // each marker's community
}

func (m *userMarkerLog) sent(t time.Time, community string) {
	m.mu.Lock()
	m.sentAt = append(m.sentAt, t)
	m.comm = append(m.comm, community)
	m.mu.Unlock()
}

// next is the community of the oldest marker not yet seen.
func (m *userMarkerLog) next() (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.seenAt) == len(m.sentAt) {
		return "", false
	}
	return m.comm[len(m.seenAt)], true
}

// seen marks the marker next returned as seen at now.
func (m *userMarkerLog) seen(now time.Time) {
	m.mu.Lock()
	if len(m.seenAt) < len(m.sentAt) {
		m.seenAt = append(m.seenAt, now)
	}
	m.mu.Unlock()
}

func (m *userMarkerLog) pending() bool { return m.seenCount() < m.count() }

// pacer hands out send slots at rate/batch requests per second; with rate 0
// it never waits. A pacer more than a second behind forgets the backlog
// rather than bursting to catch up, and remembers how far behind it fell.
type pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
	maxLag   time.Duration
}

func newPacer(rate float64, batch int, start time.Time) *pacer {
	p := &pacer{next: start}
	if rate > 0 {
		p.interval = time.Duration(float64(batch) / rate * float64(time.Second))
	}
	return p
}

func (p *pacer) wait(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if p.interval == 0 {
		return true
	}
	p.mu.Lock()
	now := time.Now()
	if lag := now.Sub(p.next); lag > time.Second {
		p.maxLag = max(p.maxLag, lag)
		p.next = now
	}
	slot := p.next
	p.next = p.next.Add(p.interval)
	p.mu.Unlock()
	if d := time.Until(slot); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return ctx.Err() == nil
}

func (p *pacer) lag() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(p.maxLag, time.Since(p.next))
}

func newClient(conns int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns * 2
	tr.MaxIdleConnsPerHost = conns * 2
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

type result struct {
	status   int
	accepted int64
	err      error
}

func (r result) errKind() string {
	switch {
	case errors.Is(r.err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(r.err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(r.err, io.EOF), errors.Is(r.err, io.ErrUnexpectedEOF):
		return "EOF"
	}
	var ne net.Error
	if errors.As(r.err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "other"
}

func post(ctx context.Context, client *http.Client, base, key string, body []byte) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/events", bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("User-Agent", "activity-loadgen/1")
	res, err := client.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer res.Body.Close()
	out := result{status: res.StatusCode}
	if res.StatusCode == http.StatusAccepted {
		var v struct {
			Accepted int64 `json:"accepted"`
		}
		if err := json.NewDecoder(res.Body).Decode(&v); err == nil {
			out.accepted = v.Accepted
		}
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return out
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
