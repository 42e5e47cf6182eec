package main

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/activity-dev/activity/internal/pgtest"
)

func TestWaitForDatabase_ReturnsOnceItAnswersAndGivesUpAfterTheTimeout(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	if err := waitForDatabase(context.Background(), pgtest.NewURL(t), 10*time.Second, log); err != nil {
		t.Fatalf("a database that answers: %v", err)
	}
	dead := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable", pgtest.FreePort(t))
	start := time.Now()
	if err := waitForDatabase(context.Background(), dead, 500*time.Millisecond, log); err == nil {
		t.Fatal("a database that never answers: no error")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("gave up after %s", took)
	}
}
