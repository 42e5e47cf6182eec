// Package activity is the Go client for the activity ingest API.
//
// A Client queues events in memory and sends them in the background, in
// gzip-compressed batches, to POST {Endpoint}/api/v1/events. Track never
// touches the network: when the queue is full it drops the event (or, with
// OnFull: Block, waits a bounded time for room). Batches that meet rate
// limiting, an unavailable server or a network error are retried with the
// same event ids and times, which the server uses to store each event once.
//
//	c, err := activity.New(activity.Config{Endpoint: "http://localhost:8080", APIKey: key})
//	...
//	c.Track(activity.Event{EventType: "user.login", UserID: uid})
//	...
//	c.Close(ctx) // flushes what is queued
//
// The package uses the standard library only.
package activity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one activity to record. Only EventType is always required; the
// server's contract says which ids each event type needs.
//
// Metadata is encoded in the background after Track returns: do not modify
// the map (or anything it holds) after passing it to Track.
type Event struct {
	EventID     string // optional; Track fills a UUIDv7
	EventType   string
	UserID      string
	CommunityID string
	EntityType  string
	EntityID    string
	Metadata    map[string]any
	OccurredAt  time.Time // optional; Track fills time.Now()
	IPAddress   string    // optional; see FromRequest
	UserAgent   string    // optional; see FromRequest
}

// FullPolicy says what Track does when the queue is full.
type FullPolicy int

const (
	// Drop returns ErrQueueFull at once and counts the event as dropped.
	Drop FullPolicy = iota
	// Block waits up to Config.BlockTimeout for room, then drops.
	Block
)

// FieldError is the server's reason for rejecting one field of one event.
// Field is empty when the reason concerns the whole event or request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Defaults for the zero values of Config.
const (
	DefaultQueueSize     = 10000
	DefaultBatchSize     = 500
	MaxBatchSize         = 1000 // the server's limit per request
	DefaultFlushInterval = time.Second
	DefaultBlockTimeout  = time.Second
	DefaultMaxRetries    = 10
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	DefaultHTTPTimeout   = 10 * time.Second
)

// Config configures a Client. Zero values take the documented defaults.
type Config struct {
	// Endpoint is the server's base URL, e.g. http://localhost:8080.
	// Required.
	Endpoint string
	// APIKey is an ingest key, sent as "Authorization: Bearer <key>". Required.
	APIKey string

	// QueueSize is how many events wait in memory. Default 10000.
	QueueSize int
	// BatchSize is the most events per request. Default 500, at most 1000.
	BatchSize int
	// FlushInterval is how often a partial batch is sent. Default 1s.
	FlushInterval time.Duration
	// OnFull is what Track does when the queue is full. Default Drop.
	OnFull FullPolicy
	// BlockTimeout is how long Track waits for room under Block before it
	// drops the event. Default 1s.
	BlockTimeout time.Duration

	// MaxRetries is how many times a batch is retried after a 429, a 5xx, a
	// timeout or a network error before it is given up. Default 10; a
	// negative value means no retries.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the wait before a retry: exponential
	// from MinBackoff, capped at MaxBackoff, with full jitter; a larger
	// Retry-After from the server wins. Defaults 100ms and 30s.
	MinBackoff, MaxBackoff time.Duration

	// HTTPClient sends the requests. Default: a client with a 10s timeout.
	HTTPClient *http.Client

	// OnRejected, when set, receives each event the server rejected, with
	// its reasons. Rejected events are not retried. It is called from the
	// background goroutine: keep it short and do not call Close from it.
	OnRejected func(Event, []FieldError)
	// OnError, when set, receives a *DeliveryError for each batch given up
	// (refused by the server, retries exhausted, or Close's context ended).
	// Same rules as OnRejected.
	OnError func(error)
	// Logger receives the client's diagnostics. Default: discarded.
	Logger *slog.Logger
}

// Errors returned by Track.
var (
	ErrQueueFull = errors.New("activity: queue full, event dropped")
	ErrClosed    = errors.New("activity: client closed")
)

// DeliveryError describes a batch the client gave up on.
type DeliveryError struct {
	Events     []Event // the events not delivered
	StatusCode int     // the server's last answer; 0 when there was none
	Detail     string  // the server's problem title and detail, if any
	Err        error   // the cause when there was no answer (network, context)
}

func (e *DeliveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "activity: %d events not delivered", len(e.Events))
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// Stats are the client's counters since New, in events except Retried.
type Stats struct {
	Sent     uint64 // accepted by the server
	Dropped  uint64 // not queued because the queue was full
	Retried  uint64 // retry attempts (requests, not events)
	Rejected uint64 // refused by the server per event (see OnRejected)
	Failed   uint64 // given up with their batch (see OnError)
}

// Client sends events to the activity server. It is safe for concurrent use.
type Client struct {
	cfg  Config
	url  string
	http *http.Client
	log  *slog.Logger
	rand *randSource

	queue   chan Event
	mu      sync.RWMutex // held shared by Track while it sends to queue
	closed  bool         // under mu; queue is closed once this is set
	closing chan struct{}
	once    sync.Once

	ctx    context.Context // ends when Close's context ends
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the flusher has finished
	err    error         // Close's result, written before done is closed

	sent, dropped, retried, rejected, failed atomic.Uint64
}

// New validates cfg and starts the client's background sender. Call Close
// to flush and stop it.
func New(cfg Config) (*Client, error) {
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	go c.run()
	return c, nil
}

func newClient(cfg Config) (*Client, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Client{
		cfg:     cfg,
		url:     strings.TrimRight(cfg.Endpoint, "/") + "/api/v1/events",
		http:    httpClient,
		log:     logger,
		rand:    newRandSource(),
		queue:   make(chan Event, cfg.QueueSize),
		closing: make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
	}, nil
}

func (cfg *Config) setDefaults() error {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("activity: Endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	if cfg.APIKey == "" {
		return errors.New("activity: APIKey is required")
	}
	if cfg.OnFull != Drop && cfg.OnFull != Block {
		return fmt.Errorf("activity: unknown OnFull policy %d", cfg.OnFull)
	}
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"QueueSize", int64(cfg.QueueSize)},
		{"BatchSize", int64(cfg.BatchSize)},
		{"FlushInterval", int64(cfg.FlushInterval)},
		{"BlockTimeout", int64(cfg.BlockTimeout)},
		{"MinBackoff", int64(cfg.MinBackoff)},
		{"MaxBackoff", int64(cfg.MaxBackoff)},
	} {
		if f.value < 0 {
			return fmt.Errorf("activity: %s must not be negative", f.name)
		}
	}
	if cfg.BatchSize > MaxBatchSize {
		return fmt.Errorf("activity: BatchSize %d is over the server's limit of %d", cfg.BatchSize, MaxBatchSize)
	}
	setDefault(&cfg.QueueSize, DefaultQueueSize)
	setDefault(&cfg.BatchSize, DefaultBatchSize)
	setDefault(&cfg.FlushInterval, DefaultFlushInterval)
	setDefault(&cfg.BlockTimeout, DefaultBlockTimeout)
	setDefault(&cfg.MaxRetries, DefaultMaxRetries)
	setDefault(&cfg.MinBackoff, DefaultMinBackoff)
	setDefault(&cfg.MaxBackoff, DefaultMaxBackoff)
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return fmt.Errorf("activity: MaxBackoff %v is below MinBackoff %v", cfg.MaxBackoff, cfg.MinBackoff)
	}
	return nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Track queues e for sending. It fills EventID with a UUIDv7 and OccurredAt
// with the current time when they are empty, so that every retry carries the
// same identity. It never waits on the network: it returns ErrQueueFull when
// the queue has no room (after BlockTimeout under Block) and ErrClosed once
// Close has been called.
func (c *Client) Track(e Event) error {
	if e.EventID == "" || e.OccurredAt.IsZero() {
		now := time.Now()
		if e.OccurredAt.IsZero() {
			e.OccurredAt = now.UTC().Truncate(time.Microsecond)
		}
		if e.EventID == "" {
			e.EventID = c.rand.uuidV7(now)
		}
	}

	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	select {
	case c.queue <- e:
		return nil
	default:
	}
	if c.cfg.OnFull == Block {
		t := time.NewTimer(c.cfg.BlockTimeout)
		defer t.Stop()
		select {
		case c.queue <- e:
			return nil
		case <-c.closing:
			return ErrClosed
		case <-t.C:
		}
	}
	c.dropped.Add(1)
	return ErrQueueFull
}

// Close stops accepting events and sends everything queued, retrying as
// usual, until that is done or ctx ends. When ctx ends first, the events not
// yet delivered are given up (reported to OnError, counted as Failed) and
// Close returns an error wrapping ctx's error. Close may be called more than
// once; every call waits for the same shutdown.
func (c *Client) Close(ctx context.Context) error {
	c.once.Do(func() {
		close(c.closing) // wakes Track calls blocked on a full queue
		c.mu.Lock()
		c.closed = true
		close(c.queue)
		c.mu.Unlock()
	})
	select {
	case <-c.done:
	case <-ctx.Done():
		c.cancel(ctx.Err())
		<-c.done
	}
	return c.err
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Sent:     c.sent.Load(),
		Dropped:  c.dropped.Load(),
		Retried:  c.retried.Load(),
		Rejected: c.rejected.Load(),
		Failed:   c.failed.Load(),
	}
}
