package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// postgresBin returns the directory of the newest PostgreSQL server binaries,
// or "" when there are none.
func postgresBin() string {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		return ""
	}
	return filepath.Dir(bins[len(bins)-1])
}

// freePort returns a TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// privatePG is a PostgreSQL server of the chaos run's own: initdb in a
// temporary directory, the postmaster run directly as a child (as the
// postgres user when we are root), stopped with SIGQUIT (immediate shutdown:
// connections are cut, as in a crash) and started again on the same data.
type privatePG struct {
	bin, dir string
	port     int
	cred     *syscall.Credential
	log      io.Writer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func startPG(ctx context.Context, dir string, log io.Writer) (*privatePG, error) {
	bin := postgresBin()
	if bin == "" {
		return nil, errors.New("no PostgreSQL server binaries under /usr/lib/postgresql")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &privatePG{bin: bin, dir: filepath.Join(dir, "pg"), port: port, log: log}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, err
	}
	if os.Getuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// The parent must be traversable by postgres.
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chown(p.dir, uid, gid); err != nil {
			return nil, err
		}
	}
	initdb := p.command(filepath.Join(bin, "initdb"), "-D", filepath.Join(p.dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := p.Start(ctx); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, p.url("postgres"))
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE activity"); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *privatePG) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// URL is the URL of the database the service uses.
func (p *privatePG) URL() string { return p.url("activity") }

func (p *privatePG) command(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	c.Dir = p.dir
	return c
}

// Start runs the postmaster and waits until it accepts connections.
func (p *privatePG) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.command(filepath.Join(p.bin, "postgres"), "-D", filepath.Join(p.dir, "data"),
		"-p", strconv.Itoa(p.port), "-k", p.dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "max_connections=200", "-c", "shared_buffers=128MB")
	c.Stdout, c.Stderr = p.log, p.log
	if err := c.Start(); err != nil {
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	p.cmd, p.done = c, make(chan struct{})
	done := p.done
	go func() { _ = c.Wait(); close(done) }()
	return waitUntil(ctx, 60*time.Second, "PostgreSQL to accept connections", func() bool {
		select {
		case <-done:
			return false
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		conn, err := pgx.Connect(cctx, p.url("postgres"))
		if err != nil {
			return false
		}
		_ = conn.Close(cctx)
		return true
	})
}

// Stop shuts the server down at once (SIGQUIT: immediate shutdown) and waits
// for it to exit.
func (p *privatePG) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	p.cmd = nil
}

// privateRedis is a redis-server of the run's own with an append-only file
// fsynced on every write, so a SIGKILL loses nothing it acknowledged.
type privateRedis struct {
	dir  string
	port int
	log  io.Writer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedis(ctx context.Context, dir string, log io.Writer) (*privateRedis, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New("redis-server is not on PATH")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &privateRedis{dir: filepath.Join(dir, "redis"), port: port, log: log}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return nil, err
	}
	return r, r.Start(ctx)
}

// URL is the Redis URL the service uses.
func (r *privateRedis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// Start runs redis-server on the AOF directory and waits until it has
// loaded it and answers PING.
func (r *privateRedis) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
		"--daemonize", "no", "--protected-mode", "no")
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c.Stdout, c.Stderr = r.log, r.log
	if err := c.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	r.cmd, r.done = c, make(chan struct{})
	done := r.done
	go func() { _ = c.Wait(); close(done) }()
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port), MaxRetries: -1})
	defer client.Close()
	return waitUntil(ctx, 30*time.Second, "Redis to answer", func() bool {
		select {
		case <-done:
			return false
		default:
		}
		return client.Ping(ctx).Err() == nil // LOADING is an error
	})
}

// Kill SIGKILLs the server and waits for it to exit.
func (r *privateRedis) Kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// waitUntil polls cond every 50 ms until it holds or timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
