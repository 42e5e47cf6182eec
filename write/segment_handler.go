package write

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activity-dev/activity/domain"
	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/problem"
)

// SegmentSource is the failed_events source of the Segment routes.
const SegmentSource = "segment"

// SegmentConfig configures the Segment-compatible ingest routes.
type SegmentConfig struct {
	// Limits are the event limits of the main ingest, applied to mapped events.
	Limits domain.Limits
	// MaxMessageBytes bounds one message (and so the body of /v1/track and
	// /v1/identify). Default 32768: Segment's "32 KB" as analytics-python
	// and analytics-node count it (32 KiB; analytics-go's 32000 fits), so a
	// message an SDK sends never costs its whole batch a 413.
	MaxMessageBytes int
	// MaxBatchBytes bounds the decoded body of /v1/batch and /v1/import.
	// Default 500000 (Segment's "500 KB").
	MaxBatchBytes int
	// MaxBatchMessages bounds the messages of one batch. Default 2500.
	MaxBatchMessages int
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// RateLimit is requests per second per key (0: default 1000; <0: off),
	// with bursts of RateBurst (default 2×RateLimit). The counters are the
	// main ingest's: one budget per key across both APIs.
	RateLimit, RateBurst int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c *SegmentConfig) setDefaults() {
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 32 << 10
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 500000
	}
	if c.MaxBatchMessages <= 0 {
		c.MaxBatchMessages = 2500
	}
	if c.RateLimit == 0 {
		c.RateLimit = 1000
	}
	if c.RateBurst <= 0 {
		c.RateBurst = 2 * c.RateLimit
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// SegmentHandler serves the Segment HTTP Tracking API routes: POST /v1/track,
// /v1/identify, /v1/page, /v1/screen, /v1/batch and /v1/import (a batch).
//
// The write key is the Basic-auth username (any password), else a Bearer
// token, else "writeKey" in the body; it must be an ingest (or admin) key. A
// body that is not JSON or is over the limits is 400/413; otherwise the
// answer is 200 {"success": true}: the valid messages are queued as one
// stream entry, and each invalid one (or, for a scoped key, one outside its
// communities) is recorded in failed_events with its reason. Dead letters and
// the queue entry are committed together: on a 503 nothing is recorded.
type SegmentHandler struct {
	cfg     SegmentConfig
	queue   *Queue
	keys    *auth.Store
	limiter *redis_rate.Limiter
	pool    *pgxpool.Pool
	log     *slog.Logger
	metrics *Metrics
}

// NewSegmentHandler returns the Segment handler. limiter may be nil (no rate
// limit); queue, keys and pool are required.
func NewSegmentHandler(cfg SegmentConfig, queue *Queue, keys *auth.Store, limiter *redis_rate.Limiter, pool *pgxpool.Pool, log *slog.Logger, metrics *Metrics) (*SegmentHandler, error) {
	if queue == nil || keys == nil || pool == nil {
		return nil, errors.New("segment handler: a queue, a key store and a PostgreSQL pool are required")
	}
	cfg.setDefaults()
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SegmentHandler{cfg: cfg, queue: queue, keys: keys, limiter: limiter, pool: pool, log: log.With("component", "segment"), metrics: metrics}, nil
}

// Track serves POST /v1/track.
func (h *SegmentHandler) Track() http.Handler { return h.route("segment_track", domain.SegmentTrack) }

// Identify serves POST /v1/identify.
func (h *SegmentHandler) Identify() http.Handler {
	return h.route("segment_identify", domain.SegmentIdentify)
}

// Page serves POST /v1/page: a page.viewed activity.
func (h *SegmentHandler) Page() http.Handler { return h.route("segment_page", domain.SegmentPage) }

// Screen serves POST /v1/screen: a screen.viewed activity.
func (h *SegmentHandler) Screen() http.Handler {
	return h.route("segment_screen", domain.SegmentScreen)
}

// Batch serves POST /v1/batch and /v1/import.
func (h *SegmentHandler) Batch() http.Handler { return h.route("segment_batch", "") }

func (h *SegmentHandler) route(name, typ string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allowCrossOrigin(w, r) {
			return // a preflight, answered
		}
		rec := &statusRecorder{ResponseWriter: w}
		if p := h.serve(rec, r, typ); p != nil {
			problem.Write(rec, p)
		}
		h.metrics.Requests.WithLabelValues(name, strconv.Itoa(rec.status)).Inc()
	})
}

// serve handles one request; typ is "" for a batch.
func (h *SegmentHandler) serve(w http.ResponseWriter, r *http.Request, typ string) *problem.Problem {
	batch := typ == ""
	secret, inHeader, p := segmentCredential(r)
	if p != nil {
		return p
	}
	var key auth.Key
	if inHeader {
		if key, p = h.authenticate(r, secret); p != nil {
			return p
		}
	}
	maxBody := h.cfg.MaxMessageBytes
	if batch {
		maxBody = h.cfg.MaxBatchBytes
	}
	// JSON, as application/json, or as text/plain: analytics.js sends its
	// JSON so, which makes a browser's cross-origin POST a "simple" request
	// (no preflight). Any other type, or none, is 415 as on /api/v1/events.
	if mediaType(r) == "" {
		return problem.New(http.StatusUnsupportedMediaType,
			"send the body as JSON with 'Content-Type: application/json' (or text/plain, as analytics.js does)")
	}
	body, p := readBody(r, int64(maxBody))
	if p != nil {
		return p
	}
	req, err := domain.ParseSegmentBody(body, batch, h.cfg.MaxBatchMessages, h.cfg.MaxMessageBytes)
	var bodyErr *domain.BodyError
	var sizeErr *domain.SizeError
	switch {
	case errors.As(err, &bodyErr):
		return problem.New(http.StatusBadRequest, bodyErr.Message)
	case errors.As(err, &sizeErr):
		return problem.New(http.StatusRequestEntityTooLarge, sizeErr.Message)
	case err != nil:
		return problem.New(http.StatusBadRequest, err.Error())
	}
	if !inHeader {
		if key, p = h.authenticate(r, req.WriteKey); p != nil {
			return p
		}
	}

	def := domain.Defaults{Now: h.cfg.Now(), IPAddress: ClientIP(r, h.cfg.TrustedProxies), UserAgent: r.UserAgent()}
	var events []domain.Event
	var dead []db.FailedEventInsertParams
	deadLetter := func(i int, reason, messageID string, payload []byte) {
		if batch && req.Invalid == "" {
			reason = fmt.Sprintf("message %d of the batch: %s", i, reason)
		}
		dead = append(dead, db.FailedEventInsertParams{
			Source: SegmentSource, Reason: reason, EventID: textOrNull(messageID), Payload: string(payload),
		})
	}
	if req.Invalid != "" {
		deadLetter(0, req.Invalid, "", req.Messages[0])
	} else {
		for i, m := range req.Messages {
			ev, messageID, errs := domain.MapSegmentMessage(m, typ, req.Context, h.cfg.Limits, def)
			if len(errs) == 0 && key.Scoped() {
				errs = segmentScopeErrors(key, ev)
			}
			if len(errs) > 0 {
				deadLetter(i, segmentReason(errs), messageID, m)
				continue
			}
			events = append(events, ev)
		}
	}
	if p := h.commit(r.Context(), events, dead); p != nil {
		return p
	}
	h.metrics.EventsAccepted.Add(float64(len(events)))
	h.metrics.EventsRejected.Add(float64(len(dead)))
	if len(dead) > 0 {
		h.metrics.FailedEvents.WithLabelValues(SegmentSource).Add(float64(len(dead)))
	}
	problem.JSON(w, http.StatusOK, segmentSuccess{Success: true})
	return nil
}

type segmentSuccess struct {
	Success bool `json:"success"`
}

// commit records the dead letters and queues the events as one stream entry,
// all or nothing: the dead letters' transaction commits only after the entry
// is queued. A failure is a 503 with nothing recorded, except when the commit
// itself fails after queueing; then the events stay queued and the client's
// retry stores them once (messageId and timestamp make them idempotent).
func (h *SegmentHandler) commit(ctx context.Context, events []domain.Event, dead []db.FailedEventInsertParams) *problem.Problem {
	unavailable := func(detail string, err error) *problem.Problem {
		h.log.Warn("segment request refused", "err", err)
		p := problem.New(http.StatusServiceUnavailable, detail)
		p.RetryAfter = 2 * time.Second
		return p
	}
	appendEvents := func() *problem.Problem {
		if len(events) == 0 {
			return nil
		}
		if _, err := h.queue.Append(ctx, events); err != nil {
			if errors.Is(err, ErrBacklogFull) {
				return unavailable("the ingest backlog is over its limit; nothing of this request was accepted, retry later", err)
			}
			return unavailable("events cannot be queued right now; nothing of this request was accepted, retry later", err)
		}
		return nil
	}
	if len(dead) == 0 {
		return appendEvents()
	}
	const dbDown = "invalid messages cannot be recorded right now; nothing of this request was accepted, retry later"
	tx, err := h.pool.Begin(ctx)
	if err != nil {
		return unavailable(dbDown, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	q := db.New(tx)
	for _, d := range dead {
		d.Reason = cleanText(d.Reason)
		d.Payload = cleanText(d.Payload)
		d.EventID = textOrNull(cleanText(d.EventID.String)) // the client's messageId, as sent
		if err := q.FailedEventInsert(ctx, d); err != nil {
			return unavailable(dbDown, err)
		}
	}
	if p := appendEvents(); p != nil {
		return p
	}
	if err := tx.Commit(ctx); err != nil {
		h.log.Error("dead letters not recorded after their request's events were queued; the client is told to retry", "err", err, "events", len(events), "dead_letters", len(dead))
		return unavailable(dbDown, err)
	}
	return nil
}

// cleanText makes s storable as PostgreSQL text.
func cleanText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

// authenticate checks the write key and the rate limit.
func (h *SegmentHandler) authenticate(r *http.Request, secret string) (auth.Key, *problem.Problem) {
	key, err := h.keys.Authenticate(r.Context(), secret)
	if errors.Is(err, auth.ErrUnknownKey) {
		p := problem.New(http.StatusUnauthorized, "send a valid ingest key as the write key: the Basic-auth username (empty password) or \"writeKey\" in the body")
		return key, p
	}
	if p := auth.CheckRole(key, err, auth.RoleIngest); p != nil {
		return key, p
	}
	return key, h.rateLimit(r, key)
}

func (h *SegmentHandler) rateLimit(r *http.Request, key auth.Key) *problem.Problem {
	return checkRate(r.Context(), h.limiter, h.cfg.RateLimit, h.cfg.RateBurst, key)
}

// segmentCredential returns the write key of the Authorization header: the
// Basic-auth username (a value without a colon is taken whole, as Segment
// still accepts), or a Bearer token. inHeader is false when the header holds
// no key; then the body's writeKey is used.
func segmentCredential(r *http.Request) (secret string, inHeader bool, p *problem.Problem) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return "", false, nil
	}
	scheme, rest, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "basic"):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return "", false, problem.New(http.StatusUnauthorized, "the Basic-auth credentials are not valid base64; send the write key as the username with an empty password")
		}
		user, _, _ := strings.Cut(string(raw), ":")
		return user, user != "", nil
	case strings.EqualFold(scheme, "bearer"):
		tok := strings.TrimSpace(rest)
		return tok, tok != "", nil
	}
	return "", false, problem.New(http.StatusUnauthorized, "send the write key as the Basic-auth username (empty password) or as \"writeKey\" in the body")
}

// segmentScopeErrors rejects an event of a scoped key that names no community
// of its scope.
func segmentScopeErrors(key auth.Key, ev domain.Event) []domain.FieldError {
	if ev.CommunityID == "" {
		return []domain.FieldError{{Field: "community_id", Message: "is required (properties.community_id or context.groupId): " + key.ScopeDescription()}}
	}
	id, err := uuid.Parse(ev.CommunityID)
	if err != nil || !key.Allows(id) {
		return []domain.FieldError{{Field: "community_id", Message: "is outside this key's scope: " + key.ScopeDescription()}}
	}
	return nil
}

// segmentReason renders a message's errors for failed_events.
func segmentReason(errs []domain.FieldError) string {
	parts := make([]string, len(errs))
	for i, fe := range errs {
		if fe.Field == "" {
			parts[i] = "the message " + fe.Message
		} else {
			parts[i] = fe.Field + " " + fe.Message
		}
	}
	return strings.Join(parts, "; ")
}

// allowCrossOrigin lets the browser SDKs (analytics.js, RudderStack's
// JavaScript SDK) send from any site's pages and read the answer, as
// Segment's API does: a write key is public in those pages anyway, and these
// routes only take events in. It answers a preflight (OPTIONS, no key
// needed) itself and reports that it did.
func allowCrossOrigin(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	if origin := r.Header.Get("Origin"); origin != "" {
		// The origin itself rather than "*", so that a request sent with
		// credentials (cookies, which these routes ignore) is answered too.
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	}
	if r.Method != http.MethodOptions {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	allow := r.Header.Get("Access-Control-Request-Headers") // e.g. RudderStack's AnonymousId
	if allow == "" {
		allow = "Authorization, Content-Type, Content-Encoding"
	}
	h.Set("Access-Control-Allow-Headers", allow)
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
	return true
}
