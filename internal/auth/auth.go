// Package auth checks API keys: roles, community scopes, and the key admin
// endpoints. Keys are random 192-bit secrets, stored only as SHA-256 hashes.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/problem"
)

// Role is what a key may do.
type Role string

// The roles of the contract.
const (
	RoleIngest Role = "ingest"
	RoleRead   Role = "read"
	RoleAdmin  Role = "admin"
)

// ParseRole checks a role name.
func ParseRole(s string) (Role, bool) {
	switch r := Role(s); r {
	case RoleIngest, RoleRead, RoleAdmin:
		return r, true
	}
	return "", false
}

// Key is an authenticated API key.
type Key struct {
	ID          uuid.UUID
	Name        string
	Role        Role
	Communities []uuid.UUID // empty: unscoped
}

// Scoped reports whether the key is limited to some communities.
func (k Key) Scoped() bool { return len(k.Communities) > 0 }

// Allows reports whether the key's scope includes community.
func (k Key) Allows(community uuid.UUID) bool {
	return !k.Scoped() || slices.Contains(k.Communities, community)
}

// CommunityStrings returns the scope as canonical strings.
func (k Key) CommunityStrings() []string {
	out := make([]string, len(k.Communities))
	for i, c := range k.Communities {
		out[i] = c.String()
	}
	return out
}

// ScopeDescription names the scope for error messages.
func (k Key) ScopeDescription() string {
	return "this key is limited to communities " + strings.Join(k.CommunityStrings(), ", ")
}

// Errors of Authenticate.
var (
	ErrUnknownKey = errors.New("unknown or revoked API key")
)

// Config configures a Store.
type Config struct {
	// CacheTTL is how long a looked-up key is trusted before it is read again.
	// A key revoked on another instance stops working within this time.
	// Default 500ms.
	CacheTTL time.Duration
	Now      func() time.Time // default time.Now
}

// Store authenticates and manages keys.
type Store struct {
	q   *db.Queries
	cfg Config

	mu    sync.Mutex
	cache map[[32]byte]cached
}

type cached struct {
	key     Key
	err     error
	expires time.Time
}

// NewStore returns a Store over the database.
func NewStore(dbtx db.DBTX, cfg Config) *Store {
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 500 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{q: db.New(dbtx), cfg: cfg, cache: make(map[[32]byte]cached)}
}

// Hash is the stored form of a secret.
func Hash(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// NewSecret returns a fresh random key.
func NewSecret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return "act_" + base64.RawURLEncoding.EncodeToString(b)
}

// Authenticate returns the live key for secret, ErrUnknownKey, or an error
// wrapping problem.ErrUnavailable when the database does not answer.
func (s *Store) Authenticate(ctx context.Context, secret string) (Key, error) {
	if secret == "" {
		return Key{}, ErrUnknownKey
	}
	h := Hash(secret)
	now := s.cfg.Now()
	s.mu.Lock()
	c, ok := s.cache[h]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.key, c.err
	}
	row, err := s.q.APIKeyGetByHash(ctx, h[:])
	var key Key
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		err = ErrUnknownKey
	case err != nil:
		// PostgreSQL does not answer. A key seen before keeps working: it
		// cannot have been revoked meanwhile, since revoking needs the
		// database too. So ingest stays up through a database outage.
		if ok {
			return c.key, c.err
		}
		return Key{}, fmt.Errorf("look up key: %w: %w", problem.ErrUnavailable, err)
	case subtle.ConstantTimeCompare(row.KeyHash, h[:]) != 1 || row.RevokedAt.Valid:
		err = ErrUnknownKey
	default:
		key = Key{ID: row.ID, Name: row.Name, Role: Role(row.Role), Communities: row.Communities}
	}
	s.mu.Lock()
	if len(s.cache) > 10000 {
		clear(s.cache)
	}
	s.cache[h] = cached{key: key, err: err, expires: now.Add(s.cfg.CacheTTL)}
	s.mu.Unlock()
	return key, err
}

// Create stores a new key and returns it with its secret, shown only now.
func (s *Store) Create(ctx context.Context, name string, role Role, communities []uuid.UUID) (Key, string, error) {
	secret := NewSecret()
	h := Hash(secret)
	if communities == nil {
		communities = []uuid.UUID{}
	}
	k := Key{ID: uuid.New(), Name: name, Role: role, Communities: communities}
	err := s.q.APIKeyInsert(ctx, db.APIKeyInsertParams{ID: k.ID, Name: name, Role: string(role), Communities: communities, KeyHash: h[:]})
	if err != nil {
		return Key{}, "", fmt.Errorf("store key: %w", err)
	}
	return k, secret, nil
}

// EnsureAdmin makes sure secret exists as an unrevoked, unscoped admin key.
func (s *Store) EnsureAdmin(ctx context.Context, secret string) error {
	h := Hash(secret)
	err := s.q.APIKeyEnsure(ctx, db.APIKeyEnsureParams{ID: uuid.New(), Name: "ACTIVITY_ADMIN_KEY", Role: string(RoleAdmin), Communities: []uuid.UUID{}, KeyHash: h[:]})
	if err != nil {
		return fmt.Errorf("ensure admin key: %w", err)
	}
	s.forget(h)
	return nil
}

// Revoke revokes the key with id; problem.ErrNotFound when there is none.
func (s *Store) Revoke(ctx context.Context, id uuid.UUID) error {
	n, err := s.q.APIKeyRevoke(ctx, id)
	if err != nil {
		return fmt.Errorf("revoke key: %w", err)
	}
	if n == 0 {
		exists, err := s.q.APIKeyExists(ctx, id)
		if err != nil {
			return fmt.Errorf("revoke key: %w", err)
		}
		if !exists {
			return fmt.Errorf("API key %s: %w", id, problem.ErrNotFound)
		}
	}
	s.mu.Lock()
	clear(s.cache)
	s.mu.Unlock()
	return nil
}

// List returns every key, without secrets.
func (s *Store) List(ctx context.Context) ([]db.APIKeyListRow, error) {
	return s.q.APIKeyList(ctx)
}

func (s *Store) forget(h [32]byte) {
	s.mu.Lock()
	delete(s.cache, h)
	s.mu.Unlock()
}

// IsUnavailable reports whether err means PostgreSQL did not answer.
func IsUnavailable(err error) bool {
	if errors.Is(err, problem.ErrUnavailable) {
		return true
	}
	var pgErr *pgconn.PgError
	return err != nil && !errors.As(err, &pgErr)
}

type ctxKey struct{}

// WithKey returns ctx carrying k.
func WithKey(ctx context.Context, k Key) context.Context { return context.WithValue(ctx, ctxKey{}, k) }

// FromContext returns the key Require put in ctx.
func FromContext(ctx context.Context) (Key, bool) {
	k, ok := ctx.Value(ctxKey{}).(Key)
	return k, ok
}

// BearerToken returns the key of an "Authorization: Bearer <key>" header.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// Require returns middleware admitting requests whose bearer key has one of
// roles (admin is always admitted): 401 without a live key, 403 otherwise.
func (s *Store) Require(roles ...Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k, err := s.Authenticate(r.Context(), BearerToken(r))
			if p := CheckRole(k, err, roles...); p != nil {
				problem.Write(w, p)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithKey(r.Context(), k)))
		})
	}
}

// CheckRole turns the result of Authenticate into the problem to answer, or
// nil when k may act in one of roles.
func CheckRole(k Key, err error, roles ...Role) *problem.Problem {
	switch {
	case errors.Is(err, ErrUnknownKey):
		p := problem.New(http.StatusUnauthorized, "send a valid API key as 'Authorization: Bearer <key>'")
		return p
	case err != nil:
		p := problem.New(http.StatusServiceUnavailable, "API keys cannot be checked right now; retry later")
		p.RetryAfter = 2 * time.Second
		return p
	case k.Role == RoleAdmin || slices.Contains(roles, k.Role):
		return nil
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return problem.New(http.StatusForbidden, fmt.Sprintf("this key has role %q; this endpoint needs %s", k.Role, strings.Join(names, " or ")))
}
