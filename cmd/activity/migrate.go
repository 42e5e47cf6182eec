package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/activity-dev/activity/migrations"
)

func migrate(ctx context.Context, cfg config) error {
	return migrations.Up(ctx, cfg.DatabaseURL)
}

// waitForDatabase waits up to timeout for PostgreSQL to accept a
// connection, so `serve` started before its database (or restarted during
// an outage) comes up by itself instead of exiting.
func waitForDatabase(ctx context.Context, url string, timeout time.Duration, log *slog.Logger) error {
	deadline := time.Now().Add(timeout)
	delay := 250 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(cctx, url)
		cancel()
		if err == nil {
			return conn.Close(ctx)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PostgreSQL did not answer within %s: %w", timeout, err)
		}
		log.Warn("waiting for PostgreSQL", "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}
