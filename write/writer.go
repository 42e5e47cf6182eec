package write

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/activity-dev/activity/domain"
	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/partitions"
)

// RecordedTopic is the Watermill topic of the writer's "activities recorded"
// notifications; projectors wake on it.
const RecordedTopic = "activity.recorded"

// Recorded is the payload of a RecordedTopic notification.
type Recorded struct {
	Events int64 `json:"events"`
}

// WriterConfig configures a Writer. Zero values mean the documented defaults.
type WriterConfig struct {
	Stream   string // default "activity:ingest"
	Group    string // consumer group, default "writers"
	Consumer string // this writer's name, default host-pid-random
	// ReadEntries is how many stream entries one XREADGROUP asks for. Default 256.
	ReadEntries int64
	// MaxBatchEvents caps the events of one transaction; the entries of one
	// read are split into several transactions past it. Default 5000.
	MaxBatchEvents int
	// Block is how long a read waits for new entries. Default 1s.
	Block time.Duration
	// ClaimIdle is how long an entry stays pending with another (presumably
	// dead) writer before this one claims it. Default 30s.
	ClaimIdle time.Duration
	// ClaimEvery is how often pending entries are looked for. Default 5s.
	ClaimEvery time.Duration
	// MinBackoff and MaxBackoff bound the retry delay while PostgreSQL or
	// Redis fail. Defaults 100ms and 5s.
	MinBackoff, MaxBackoff time.Duration
	// StopTimeout bounds finishing the batch in hand after Run's context
	// ends. Default 30s.
	StopTimeout time.Duration
}

func (c *WriterConfig) setDefaults() {
	if c.Stream == "" {
		c.Stream = "activity:ingest"
	}
	if c.Group == "" {
		c.Group = "writers"
	}
	if c.Consumer == "" {
		host, _ := os.Hostname()
		c.Consumer = fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.IntN(1<<16))
	}
	if c.ReadEntries <= 0 {
		c.ReadEntries = 256
	}
	if c.MaxBatchEvents <= 0 {
		c.MaxBatchEvents = 5000
	}
	if c.Block <= 0 {
		c.Block = time.Second
	}
	if c.ClaimIdle <= 0 {
		c.ClaimIdle = 30 * time.Second
	}
	if c.ClaimEvery <= 0 {
		c.ClaimEvery = 5 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 30 * time.Second
	}
}

// Writer moves queued events from the stream into the activities log. Per
// round it reads many entries, inserts their events in one transaction
// (idempotently: ON CONFLICT DO NOTHING on (event_id, created_at)), commits,
// and then acknowledges and deletes those entries with one XACK and XDEL. A
// crash between commit and acknowledgement only causes a redelivery, which
// stores nothing new.
type Writer struct {
	cfg     WriterConfig
	pool    *pgxpool.Pool
	rdb     redis.UniversalClient
	pub     message.Publisher
	parts   *partitions.Manager
	log     *slog.Logger
	metrics *Metrics

	// beforeAck, when set (tests), runs after a commit and before the
	// acknowledgement; an error abandons the round as a crash would.
	beforeAck func() error
}

// NewWriter returns a writer. pub may be nil (no notifications).
func NewWriter(cfg WriterConfig, pool *pgxpool.Pool, rdb redis.UniversalClient, pub message.Publisher, parts *partitions.Manager, log *slog.Logger, metrics *Metrics) (*Writer, error) {
	if pool == nil || rdb == nil {
		return nil, errors.New("writer: a PostgreSQL pool and a Redis client are required")
	}
	cfg.setDefaults()
	if parts == nil {
		parts = partitions.NewManager(pool)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	return &Writer{cfg: cfg, pool: pool, rdb: rdb, pub: pub, parts: parts, log: log.With("component", "writer", "consumer", cfg.Consumer), metrics: metrics}, nil
}

// queued is one event from a stream entry.
type queued struct {
	entryID string
	index   int
	event   domain.Event
}

// Run consumes the stream until ctx ends. The batch in hand when ctx ends is
// finished (or left unacknowledged for redelivery); Run then returns nil.
func (w *Writer) Run(ctx context.Context) error {
	lastClaim := time.Time{}
	backoff := w.cfg.MinBackoff
	for ctx.Err() == nil {
		if err := w.ensureGroup(ctx); err != nil {
			w.log.Warn("cannot create consumer group; retrying", "err", err)
			w.sleep(ctx, &backoff)
			continue
		}
		var entries []redis.XMessage
		var err error
		if time.Since(lastClaim) >= w.cfg.ClaimEvery {
			lastClaim = time.Now()
			entries, err = w.claim(ctx)
		}
		if err == nil && len(entries) == 0 {
			entries, err = w.read(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.log.Warn("reading the ingest stream failed; retrying", "err", err)
			w.sleep(ctx, &backoff)
			continue
		}
		backoff = w.cfg.MinBackoff
		if len(entries) == 0 {
			continue
		}
		// Finish the batch in hand even when asked to stop, within StopTimeout.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.StopTimeout)
		w.handle(bctx, ctx, entries)
		cancel()
	}
	return nil
}

func (w *Writer) ensureGroup(ctx context.Context) error {
	err := w.rdb.XGroupCreateMkStream(ctx, w.cfg.Stream, w.cfg.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return err
	}
	return nil
}

func (w *Writer) read(ctx context.Context) ([]redis.XMessage, error) {
	res, err := w.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: w.cfg.Group, Consumer: w.cfg.Consumer,
		Streams: []string{w.cfg.Stream, ">"}, Count: w.cfg.ReadEntries, Block: w.cfg.Block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		if strings.HasPrefix(err.Error(), "NOGROUP") {
			err = w.ensureGroup(ctx)
		}
		return nil, err
	}
	var out []redis.XMessage
	for _, s := range res {
		out = append(out, s.Messages...)
	}
	return out, nil
}

// claim takes over entries left pending by a writer that stopped.
func (w *Writer) claim(ctx context.Context) ([]redis.XMessage, error) {
	msgs, _, err := w.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: w.cfg.Stream, Group: w.cfg.Group, Consumer: w.cfg.Consumer,
		MinIdle: w.cfg.ClaimIdle, Start: "0-0", Count: w.cfg.ReadEntries,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if len(msgs) > 0 {
		w.log.Info("claimed pending entries from a stopped writer", "entries", len(msgs))
	}
	return msgs, err
}

// handle stores the events of entries and then acknowledges the entries.
// Nothing is acknowledged that is not committed.
func (w *Writer) handle(ctx, runCtx context.Context, entries []redis.XMessage) {
	var events []queued
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.ID)
		evs, err := decodeEntry(e)
		if err != nil {
			raw, _ := json.Marshal(e.Values)
			if !w.deadLetter(ctx, runCtx, "writer", "undecodable stream entry: "+err.Error(), "", string(raw), e.ID) {
				return
			}
			continue
		}
		for i, ev := range evs {
			events = append(events, queued{entryID: e.ID, index: i, event: ev})
		}
	}
	for start := 0; start < len(events); start += w.cfg.MaxBatchEvents {
		chunk := events[start:min(start+w.cfg.MaxBatchEvents, len(events))]
		if !w.storeRetrying(ctx, runCtx, chunk) {
			return // stopping: the entries stay pending and are redelivered
		}
	}
	if w.beforeAck != nil {
		if err := w.beforeAck(); err != nil {
			return
		}
	}
	backoff := w.cfg.MinBackoff
	for attempt := 0; ; attempt++ {
		_, err := w.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.XAck(ctx, w.cfg.Stream, w.cfg.Group, ids...)
			p.XDel(ctx, w.cfg.Stream, ids...)
			return nil
		})
		if err == nil {
			break
		}
		// Committed but not acknowledged: a later claim redelivers the
		// entries and the insert skips them.
		w.log.Warn("acknowledging entries failed", "err", err, "entries", len(ids))
		if attempt >= 5 || runCtx.Err() != nil {
			return
		}
		w.sleep(ctx, &backoff)
	}
	if w.pub != nil && len(events) > 0 {
		payload, _ := json.Marshal(Recorded{Events: int64(len(events))})
		if err := w.pub.Publish(RecordedTopic, message.NewMessage(watermill.NewUUID(), payload)); err != nil {
			w.log.Debug("publishing the recorded notification failed; projectors catch up on their tick", "err", err)
		}
	}
}

// decodeEntry reads the events of one stream entry.
func decodeEntry(e redis.XMessage) ([]domain.Event, error) {
	for _, k := range []string{redisstream.UUIDHeaderKey, "payload"} {
		if _, ok := e.Values[k].(string); !ok {
			return nil, fmt.Errorf("field %q is missing or not a string", k)
		}
	}
	if md, ok := e.Values["metadata"]; ok {
		if _, isString := md.(string); !isString {
			return nil, errors.New(`field "metadata" is not a string`)
		}
	}
	msg, err := redisstream.DefaultMarshallerUnmarshaller{}.Unmarshal(e.Values)
	if err != nil {
		return nil, err
	}
	var evs []domain.Event
	if err := json.Unmarshal(msg.Payload, &evs); err != nil {
		return nil, fmt.Errorf("payload is not a JSON array of events: %w", err)
	}
	return evs, nil
}

// storeRetrying stores events, retrying transient failures with backoff
// until it succeeds or runCtx ends (false).
func (w *Writer) storeRetrying(ctx, runCtx context.Context, events []queued) bool {
	backoff := w.cfg.MinBackoff
	for {
		err := w.store(ctx, events)
		if err == nil {
			return true
		}
		w.metrics.WriterErrors.Inc()
		w.log.Warn("storing a batch failed; retrying", "err", err, "events", len(events))
		if runCtx.Err() != nil || ctx.Err() != nil {
			return false
		}
		w.sleep(runCtx, &backoff)
	}
}

// store inserts events; a batch that fails on its data is bisected until
// the failing events are isolated and sent to the dead letters. A transient
// error (connection, deadlock, shutdown) is returned for a retry.
func (w *Writer) store(ctx context.Context, events []queued) error {
	err := w.insert(ctx, events)
	if partitions.IsMissing(err) {
		w.parts.Forget()
		err = w.insert(ctx, events)
	}
	if err == nil || !isDataError(err) {
		return err
	}
	if len(events) == 1 {
		q := events[0]
		raw, _ := json.Marshal(q.event)
		if !w.deadLetter(ctx, ctx, "writer", "rejected by PostgreSQL: "+err.Error(), q.event.EventID, string(raw), q.entryID+"/"+strconv.Itoa(q.index)) {
			return fmt.Errorf("record dead letter: %w", ctx.Err())
		}
		return nil
	}
	mid := len(events) / 2
	if err := w.store(ctx, events[:mid]); err != nil {
		return err
	}
	return w.store(ctx, events[mid:])
}

// dataError marks an event the database can never accept.
type dataError struct{ err error }

func (e *dataError) Error() string { return e.err.Error() }
func (e *dataError) Unwrap() error { return e.err }

// isDataError reports whether err is about the rows (retrying cannot help)
// rather than the database being unavailable.
func isDataError(err error) bool {
	var de *dataError
	if errors.As(err, &de) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "22", "23", "54": // data exception, integrity violation, program limit
			return !partitions.IsMissing(err)
		}
	}
	return false
}

func (w *Writer) insert(ctx context.Context, events []queued) error {
	start := time.Now()
	rows, days, users, communities, err := insertParams(events)
	if err != nil {
		return err
	}
	if err := w.parts.Ensure(ctx, days...); err != nil {
		return err
	}
	var stored int64
	err = pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		if len(users.Ids) > 0 {
			if err := q.UserEnsureBatch(ctx, users); err != nil {
				return fmt.Errorf("ensure users: %w", err)
			}
		}
		for _, e := range userEmails(events) {
			if err := q.UserSetEmail(ctx, e); err != nil {
				return fmt.Errorf("set user e-mail: %w", err)
			}
		}
		if len(communities) > 0 {
			if err := q.CommunityEnsureBatch(ctx, communities); err != nil {
				return fmt.Errorf("ensure communities: %w", err)
			}
		}
		n, err := appendActivities(ctx, tx, rows)
		if err != nil {
			return fmt.Errorf("insert activities: %w", err)
		}
		stored = n
		return nil
	})
	if err != nil {
		return err
	}
	w.metrics.BatchEvents.Observe(float64(len(events)))
	w.metrics.CommitSeconds.Observe(time.Since(start).Seconds())
	w.metrics.EventsStored.Add(float64(stored))
	return nil
}

// appendActivities appends a batch to the log. The fast path COPYs the rows
// straight in, under a savepoint; a duplicate (a redelivery or a client
// retry) makes it fail, and the batch then goes through INSERT … ON CONFLICT
// DO NOTHING, which skips the rows already stored.
func appendActivities(ctx context.Context, tx pgx.Tx, rows []db.ActivityCopyParams) (int64, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return 0, err
	}
	n, err := db.New(sp).ActivityCopy(ctx, rows)
	if err == nil {
		return n, sp.Commit(ctx)
	}
	if rbErr := sp.Rollback(ctx); rbErr != nil {
		return 0, rbErr
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return 0, err
	}
	return db.New(tx).ActivityInsertBatch(ctx, batchColumns(rows))
}

// batchColumns turns COPY rows into the columns of ActivityInsertBatch
// (empty strings stand for NULL).
func batchColumns(rows []db.ActivityCopyParams) db.ActivityInsertBatchParams {
	n := len(rows)
	p := db.ActivityInsertBatchParams{
		EventIds: make([]string, n), EventTypes: make([]string, n), UserIds: make([]string, n),
		CommunityIds: make([]string, n), EntityTypes: make([]string, n), EntityIds: make([]string, n),
		Metadata: make([]string, n), IpAddresses: make([]string, n), UserAgents: make([]string, n),
		CreatedAts: make([]time.Time, n), ReceivedAts: make([]time.Time, n),
	}
	for i, r := range rows {
		p.EventIds[i], p.EventTypes[i] = r.EventID, r.EventType
		if r.UserID.Valid {
			p.UserIds[i] = r.UserID.UUID.String()
		}
		if r.CommunityID.Valid {
			p.CommunityIds[i] = r.CommunityID.UUID.String()
		}
		p.EntityTypes[i], p.EntityIds[i], p.UserAgents[i] = r.EntityType.String, r.EntityID.String, r.UserAgent.String
		p.Metadata[i] = string(r.Metadata)
		if r.IpAddress != nil {
			p.IpAddresses[i] = r.IpAddress.String()
		}
		p.CreatedAts[i], p.ReceivedAts[i] = r.CreatedAt, r.ReceivedAt
	}
	return p
}

// insertParams builds the rows of a batch, their days (for partitions),
// and the distinct users and communities it names. An event the database
// could never take is a dataError.
func insertParams(events []queued) ([]db.ActivityCopyParams, []time.Time, db.UserEnsureBatchParams, []uuid.UUID, error) {
	rows := make([]db.ActivityCopyParams, len(events))
	days := make([]time.Time, len(events))
	var users db.UserEnsureBatchParams
	userIdx := make(map[uuid.UUID]int)
	communitySet := make(map[uuid.UUID]bool)
	var communities []uuid.UUID
	for i, q := range events {
		e := q.event
		fail := func(format string, args ...any) error {
			return &dataError{fmt.Errorf("event %q: "+format, append([]any{e.EventID}, args...)...)}
		}
		if e.OccurredAt.IsZero() {
			return nil, nil, users, nil, fail("occurred_at is missing")
		}
		r := db.ActivityCopyParams{
			EventID: e.EventID, EventType: e.EventType,
			EntityType: textOrNull(e.EntityType), EntityID: textOrNull(e.EntityID),
			Metadata: e.Metadata, UserAgent: textOrNull(e.UserAgent),
			CreatedAt: e.OccurredAt, ReceivedAt: e.ReceivedAt,
		}
		if len(r.Metadata) == 0 {
			r.Metadata = []byte("{}")
		}
		if e.IPAddress != "" {
			a, err := netip.ParseAddr(e.IPAddress)
			if err != nil {
				return nil, nil, users, nil, fail("ip_address: %w", err)
			}
			r.IpAddress = &a
		}
		if e.UserID != "" {
			id, err := uuid.Parse(e.UserID)
			if err != nil {
				return nil, nil, users, nil, fail("user_id: %w", err)
			}
			r.UserID = uuid.NullUUID{UUID: id, Valid: true}
			if j, ok := userIdx[id]; !ok {
				userIdx[id] = len(users.Ids)
				users.Ids = append(users.Ids, id)
				users.ExternalIds = append(users.ExternalIds, e.ExternalUserID)
			} else if e.ExternalUserID != "" {
				users.ExternalIds[j] = e.ExternalUserID
			}
		}
		if e.CommunityID != "" {
			id, err := uuid.Parse(e.CommunityID)
			if err != nil {
				return nil, nil, users, nil, fail("community_id: %w", err)
			}
			r.CommunityID = uuid.NullUUID{UUID: id, Valid: true}
			if !communitySet[id] {
				communitySet[id] = true
				communities = append(communities, id)
			}
		}
		rows[i], days[i] = r, e.OccurredAt
	}
	return rows, days, users, communities, nil
}

// userEmails returns the e-mail addresses of a batch's identified users
// (Segment identify), the last one per user, in user id order so concurrent
// writers update rows in one order.
func userEmails(events []queued) []db.UserSetEmailParams {
	last := make(map[uuid.UUID]string)
	for _, q := range events {
		if q.event.Email == "" || q.event.UserID == "" {
			continue
		}
		if id, err := uuid.Parse(q.event.UserID); err == nil {
			last[id] = q.event.Email
		}
	}
	out := make([]db.UserSetEmailParams, 0, len(last))
	for id, email := range last {
		out = append(out, db.UserSetEmailParams{ID: id, Email: email})
	}
	slices.SortFunc(out, func(a, b db.UserSetEmailParams) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
}

// deadLetter records a failed event, retrying while PostgreSQL is down; false
// when runCtx ended first.
func (w *Writer) deadLetter(ctx, runCtx context.Context, source, reason, eventID, payload, dedupKey string) bool {
	payload = strings.ToValidUTF8(strings.ReplaceAll(payload, "\x00", ""), "\uFFFD")
	reason = strings.ToValidUTF8(strings.ReplaceAll(reason, "\x00", ""), "\uFFFD")
	backoff := w.cfg.MinBackoff
	for {
		err := db.New(w.pool).FailedEventInsert(ctx, db.FailedEventInsertParams{
			Source: source, Reason: reason, EventID: textOrNull(eventID), Payload: payload, DedupKey: textOrNull(dedupKey),
		})
		if err == nil {
			w.metrics.FailedEvents.WithLabelValues(source).Inc()
			w.log.Warn("event sent to failed_events", "reason", reason, "event_id", eventID)
			return true
		}
		w.log.Warn("recording a failed event failed; retrying", "err", err)
		if runCtx.Err() != nil || ctx.Err() != nil {
			return false
		}
		w.sleep(runCtx, &backoff)
	}
}

func (w *Writer) sleep(ctx context.Context, backoff *time.Duration) {
	d := *backoff/2 + rand.N(*backoff/2+1)
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	*backoff = min(*backoff*2, w.cfg.MaxBackoff)
}

func textOrNull(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }
