// Package redistest gives tests a Redis server and names private to them.
//
// The server is TEST_REDIS_URL when set, else a testcontainers-go container
// when a Docker engine answers, else the test fails (ACTIVITY_REQUIRE_SERVICES=1)
// or is skipped.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"

	"github.com/activity-dev/activity/internal/pgtest"
)

var (
	once      sync.Once
	serverURL string
	serverErr error
)

// URL returns the URL of a Redis server for tests.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if u := os.Getenv("TEST_REDIS_URL"); u != "" {
			serverURL = u
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, err := tcredis.Run(ctx, "redis:7-alpine")
		if err != nil {
			serverErr = fmt.Errorf("TEST_REDIS_URL is not set and testcontainers could not start Redis: %w", err)
			return
		}
		serverURL, serverErr = c.ConnectionString(ctx)
	})
	if serverErr != nil {
		pgtest.Unavailable(t, serverErr.Error())
	}
	return serverURL
}

// Client returns a client on the test server, closed when t ends.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(URL(t))
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	c := redis.NewClient(opts)
	if err := c.Ping(context.Background()).Err(); err != nil {
		pgtest.Unavailable(t, fmt.Sprintf("redis does not answer: %v", err))
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Prefix returns a key prefix private to t; keys under it are deleted when t ends.
func Prefix(t testing.TB, c *redis.Client) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	p := "test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return p
}
