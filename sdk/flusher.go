package activity

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// maxBodyBytes is the server's limit on a decoded request body; larger
	// batches are split before sending rather than refused with a 413.
	maxBodyBytes = 1 << 20
	// maxResponseBytes bounds how much of an answer is read.
	maxResponseBytes = 1 << 20
	userAgent        = "activity-go-sdk/0.1"
)

// wireEvent is an Event as the ingest API spells it.
type wireEvent struct {
	EventID     string         `json:"event_id"`
	EventType   string         `json:"event_type"`
	UserID      string         `json:"user_id,omitempty"`
	CommunityID string         `json:"community_id,omitempty"`
	EntityType  string         `json:"entity_type,omitempty"`
	EntityID    string         `json:"entity_id,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	OccurredAt  string         `json:"occurred_at"`
	IPAddress   string         `json:"ip_address,omitempty"`
	UserAgent   string         `json:"user_agent,omitempty"`
}

// formatTime renders t as the server stores it: RFC 3339 in UTC with at
// most microsecond precision, so that every delivery carries the same value.
func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

// run is the background sender: it batches queued events by size and by
// interval and delivers each batch before taking the next. It ends when the
// queue is closed and drained.
func (c *Client) run() {
	defer close(c.done)
	defer c.cancel(ErrClosed) // releases the context; c.err is set by then
	var s sender
	ticker := time.NewTicker(c.cfg.FlushInterval)
	defer ticker.Stop()
	batch := make([]Event, 0, c.cfg.BatchSize)
	flush := func() {
		if len(batch) > 0 {
			c.deliver(&s, batch)
			clear(batch) // let metadata be collected
			batch = batch[:0]
		}
	}
	for {
		select {
		case e, ok := <-c.queue:
			if !ok {
				flush()
				if s.abandoned > 0 {
					c.err = fmt.Errorf("activity: closed with %d events not delivered: %w", s.abandoned, context.Cause(c.ctx))
				}
				return
			}
			batch = append(batch, e)
			if len(batch) >= c.cfg.BatchSize {
				flush()
			}
		case <-ticker.C:
			flush()
		}
	}
}

// sender holds the flusher goroutine's reusable buffers.
type sender struct {
	raw, gz   bytes.Buffer
	zw        *gzip.Writer
	abandoned int // events given up because Close's context ended
}

// deliver encodes events and sends them, splitting batches that are too
// large for the server.
func (c *Client) deliver(s *sender, events []Event) {
	if len(events) == 0 {
		return
	}
	if c.ctx.Err() != nil {
		c.giveUp(s, events, 0, "", context.Cause(c.ctx))
		return
	}
	events = c.encode(s, events)
	if len(events) == 0 {
		return
	}
	if s.raw.Len() > maxBodyBytes && len(events) > 1 {
		half := len(events) / 2
		c.deliver(s, events[:half])
		c.deliver(s, events[half:])
		return
	}
	s.gz.Reset()
	if s.zw == nil {
		s.zw = gzip.NewWriter(&s.gz)
	} else {
		s.zw.Reset(&s.gz)
	}
	s.zw.Write(s.raw.Bytes()) // writes to a bytes.Buffer do not fail
	s.zw.Close()
	c.send(s, events, s.gz.Bytes())
}

// encode writes {"events":[...]} for events into s.raw. An event that
// cannot be encoded (its metadata holds a channel, say) is reported as
// rejected and left out; encode returns the events that were written.
func (c *Client) encode(s *sender, events []Event) []Event {
	s.raw.Reset()
	s.raw.WriteString(`{"events":[`)
	enc := json.NewEncoder(&s.raw)
	enc.SetEscapeHTML(false)
	kept := events
	copied := false
	n := 0
	for i, e := range events {
		if n > 0 {
			s.raw.WriteByte(',')
		}
		mark := s.raw.Len()
		err := enc.Encode(wireEvent{
			EventID:     e.EventID,
			EventType:   e.EventType,
			UserID:      e.UserID,
			CommunityID: e.CommunityID,
			EntityType:  e.EntityType,
			EntityID:    e.EntityID,
			Metadata:    e.Metadata,
			OccurredAt:  formatTime(e.OccurredAt),
			IPAddress:   e.IPAddress,
			UserAgent:   e.UserAgent,
		})
		if err != nil {
			if n > 0 {
				mark-- // drop the comma too
			}
			s.raw.Truncate(mark)
			if !copied {
				kept = slices.Clone(events[:i])
				copied = true
			}
			c.reject(e, []FieldError{{Field: "metadata", Message: "cannot be encoded as JSON: " + err.Error()}})
			continue
		}
		if copied {
			kept = append(kept, e)
		}
		n++
	}
	s.raw.WriteString(`]}`)
	if copied {
		return kept
	}
	return events
}

// send posts one encoded batch, retrying it whole (same body, same event
// ids) while the failure is temporary.
func (c *Client) send(s *sender, events []Event, body []byte) {
	for attempt := 0; ; attempt++ {
		status, header, answer, err := c.post(body)
		switch {
		case err == nil && status >= 200 && status < 300:
			c.accepted(events, answer)
			return
		case err == nil && status == http.StatusBadRequest:
			c.badRequest(events, answer)
			return
		case err == nil && status == http.StatusRequestEntityTooLarge && len(events) > 1:
			c.log.Warn("activity: batch too large, splitting", "events", len(events))
			half := len(events) / 2
			c.deliver(s, events[:half])
			c.deliver(s, events[half:])
			return
		case err == nil && !retryableStatus(status):
			c.giveUp(s, events, status, problemDetail(answer), nil)
			return
		}
		if c.ctx.Err() != nil {
			c.giveUp(s, events, status, "", context.Cause(c.ctx))
			return
		}
		if attempt >= c.cfg.MaxRetries {
			c.giveUp(s, events, status, problemDetail(answer), err)
			return
		}
		wait := c.backoff(attempt, retryAfter(header, time.Now()))
		c.log.Warn("activity: batch not delivered, retrying",
			"events", len(events), "status", status, "error", err, "attempt", attempt+1, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			c.giveUp(s, events, status, "", context.Cause(c.ctx))
			return
		}
		c.retried.Add(1)
	}
}

func retryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// post makes one request. A non-nil error means there was no answer.
func (c *Client) post(body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes)) // lets the connection be reused
	return resp.StatusCode, resp.Header, answer, nil
}

// accepted handles a 2xx: {"accepted": N, "rejected": [{"index", "event_id", "errors"}]}.
func (c *Client) accepted(events []Event, answer []byte) {
	var ack struct {
		Accepted int `json:"accepted"`
		Rejected []struct {
			Index   int          `json:"index"`
			EventID string       `json:"event_id"`
			Errors  []FieldError `json:"errors"`
		} `json:"rejected"`
	}
	if err := json.Unmarshal(answer, &ack); err != nil {
		c.log.Warn("activity: unreadable answer to an accepted batch", "error", err)
	}
	rejected := 0
	reported := make([]bool, len(events)) // an event is reported once, however often the answer names it
	for _, r := range ack.Rejected {
		i := r.Index
		if i < 0 || i >= len(events) || (r.EventID != "" && events[i].EventID != r.EventID) {
			i = slices.IndexFunc(events, func(e Event) bool { return e.EventID == r.EventID })
		}
		if i < 0 {
			c.log.Warn("activity: server rejected an event not in the batch", "index", r.Index, "event_id", r.EventID)
			continue
		}
		if reported[i] {
			continue
		}
		reported[i] = true
		c.reject(events[i], r.Errors)
		rejected++
	}
	c.sent.Add(uint64(len(events) - rejected))
	c.log.Debug("activity: batch sent", "events", len(events), "rejected", rejected)
}

// problem is an RFC 9457 answer, with per-event errors for batches.
type problem struct {
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		Index   *int   `json:"index"`
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func problemDetail(answer []byte) string {
	var p problem
	if json.Unmarshal(answer, &p) != nil {
		return ""
	}
	switch {
	case p.Title != "" && p.Detail != "":
		return p.Title + ": " + p.Detail
	case p.Detail != "":
		return p.Detail
	}
	return p.Title
}

// badRequest handles a 400: no event of the batch was accepted. Each event
// is reported with the errors naming its index, or the problem's detail.
func (c *Client) badRequest(events []Event, answer []byte) {
	var p problem
	json.Unmarshal(answer, &p)
	byIndex := make(map[int][]FieldError)
	var general []FieldError
	for _, e := range p.Errors {
		fe := FieldError{Field: e.Field, Message: e.Message}
		if e.Index == nil {
			general = append(general, fe)
		} else {
			byIndex[*e.Index] = append(byIndex[*e.Index], fe)
		}
	}
	if len(general) == 0 && len(byIndex) == 0 {
		msg := problemDetail(answer)
		if msg == "" {
			msg = "the server refused the batch (400 Bad Request)"
		}
		general = []FieldError{{Message: msg}}
	}
	for i, e := range events {
		c.reject(e, append(byIndex[i], general...))
	}
	c.log.Warn("activity: batch refused", "events", len(events), "detail", problemDetail(answer))
}

func (c *Client) reject(e Event, errs []FieldError) {
	c.rejected.Add(1)
	if c.cfg.OnRejected != nil {
		c.cfg.OnRejected(e, errs)
	}
}

func (c *Client) giveUp(s *sender, events []Event, status int, detail string, err error) {
	c.failed.Add(uint64(len(events)))
	if c.ctx.Err() != nil {
		s.abandoned += len(events)
	}
	derr := &DeliveryError{Events: slices.Clone(events), StatusCode: status, Detail: detail, Err: err}
	c.log.Error("activity: batch given up", "events", len(events), "status", status, "error", derr)
	if c.cfg.OnError != nil {
		c.cfg.OnError(derr)
	}
}

// backoff returns the wait before retry number attempt+1: a random duration
// up to MinBackoff·2^attempt (capped at MaxBackoff), or the server's
// Retry-After when that is longer.
func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	ceiling := c.cfg.MaxBackoff
	if attempt < 62 {
		if d := c.cfg.MinBackoff << attempt; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	wait := time.Duration(rand.Int64N(int64(ceiling) + 1))
	return max(wait, retryAfter)
}

// retryAfter reads a Retry-After header given in seconds or as an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
