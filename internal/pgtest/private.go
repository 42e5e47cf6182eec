package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/activity-dev/activity/migrations"
)

// Private is a PostgreSQL server of a test's own, on a free port, that the
// test may stop and start. It never touches the shared server.
type Private struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	URL  string // of the migrated database "activity"
}

// StartPrivate initialises and starts a private server with the binaries in
// /usr/lib/postgresql/*/bin (skipped or failed, per ACTIVITY_REQUIRE_SERVICES,
// when there are none), creates and migrates a database, and stops it when
// t ends.
func StartPrivate(t testing.TB) *Private {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		Unavailable(t, "no PostgreSQL server binaries under /usr/lib/postgresql to start a private server")
	}
	p := &Private{t: t, bin: filepath.Dir(bins[len(bins)-1]), port: FreePort(t)}
	dir, err := os.MkdirTemp("", "activity-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	t.Cleanup(func() {
		_ = p.ctl("stop", "-m", "immediate")
		_ = os.RemoveAll(dir)
	})
	if err := p.chownToPostgres(dir); err != nil {
		t.Fatal(err)
	}
	if out, err := p.command(filepath.Join(p.bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.Start()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, p.serverURL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE activity"); err != nil {
		t.Fatal(err)
	}
	p.URL = p.serverURL("activity")
	if err := migrations.Up(ctx, p.URL); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *Private) serverURL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// Start starts the server and waits until it accepts connections.
func (p *Private) Start() {
	p.t.Helper()
	if err := p.ctl("start", "-w", "-t", "60", "-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir)); err != nil {
		p.t.Fatalf("start private PostgreSQL: %v", err)
	}
}

// Stop stops the server at once (connections are cut).
func (p *Private) Stop() {
	p.t.Helper()
	if err := p.ctl("stop", "-w", "-m", "immediate"); err != nil {
		p.t.Fatalf("stop private PostgreSQL: %v", err)
	}
}

func (p *Private) ctl(args ...string) error {
	args = append([]string{"-D", filepath.Join(p.dir, "data"), "-l", filepath.Join(p.dir, "log")}, args...)
	out, err := p.command(filepath.Join(p.bin, "pg_ctl"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// command runs name as the postgres user when we are root (PostgreSQL
// refuses to run as root).
func (p *Private) command(name string, args ...string) *exec.Cmd {
	if os.Getuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func (p *Private) chownToPostgres(dir string) error {
	if os.Getuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

// FreePort returns a TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitFor polls cond every 20ms until it is true or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond) //nolint:forbidigo // polling a condition, not waiting for work
	}
}
