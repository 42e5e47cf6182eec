package write

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/google/uuid"

	"github.com/activity-dev/activity/domain"
	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/problem"
)

// IngestConfig configures the ingest API.
type IngestConfig struct {
	Limits domain.Limits
	// MaxBodyBytes bounds the decoded body. Default 1 MiB.
	MaxBodyBytes int64
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// RateLimit is requests per second per key (0: default 1000; <0: off),
	// with bursts of RateBurst (default 2×RateLimit). It holds across API
	// instances: the counters live in Redis (GCRA).
	RateLimit, RateBurst int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c *IngestConfig) setDefaults() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
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

// IngestHandler serves POST /api/v1/events.
type IngestHandler struct {
	cfg     IngestConfig
	queue   *Queue
	keys    *auth.Store
	limiter *redis_rate.Limiter
	log     *slog.Logger
	metrics *Metrics
}

// NewIngestHandler returns the ingest handler. limiter may be nil (no rate limit).
func NewIngestHandler(cfg IngestConfig, queue *Queue, keys *auth.Store, limiter *redis_rate.Limiter, log *slog.Logger, metrics *Metrics) *IngestHandler {
	cfg.setDefaults()
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &IngestHandler{cfg: cfg, queue: queue, keys: keys, limiter: limiter, log: log, metrics: metrics}
}

type ingestResponse struct {
	Accepted int                `json:"accepted"`
	Rejected []domain.Rejection `json:"rejected"`
}

func (h *IngestHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	h.serve(rec, r)
	h.metrics.Requests.WithLabelValues("events", strconv.Itoa(rec.status)).Inc()
}

func (h *IngestHandler) serve(w http.ResponseWriter, r *http.Request) {
	key, err := h.keys.Authenticate(r.Context(), auth.BearerToken(r))
	if p := auth.CheckRole(key, err, auth.RoleIngest); p != nil {
		problem.Write(w, p)
		return
	}
	if p := h.rateLimit(r, key); p != nil {
		problem.Write(w, p)
		return
	}
	body, p := ReadJSONBody(r, h.cfg.MaxBodyBytes)
	if p != nil {
		problem.Write(w, p)
		return
	}
	now := h.cfg.Now()
	def := domain.Defaults{Now: now, IPAddress: ClientIP(r, h.cfg.TrustedProxies), UserAgent: r.UserAgent()}
	accepted, rejected, err := domain.DecodeRequest(body, h.cfg.Limits, def)
	var bodyErr *domain.BodyError
	if errors.As(err, &bodyErr) {
		problem.Write(w, problem.New(http.StatusBadRequest, bodyErr.Message))
		return
	}
	if key.Scoped() {
		accepted, rejected = applyIngestScope(key, accepted, rejected)
	}
	h.metrics.EventsRejected.Add(float64(len(rejected)))
	if len(accepted) == 0 {
		problem.Write(w, noValidEvents(rejected, isBatch(body)))
		return
	}
	events := make([]domain.Event, len(accepted))
	for i, a := range accepted {
		events[i] = a.Event
	}
	if _, err := h.queue.Append(r.Context(), events); err != nil {
		p := problem.New(http.StatusServiceUnavailable, "events cannot be queued right now; nothing of this request was accepted, retry later")
		if errors.Is(err, ErrBacklogFull) {
			p.Detail = "the ingest backlog is over its limit; nothing of this request was accepted, retry later"
		}
		p.RetryAfter = 2 * time.Second
		h.log.Warn("ingest refused", "err", err)
		problem.Write(w, p)
		return
	}
	h.metrics.EventsAccepted.Add(float64(len(accepted)))
	if rejected == nil {
		rejected = []domain.Rejection{}
	}
	problem.JSON(w, http.StatusAccepted, ingestResponse{Accepted: len(accepted), Rejected: rejected})
}

func (h *IngestHandler) rateLimit(r *http.Request, key auth.Key) *problem.Problem {
	return checkRate(r.Context(), h.limiter, h.cfg.RateLimit, h.cfg.RateBurst, key)
}

// checkRate counts one request of key against its limit of rate requests
// per second (bursts of burst), shared by every instance through Redis
// (GCRA): nil when allowed, else the 429 to answer (or 503 when Redis does
// not answer). A nil limiter or a negative rate means no limit.
func checkRate(ctx context.Context, limiter *redis_rate.Limiter, rate, burst int, key auth.Key) *problem.Problem {
	if limiter == nil || rate < 0 {
		return nil
	}
	res, err := limiter.Allow(ctx, "activity:ratelimit:"+key.ID.String(), redis_rate.Limit{Rate: rate, Burst: burst, Period: time.Second})
	if err != nil {
		p := problem.New(http.StatusServiceUnavailable, "the ingest queue is unreachable; retry later")
		p.RetryAfter = 2 * time.Second
		return p
	}
	if res.Allowed > 0 {
		return nil
	}
	p := problem.New(http.StatusTooManyRequests, fmt.Sprintf("this key may send %d requests per second; retry later", rate))
	p.RetryAfter = max(res.RetryAfter, time.Second)
	return p
}

// applyIngestScope rejects the events of a scoped ingest key that name no
// community of its scope.
func applyIngestScope(key auth.Key, accepted []domain.Accepted, rejected []domain.Rejection) ([]domain.Accepted, []domain.Rejection) {
	kept := accepted[:0]
	for _, a := range accepted {
		id, err := uuid.Parse(a.Event.CommunityID)
		if err == nil && key.Allows(id) {
			kept = append(kept, a)
			continue
		}
		msg := "is outside this key's scope: " + key.ScopeDescription()
		if a.Event.CommunityID == "" {
			msg = "is required: " + key.ScopeDescription()
		}
		rejected = append(rejected, domain.Rejection{Index: a.Index, EventID: a.SentID,
			Errors: []domain.FieldError{{Field: "community_id", Message: msg}}})
	}
	sortRejections(rejected)
	return kept, rejected
}

func sortRejections(r []domain.Rejection) {
	slices.SortStableFunc(r, func(a, b domain.Rejection) int { return a.Index - b.Index })
}

// noValidEvents is the 400 of a request none of whose events is valid.
func noValidEvents(rejected []domain.Rejection, batch bool) *problem.Problem {
	p := problem.New(http.StatusBadRequest, "no event in the request is valid; see errors")
	if !batch {
		p.Detail = "the event is invalid; see errors"
	}
	for _, rj := range rejected {
		for _, fe := range rj.Errors {
			item := problem.Item{Field: fe.Field, Message: fe.Message}
			if batch {
				idx := rj.Index
				item.Index = &idx
			}
			p.Errors = append(p.Errors, item)
		}
	}
	return p
}

// isBatch reports whether a valid JSON body is a {"events": [...]} batch.
func isBatch(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		if t == "events" {
			return true
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

// ReadJSONBody checks Content-Type (JSON, else 415) and Content-Encoding
// (gzip or identity, else 415) and reads the decoded body up to max bytes
// (413 beyond).
func ReadJSONBody(r *http.Request, max int64) ([]byte, *problem.Problem) {
	if mediaType(r) != "application/json" {
		return nil, problem.New(http.StatusUnsupportedMediaType, "send the body as JSON with 'Content-Type: application/json'")
	}
	return readBody(r, max)
}

// mediaType is the request's JSON media type (application/json or
// application/*+json), text/plain, or "" for any other or none.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err != nil:
		return ""
	case mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
		return "application/json"
	case mt == "text/plain":
		return mt
	}
	return ""
}

// readBody reads the body decoded by its Content-Encoding (gzip or
// identity, else 415) up to max bytes (413 beyond).
func readBody(r *http.Request, max int64) ([]byte, *problem.Problem) {
	var rd io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(io.LimitReader(r.Body, max+1))
		if err != nil {
			return nil, problem.New(http.StatusBadRequest, "the body is not valid gzip")
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, problem.New(http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q is not supported; use gzip or identity", enc))
	}
	body, err := io.ReadAll(io.LimitReader(rd, max+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, problem.New(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes", max))
		}
		return nil, problem.New(http.StatusBadRequest, "the body could not be read: "+err.Error())
	}
	if int64(len(body)) > max {
		return nil, problem.New(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes once decoded; send at most %d", max, max))
	}
	return body, nil
}

// ClientIP is the caller's address: the peer's, or, when the peer is a
// trusted proxy, the nearest untrusted address of X-Forwarded-For.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	peer = peer.Unmap()
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}
