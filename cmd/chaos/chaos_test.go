package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestChaos_ShortRunLosesNothing runs the short chaos form: the roles as
// separate processes on a private PostgreSQL and Redis, each role SIGKILLed,
// Redis restarted and PostgreSQL stopped under load. Every event answered
// 202 must be in the log exactly once, no refused event there, and every
// rollup equal to its recomputation from the log.
func TestChaos_ShortRunLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short mode: the chaos run takes about a minute (make chaos runs it)")
	}
	var missing []string
	if postgresBin() == "" {
		missing = append(missing, "PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing = append(missing, "redis-server on PATH")
	}
	if _, err := exec.LookPath("go"); err != nil {
		missing = append(missing, "the go command (to build cmd/activity)")
	}
	if len(missing) > 0 {
		reason := "the chaos run starts private servers and needs " + strings.Join(missing, " and ")
		if os.Getenv("ACTIVITY_REQUIRE_SERVICES") == "1" {
			t.Fatal(reason)
		}
		t.Skip("skipping: " + reason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := &lockedBuffer{}
	start := time.Now()
	res, err := Run(ctx, Options{Short: true, Bin: filepath.Join(t.TempDir(), "activity")}, out)
	t.Logf("chaos run took %s:\n%s", time.Since(start).Round(time.Second), out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("chaos: lost %d, duplicated %d, refused but stored %d, rollup mismatches %v, caught up %v (%s)",
			res.Lost, res.Duplicated, res.RefusedStored, res.Mismatches, res.CaughtUp, res.CatchUpNote)
	}
	if res.Accepted < 1000 {
		t.Fatalf("only %d events were accepted: the run proves little", res.Accepted)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
