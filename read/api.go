package read

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/problem"
)

// Config configures the read API. The zero value is usable.
type Config struct {
	// Now is the clock that decides "today" for the default date range.
	// Default time.Now.
	Now func() time.Time
	// MaxAge is the max-age of the Cache-Control header of answers: how long
	// a BI tool may reuse one without asking again. Default 5s.
	MaxAge time.Duration
	// CursorSecret signs feed cursors. Default: a random secret created once
	// and kept in the settings table, so every instance accepts the cursors
	// of every other.
	CursorSecret []byte
}

// cursorSecretSetting names the settings row holding the default cursor secret.
const cursorSecretSetting = "read.cursor_secret"

// API serves the read endpoints. Create it with New and mount it with Register.
type API struct {
	cfg  Config
	pool *pgxpool.Pool
	log  *slog.Logger

	mu     sync.Mutex
	secret []byte
}

// New returns the read API over pool. It does not touch the database: call
// LoadSecret at start (the feed loads it on first use otherwise).
func New(cfg Config, pool *pgxpool.Pool, log *slog.Logger) (*API, error) {
	if pool == nil {
		return nil, errors.New("read: a database pool is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxAge < 0 {
		return nil, fmt.Errorf("read: MaxAge must not be negative, got %s", cfg.MaxAge)
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 5 * time.Second
	}
	if cfg.CursorSecret != nil && len(cfg.CursorSecret) < 16 {
		return nil, errors.New("read: CursorSecret must hold at least 16 bytes")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{cfg: cfg, pool: pool, log: log, secret: cfg.CursorSecret}, nil
}

// Register mounts the read endpoints on r, which must already authenticate
// keys with role read (or admin) and put them in the request's context.
func (a *API) Register(r *mux.Router) {
	methods := []string{http.MethodGet, http.MethodHead}
	r.Handle("/api/v1/analytics/overview", a.handler(a.overview)).Methods(methods...)
	r.Handle("/api/v1/analytics/community/{id}", a.handler(a.community)).Methods(methods...)
	r.Handle("/api/v1/analytics/user/{id}", a.handler(a.user)).Methods(methods...)
	r.Handle("/api/v1/analytics/events", a.handler(a.events)).Methods(methods...)
	r.Handle("/api/v1/activities", a.handler(a.activities)).Methods(methods...)
}

// LoadSecret makes sure the cursor secret is known, creating it in the
// settings table the first time any instance starts.
func (a *API) LoadSecret(ctx context.Context) error {
	_, err := a.cursorSecret(ctx)
	return err
}

func (a *API) cursorSecret(ctx context.Context) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.secret != nil {
		return a.secret, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("cursor secret: %w", err)
	}
	v, err := db.New(a.pool).SettingEnsure(ctx, db.SettingEnsureParams{Name: cursorSecretSetting, Value: hex.EncodeToString(b)})
	if err != nil {
		return nil, fmt.Errorf("load cursor secret: %w: %w", problem.ErrUnavailable, err)
	}
	s, err := hex.DecodeString(v)
	if err != nil || len(s) < 16 {
		return nil, fmt.Errorf("setting %s does not hold a hex secret of at least 16 bytes", cursorSecretSetting)
	}
	a.secret = s
	return s, nil
}

// handlerFunc answers a request with a value to encode, or an error (a
// *problem.Problem for the caller's mistakes).
type handlerFunc func(r *http.Request, k auth.Key) (any, error)

func (a *API) handler(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := auth.FromContext(r.Context())
		if !ok {
			problem.Write(w, problem.New(http.StatusUnauthorized, "send a valid API key as 'Authorization: Bearer <key>'"))
			return
		}
		v, err := h(r, k)
		if err != nil {
			problem.WriteError(w, r, a.log, err)
			return
		}
		a.respond(w, r, v)
	})
}

// respond writes v as JSON with a strong ETag (a hash of the body), answering
// 304 when the client already holds it.
func (a *API) respond(w http.ResponseWriter, r *http.Request, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		problem.WriteError(w, r, a.log, fmt.Errorf("encode answer: %w", err))
		return
	}
	sum := sha256.Sum256(buf.Bytes())
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "private, max-age="+strconv.Itoa(int(a.cfg.MaxAge/time.Second)))
	h.Set("Vary", "Authorization")
	if etagMatches(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110 13.1.2).
func etagMatches(headers []string, etag string) bool {
	for _, h := range headers {
		for _, t := range strings.Split(h, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == etag {
				return true
			}
		}
	}
	return false
}

// readTx is a read transaction's queries and what the rollups it sees hold.
type readTx struct {
	*db.Queries
	// zones are the report time zones with local-day rows (dailyPlan).
	zones []string
}

// inTx runs fn in one read-only REPEATABLE READ transaction, so every figure
// of an answer comes from the same snapshot.
func (a *API) inTx(ctx context.Context, fn func(q readTx) error) error {
	tx, err := a.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("begin read: %w: %w", problem.ErrUnavailable, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	q := db.New(tx)
	settings, err := q.ReadPlanCustom(ctx)
	if err != nil {
		return fmt.Errorf("prepare read: %w", err)
	}
	if err := fn(readTx{q, settings.TimeZones}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// scope is the part of the data a request may see.
type scope struct {
	all         bool
	communities []uuid.UUID
}

// keyScope is everything for an unscoped key, else the key's communities
// (never the nil UUID: events without a community are invisible to scoped
// keys).
func keyScope(k auth.Key) scope {
	if !k.Scoped() {
		return scope{all: true, communities: []uuid.UUID{}}
	}
	s := scope{communities: make([]uuid.UUID, 0, len(k.Communities))}
	for _, c := range k.Communities {
		if c != uuid.Nil {
			s.communities = append(s.communities, c)
		}
	}
	return s
}

// only narrows a scope to one community the key is allowed to see.
func only(c uuid.UUID) scope { return scope{communities: []uuid.UUID{c}} }

// forbidden is the 403 for a community outside the key's scope.
func forbidden(k auth.Key, c uuid.UUID) *problem.Problem {
	return problem.New(http.StatusForbidden, fmt.Sprintf("community %s is outside this key's scope (%s)", c, k.ScopeDescription()))
}
