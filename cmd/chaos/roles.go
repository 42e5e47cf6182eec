package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// role is one `activity serve --roles ...` process, kept running by its
// supervisor: restarted whenever it exits (after a kill, or because it could
// not start while PostgreSQL was down).
type role struct {
	name  string
	roles string
	bin   string
	env   []string
	log   io.Writer
	say   func(format string, args ...any)

	mu       sync.Mutex
	cmd      *exec.Cmd
	downFor  time.Duration // how long to stay dead after a planned kill
	kills    int
	restarts int
	done     chan struct{}
}

// supervise keeps the role running until ctx ends, then stops it with
// SIGTERM (SIGKILL after 10 s).
func (r *role) supervise(ctx context.Context) {
	defer close(r.done)
	for ctx.Err() == nil {
		c := exec.Command(r.bin, "serve", "--roles", r.roles, "--no-migrate")
		c.Env = r.env
		c.Stdout, c.Stderr = r.log, r.log
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			r.say("%s: start failed: %v", r.name, err)
			sleepCtx(ctx, time.Second)
			continue
		}
		r.mu.Lock()
		r.cmd = c
		r.mu.Unlock()
		exited := make(chan error, 1)
		go func() { exited <- c.Wait() }()
		select {
		case err := <-exited:
			r.mu.Lock()
			r.cmd = nil
			delay := r.downFor
			r.downFor = 0
			planned := delay > 0
			r.mu.Unlock()
			if !planned {
				r.say("%s exited by itself (%v); restarting", r.name, err)
				delay = 500 * time.Millisecond
			}
			sleepCtx(ctx, delay)
			r.mu.Lock()
			r.restarts++
			r.mu.Unlock()
		case <-ctx.Done():
			_ = c.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = c.Process.Kill()
				<-exited
			}
			return
		}
	}
}

// kill SIGKILLs the running process; the supervisor starts it again after
// downFor.
func (r *role) kill(downFor time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil || r.cmd.Process == nil {
		return false
	}
	r.downFor = max(downFor, time.Millisecond)
	r.kills++
	return r.cmd.Process.Signal(syscall.SIGKILL) == nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// serviceEnv is the environment of every role process.
func serviceEnv(pgURL, redisURL, adminKey, httpAddr, metricsAddr string) []string {
	env := os.Environ()
	return append(env,
		"DATABASE_URL="+pgURL,
		"REDIS_URL="+redisURL,
		"ACTIVITY_ADMIN_KEY="+adminKey,
		"ACTIVITY_HTTP_ADDR="+httpAddr,
		"ACTIVITY_METRICS_ADDR="+metricsAddr,
		"ACTIVITY_RATE_LIMIT=-1",
		"ACTIVITY_PROJECTOR_TICK=250ms",
		// Shorter claim timings so entries a killed writer left pending are
		// taken over quickly (ignored by binaries that do not read them).
		"ACTIVITY_WRITER_CLAIM_IDLE=5s",
		"ACTIVITY_WRITER_CLAIM_EVERY=1s",
	)
}

func addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
