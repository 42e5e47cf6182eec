// Package domain holds the event model of activity: decoding, validation and sanitizing of
// ingested events, UUID helpers and the Segment mapping. It uses the standard library only and
// imports nothing else of this module.
package domain

import (
	"encoding/json"
	"time"
)

// Event is one validated, sanitized event, as queued and stored.
type Event struct {
	EventID     string          `json:"event_id"`
	EventType   string          `json:"event_type"`
	UserID      string          `json:"user_id,omitempty"`      // canonical lower-case UUID, or ""
	CommunityID string          `json:"community_id,omitempty"` // canonical lower-case UUID, or ""
	EntityType  string          `json:"entity_type,omitempty"`
	EntityID    string          `json:"entity_id,omitempty"`
	Metadata    json.RawMessage `json:"metadata"`    // sanitized JSON object, "{}" when absent; never nil
	OccurredAt  time.Time       `json:"occurred_at"` // UTC, truncated to microseconds (PostgreSQL precision)
	ReceivedAt  time.Time       `json:"received_at"` // UTC, microseconds
	IPAddress   string          `json:"ip_address,omitempty"`
	UserAgent   string          `json:"user_agent,omitempty"`
	// Segment only: original non-UUID ids, kept on the user row.
	ExternalUserID string `json:"external_user_id,omitempty"`
	// Segment identify only: traits.email, set on the user row by the writer; never stored in
	// metadata.
	Email string `json:"email,omitempty"`
}

// Limits bounds what one request and one event may hold. A field that is zero or negative
// means its default (see DefaultLimits).
type Limits struct {
	MaxEvents        int           // default 1000
	MaxMetadataBytes int           // default 16384 (encoded size of the metadata as received)
	MaxMetadataDepth int           // default 8 (the metadata object itself is depth 1)
	MaxPast          time.Duration // default 30*24h: occurred_at older than now-MaxPast is rejected
	MaxFuture        time.Duration // default 5m
}

// DefaultLimits returns the limits of the HTTP contract.
func DefaultLimits() Limits {
	return Limits{
		MaxEvents:        1000,
		MaxMetadataBytes: 16384,
		MaxMetadataDepth: 8,
		MaxPast:          30 * 24 * time.Hour,
		MaxFuture:        5 * time.Minute,
	}
}

// withDefaults replaces unset (zero or negative) fields with their defaults.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxEvents <= 0 {
		l.MaxEvents = d.MaxEvents
	}
	if l.MaxMetadataBytes <= 0 {
		l.MaxMetadataBytes = d.MaxMetadataBytes
	}
	if l.MaxMetadataDepth <= 0 {
		l.MaxMetadataDepth = d.MaxMetadataDepth
	}
	if l.MaxPast <= 0 {
		l.MaxPast = d.MaxPast
	}
	if l.MaxFuture <= 0 {
		l.MaxFuture = d.MaxFuture
	}
	return l
}

// Defaults fills fields the client left out.
type Defaults struct {
	Now       time.Time // received time
	IPAddress string    // caller address ("" if unknown)
	UserAgent string    // request User-Agent (cut to 512 chars)
}

// FieldError says what is wrong with one field of an event. Field is "" when the event as a
// whole is wrong (for example a batch item that is not an object).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Rejection is an invalid event of a request: its position, the event_id the client sent (when
// it sent a string) and what is wrong with it.
type Rejection struct {
	Index   int          `json:"index"`
	EventID string       `json:"event_id,omitempty"`
	Errors  []FieldError `json:"errors"`
}

// BodyError: the body as a whole is unusable (→ HTTP 400). Message is for a person.
type BodyError struct {
	Message string
}

func (e *BodyError) Error() string { return e.Message }

// Accepted is a valid event with its position in the request.
type Accepted struct {
	Index int
	Event Event
	// SentID is the event_id the client sent ("" when Event.EventID was
	// assigned by the server), for a rejection of the event after decoding.
	SentID string
}
