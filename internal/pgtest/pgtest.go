// Package pgtest gives each test its own migrated PostgreSQL database.
//
// The server is TEST_DATABASE_URL when set, else a testcontainers-go
// container when a Docker engine answers. Without either a test fails when
// ACTIVITY_REQUIRE_SERVICES=1 (CI sets it) and is skipped otherwise.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"

	"github.com/activity-dev/activity/internal/pguuid"
	"github.com/activity-dev/activity/migrations"
)

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error

	templateOnce sync.Once
	templateName string
	templateErr  error
)

// Unavailable skips or fails t (per ACTIVITY_REQUIRE_SERVICES) with reason.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("ACTIVITY_REQUIRE_SERVICES") == "1" {
		t.Fatalf("required service unavailable: %s", reason)
	}
	t.Skipf("skipping: %s (set TEST_DATABASE_URL/TEST_REDIS_URL, or run a Docker engine)", reason)
}

// ServerURL returns the URL of a PostgreSQL server for tests.
func ServerURL(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() {
		if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
			serverURL = u
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, err := tcpostgres.Run(ctx, "postgres:15-alpine",
			tcpostgres.WithDatabase("postgres"), tcpostgres.WithUsername("postgres"), tcpostgres.WithPassword("postgres"),
			tcpostgres.BasicWaitStrategies())
		if err != nil {
			serverErr = fmt.Errorf("TEST_DATABASE_URL is not set and testcontainers could not start PostgreSQL: %w", err)
			return
		}
		serverURL, serverErr = c.ConnectionString(ctx, "sslmode=disable")
	})
	if serverErr != nil {
		Unavailable(t, serverErr.Error())
	}
	return serverURL
}

// NewURL creates a fresh, migrated database for t, dropped when t ends, and
// returns its URL.
func NewURL(t testing.TB) string {
	t.Helper()
	base := ServerURL(t)
	ctx := context.Background()
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(ctx, base) })
	if templateErr != nil {
		t.Fatalf("prepare template database: %v", templateErr)
	}
	name := "activity_test_" + randomHex(8)
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		Unavailable(t, fmt.Sprintf("connect to PostgreSQL: %v", err))
	}
	defer admin.Close(ctx)
	if err := createFromTemplate(ctx, admin, name, templateName); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return WithDatabase(base, name)
}

// NewPool creates a fresh, migrated database for t and returns a pool on it.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pguuid.NewPool(context.Background(), NewURL(t))
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// WithDatabase returns base with its database name replaced.
func WithDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" {
		return base + " dbname=" + name
	}
	u.Path = "/" + name
	return u.String()
}

// ensureTemplate migrates a template database named for the migrations'
// content, once per server, under an advisory lock so parallel test
// processes share it.
func ensureTemplate(ctx context.Context, base string) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	if err != nil {
		return "", err
	}
	name := "activity_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12]

	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(74657374)"); err != nil {
		return "", err
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock(74657374)") //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_build"
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{building}.Sanitize()+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{building}.Sanitize()); err != nil {
		return "", err
	}
	if err := migrations.Up(ctx, WithDatabase(base, building)); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{building}.Sanitize()+" RENAME TO "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return name, nil
}

func createFromTemplate(ctx context.Context, conn *pgx.Conn, name, template string) error {
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	var err error
	// Two CREATE DATABASE from one template at the same moment can fail with
	// "source database is being accessed by other users": retry briefly.
	for attempt := 0; attempt < 50; attempt++ {
		if _, err = conn.Exec(ctx, sql); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
