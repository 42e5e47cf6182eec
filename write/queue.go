// Package write is the write side: the ingest API, the Redis stream queue,
// and the writer that appends queued events to the activities log.
package write

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/activity-dev/activity/domain"
)

// Errors of Queue.Append; the ingest handler answers both with 503.
var (
	ErrBacklogFull      = errors.New("the ingest backlog is over its limit")
	ErrQueueUnavailable = errors.New("the ingest queue is unreachable")
)

// QueueConfig configures the ingest stream.
type QueueConfig struct {
	// Stream is the Redis stream key. Default "activity:ingest".
	Stream string
	// MaxBacklog is how many entries (requests) may wait unwritten before
	// ingest answers 503. Default 50000.
	MaxBacklog int64
	// Timeout bounds one append. Default 2s.
	Timeout time.Duration
}

func (c *QueueConfig) setDefaults() {
	if c.Stream == "" {
		c.Stream = "activity:ingest"
	}
	if c.MaxBacklog <= 0 {
		c.MaxBacklog = 50000
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
}

// Queue appends ingest requests to the stream: one request is one entry (one
// atomic XADD) in Watermill's redisstream message format, whose payload is
// the JSON array of the request's valid events.
//
// The writer deletes entries once they are committed and acknowledged, so the
// stream's length is its backlog, and nothing ever trims an entry the writer
// has not acknowledged (no MAXLEN).
type Queue struct {
	rdb redis.UniversalClient
	cfg QueueConfig
}

// NewQueue returns a queue on rdb.
func NewQueue(rdb redis.UniversalClient, cfg QueueConfig) *Queue {
	cfg.setDefaults()
	return &Queue{rdb: rdb, cfg: cfg}
}

// Stream is the stream key.
func (q *Queue) Stream() string { return q.cfg.Stream }

// appendScript adds an entry unless the backlog is over the limit, in one
// round trip: KEYS[1] the stream, ARGV[1] the limit, then field/value pairs.
var appendScript = redis.NewScript(`
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then
  return false
end
return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
`)

// EncodeEntry returns the stream fields of a batch of events.
func EncodeEntry(events []domain.Event) (map[string]any, error) {
	payload, err := json.Marshal(events)
	if err != nil {
		return nil, fmt.Errorf("encode events: %w", err)
	}
	msg := message.NewMessage(watermill.NewUUID(), payload)
	return redisstream.DefaultMarshallerUnmarshaller{}.Marshal("", msg)
}

// Append queues events as one entry and returns its id. It fails with
// ErrBacklogFull or ErrQueueUnavailable, and then nothing was queued.
func (q *Queue) Append(ctx context.Context, events []domain.Event) (string, error) {
	fields, err := EncodeEntry(events)
	if err != nil {
		return "", err
	}
	args := make([]any, 0, 1+2*len(fields))
	args = append(args, q.cfg.MaxBacklog)
	// Fixed order keeps entries byte-identical for identical requests.
	for _, k := range []string{redisstream.UUIDHeaderKey, "metadata", "payload"} {
		v := fields[k]
		if v == nil {
			v = ""
		}
		args = append(args, k, v)
	}
	ctx, cancel := context.WithTimeout(ctx, q.cfg.Timeout)
	defer cancel()
	id, err := appendScript.Run(ctx, q.rdb, []string{q.cfg.Stream}, args...).Text()
	switch {
	case errors.Is(err, redis.Nil):
		return "", ErrBacklogFull
	case err != nil:
		return "", fmt.Errorf("%w: %w", ErrQueueUnavailable, err)
	}
	return id, nil
}

// Backlog returns the number of entries waiting (undelivered or unacknowledged).
func (q *Queue) Backlog(ctx context.Context) (int64, error) {
	return q.rdb.XLen(ctx, q.cfg.Stream).Result()
}
