// Command chaos runs the service as separate processes per role against a
// private PostgreSQL and a private Redis (AOF, fsync always), applies load
// through the API while it SIGKILLs each role, restarts Redis and stops
// PostgreSQL, and then checks that every event answered 202 is in the log
// exactly once, that no refused event is there, and that every rollup equals
// its recomputation from the log.
//
//	go run ./cmd/chaos            # the full run, a few minutes
//	go run ./cmd/chaos -short     # about a minute (CI)
package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure a run. Zero values mean the defaults of the mode.
type Options struct {
	Short    bool
	Duration time.Duration // of the load; default 30s short, 3m full
	PGDown   time.Duration // default 5s short, 20s full
	Rate     float64       // events/s; default 1000
	Clients  int           // default 6
	Seed     uint64        // default: random
	Root     string        // the module root; default: found from the working directory
	Bin      string        // the activity binary to build (or, with NoBuild, to use); default <Root>/bin/activity
	NoBuild  bool
	Keep     bool // keep the temporary directory (logs, data) even on success
}

func main() {
	var o Options
	flag.BoolVar(&o.Short, "short", false, "the short form (about a minute)")
	flag.DurationVar(&o.Duration, "duration", 0, "how long to apply load (default 30s with -short, else 3m)")
	flag.DurationVar(&o.PGDown, "pg-down", 0, "how long PostgreSQL stays stopped (default 5s with -short, else 20s)")
	flag.Float64Var(&o.Rate, "rate", 0, "target events/s (default 1000)")
	flag.IntVar(&o.Clients, "clients", 0, "concurrent clients (default 6)")
	flag.Uint64Var(&o.Seed, "seed", 0, "seed of the fault schedule and the load (default random)")
	flag.StringVar(&o.Bin, "bin", "", "where to build the activity binary (default bin/activity)")
	flag.BoolVar(&o.NoBuild, "no-build", false, "use -bin as it is")
	flag.BoolVar(&o.Keep, "keep", false, "keep the temporary directory with the logs and data")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := Run(ctx, o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	if !res.OK() {
		os.Exit(1)
	}
}

// Run performs one chaos run and prints its progress and result to out.
func Run(ctx context.Context, o Options, out io.Writer) (*Result, error) {
	o.defaults()
	var outMu sync.Mutex
	start := time.Now()
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(out, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	if o.Root == "" {
		root, err := moduleRoot()
		if err != nil {
			return nil, err
		}
		o.Root = root
	}
	if o.Bin == "" {
		o.Bin = filepath.Join(o.Root, "bin", "activity")
	}
	dir, err := os.MkdirTemp("", "activity-chaos-")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if ok && !o.Keep {
			_ = os.RemoveAll(dir)
		} else {
			say("logs and data kept in %s", dir)
		}
	}()
	logFile := func(name string) io.Writer {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return io.Discard
		}
		return f // closed when the process exits
	}

	mode := "full"
	if o.Short {
		mode = "short"
	}
	say("chaos (%s): seed %d, %s of load at %.0f events/s, PostgreSQL down for %s", mode, o.Seed, o.Duration, o.Rate, o.PGDown)

	// Build first: the servers need not wait for the compiler.
	if !o.NoBuild {
		say("building %s", o.Bin)
		b := exec.CommandContext(ctx, "go", "build", "-o", o.Bin, "./cmd/activity")
		b.Dir = o.Root
		if outp, err := b.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/activity: %v\n%s", err, outp)
		}
	}
	pg, err := startPG(ctx, dir, logFile("postgres.log"))
	if err != nil {
		return nil, err
	}
	defer pg.Stop()
	rs, err := startRedis(ctx, dir, logFile("redis.log"))
	if err != nil {
		return nil, err
	}
	defer rs.Kill()
	say("private PostgreSQL on port %d, private Redis (AOF, fsync always) on port %d", pg.port, rs.port)

	adminKey := "chaos-admin-" + randomHex(12)
	env := func(httpPort, metricsPort int) []string {
		return serviceEnv(pg.URL(), rs.URL(), adminKey, addr(httpPort), addr(metricsPort))
	}
	migrate := exec.CommandContext(ctx, o.Bin, "migrate")
	migrate.Env = env(0, 0)
	if outp, err := migrate.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("activity migrate: %v\n%s", err, outp)
	}
	keyCmd := exec.CommandContext(ctx, o.Bin, "keys", "create", "--role", "ingest", "--name", "chaos")
	keyCmd.Env = env(0, 0)
	keyOut, err := keyCmd.Output()
	if err != nil {
		return nil, fmt.Errorf("activity keys create: %v", err)
	}
	ingestKey := strings.TrimSpace(string(keyOut))

	ports := make([]int, 6)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	apiURL := "http://" + addr(ports[0])
	rctx, stopRoles := context.WithCancel(context.WithoutCancel(ctx))
	var roles []*role
	for i, spec := range []struct{ name, roles string }{
		{"api", "api,scheduler"}, {"writer-1", "writer"}, {"writer-2", "writer"}, {"projector", "projector"},
	} {
		httpPort := ports[5]
		if spec.name == "api" {
			httpPort = ports[0]
		}
		r := &role{name: spec.name, roles: spec.roles, bin: o.Bin, env: env(httpPort, ports[i+1]),
			log: logFile(spec.name + ".log"), say: say, done: make(chan struct{})}
		roles = append(roles, r)
		go r.supervise(rctx)
	}
	stopAll := func() {
		stopRoles()
		for _, r := range roles {
			<-r.done
		}
	}
	defer stopAll()
	if err := waitUntil(ctx, 60*time.Second, "the API to be ready", func() bool {
		res, err := http.Get(apiURL + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}); err != nil {
		return nil, err
	}
	say("roles running: api+scheduler, writer ×2, projector (binary %s)", o.Bin)

	// Load and faults.
	ld := &loader{url: apiURL, key: ingestKey, rate: o.Rate, clients: o.Clients, seed: o.Seed}
	lctx, stopLoad := context.WithTimeout(ctx, o.Duration)
	defer stopLoad()
	loadDone := make(chan struct{})
	go func() { ld.run(lctx); close(loadDone) }()
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-loadDone:
				return
			case <-t.C:
			}
			evs, st := ld.snapshot()
			acc := 0
			for _, e := range evs {
				if e.State == stateAccepted {
					acc++
				}
			}
			say("load: %d events sent, %d accepted; answers %s", len(evs), acc, statusSummary(st.ByStatus))
		}
	}()
	faultsDone := runFaults(ctx, o, schedule(o), roles, pg, rs, say)
	<-loadDone
	<-faultsDone
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	events, st := ld.snapshot()
	say("load stopped: %d events in %d requests (%d deliveries, %d redeliveries of accepted batches); answers %s",
		len(events), st.Requests, st.Deliveries, st.Redelivered, statusSummary(st.ByStatus))

	// Drain, then check.
	res := &Result{}
	drainTimeout := 75 * time.Second
	if !o.Short {
		drainTimeout = 3 * time.Minute
	}
	say("waiting for the stream to drain and the projections to catch up (at most %s)", drainTimeout)
	res.CaughtUp, res.CatchUpNote = waitDrained(ctx, pg.URL(), rs.URL(), drainTimeout, say)
	if res.CaughtUp {
		say("drained and caught up")
	} else {
		say("NOT caught up: %s", res.CatchUpNote)
	}
	if err := check(ctx, pg.URL(), events, res); err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	for _, r := range roles {
		r.mu.Lock()
		say("%s: killed %d times, restarted %d times", r.name, r.kills, r.restarts)
		r.mu.Unlock()
	}
	for _, w := range []struct{ file, line, what string }{
		{"writer-*.log", "claimed pending entries", "writers claimed entries a killed writer left pending"},
		{"writer-*.log", "storing a batch failed; retrying", "writers retried a batch (PostgreSQL down)"},
		{"writer-*.log", "acknowledging entries failed", "writers committed but could not acknowledge (Redis down)"},
	} {
		say("%s: %d times", w.what, countLines(filepath.Join(dir, w.file), w.line))
	}
	printResult(out, res)
	ok = res.OK()
	return res, nil
}

func (o *Options) defaults() {
	if o.Duration <= 0 {
		o.Duration = 3 * time.Minute
		if o.Short {
			o.Duration = 30 * time.Second
		}
	}
	if o.PGDown <= 0 {
		o.PGDown = 20 * time.Second
		if o.Short {
			o.PGDown = 5 * time.Second
		}
	}
	if o.Rate <= 0 {
		o.Rate = 1000
	}
	if o.Clients <= 0 {
		o.Clients = 6
	}
	if o.Seed == 0 {
		o.Seed = rand.Uint64() >> 12
	}
}

// fault is one planned disruption.
type fault struct {
	at      time.Duration
	what    string // a role name, "redis" or "postgres"
	downFor time.Duration
}

// schedule plans the faults: in the short form each role killed once, Redis
// restarted once and PostgreSQL stopped once, writers early (a killed
// writer's pending entries wait for the claim idle time); in the full form
// three rounds of the same, PostgreSQL stopped in the middle one.
func schedule(o Options) []fault {
	rnd := rand.New(rand.NewPCG(o.Seed, 42))
	d := o.Duration
	at := func(lo, hi float64) time.Duration {
		return time.Duration((lo + rnd.Float64()*(hi-lo)) * float64(d))
	}
	down := func() time.Duration { return time.Duration(200+rnd.IntN(1800)) * time.Millisecond }
	var fs []fault
	if o.Short {
		fs = []fault{
			{at(0.05, 0.15), "writer-1", down()},
			{at(0.18, 0.25), "redis", down()},
			{at(0.27, 0.35), "writer-2", down()},
			{time.Duration(0.4 * float64(d)), "postgres", o.PGDown},
			{at(0.62, 0.72), "api", down()},
			{at(0.74, 0.85), "projector", down()},
		}
	} else {
		for round := 0; round < 3; round++ {
			lo := 0.05 + 0.27*float64(round)
			hi := lo + 0.25
			for _, w := range []string{"writer-1", "writer-2", "api", "projector", "redis"} {
				fs = append(fs, fault{at(lo, hi), w, down()})
			}
			if round == 1 {
				fs = append(fs, fault{time.Duration((lo + 0.08) * float64(d)), "postgres", o.PGDown})
			}
		}
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].at < fs[j].at })
	return fs
}

// runFaults carries the schedule out, each fault in its own goroutine at its
// time (they may overlap); the channel closes when all are over and every
// server is up again.
func runFaults(ctx context.Context, o Options, fs []fault, roles []*role, pg *privatePG, rs *privateRedis, say func(string, ...any)) <-chan struct{} {
	done := make(chan struct{})
	start := time.Now()
	byName := map[string]*role{}
	for _, r := range roles {
		byName[r.name] = r
	}
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sleepCtx(ctx, f.at-time.Since(start))
			if ctx.Err() != nil {
				return
			}
			switch f.what {
			case "postgres":
				say("FAULT: stopping PostgreSQL (immediate) for %s", f.downFor)
				pg.Stop()
				sleepCtx(ctx, f.downFor)
				if err := pg.Start(context.WithoutCancel(ctx)); err != nil {
					say("PostgreSQL did not start again: %v", err)
					return
				}
				say("PostgreSQL is back")
			case "redis":
				say("FAULT: SIGKILL Redis, restarting on the same AOF after %s", f.downFor)
				rs.Kill()
				sleepCtx(ctx, f.downFor)
				if err := rs.Start(context.WithoutCancel(ctx)); err != nil {
					say("Redis did not start again: %v", err)
					return
				}
				say("Redis is back")
			default:
				r := byName[f.what]
				if r.kill(f.downFor) {
					say("FAULT: SIGKILL %s (restart after %s)", f.what, f.downFor.Round(time.Millisecond))
				} else {
					say("FAULT: %s was not running; nothing to kill", f.what)
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

func printResult(w io.Writer, r *Result) {
	fmt.Fprintln(w, "\nchaos result")
	fmt.Fprintf(w, "  sent                %d events\n", r.Sent)
	fmt.Fprintf(w, "  accepted (202)      %d\n", r.Accepted)
	fmt.Fprintf(w, "  refused             %d\n", r.Refused)
	fmt.Fprintf(w, "  unknown             %d (transport failed after sending; %d of them stored)\n", r.Unknown, r.UnknownStored)
	fmt.Fprintf(w, "  stored              %d rows in activities (%d never sent by this run)\n", r.Stored, r.Unexpected)
	fmt.Fprintf(w, "  dead letters        %d\n", r.DeadLetters)
	fmt.Fprintf(w, "  lost                %d\n", r.Lost)
	fmt.Fprintf(w, "  duplicated          %d\n", r.Duplicated)
	fmt.Fprintf(w, "  refused but stored  %d\n", r.RefusedStored)
	names := make([]string, 0, len(r.Mismatches))
	total := 0
	for n, c := range r.Mismatches {
		names = append(names, fmt.Sprintf("%s %d", n, c))
		total += c
	}
	sort.Strings(names)
	fmt.Fprintf(w, "  rollup mismatches   %d (%s)\n", total, strings.Join(names, ", "))
	for _, s := range r.MismatchSamples {
		fmt.Fprintf(w, "    %s\n", s)
	}
	if r.CaughtUp {
		fmt.Fprintln(w, "  caught up           yes")
	} else {
		fmt.Fprintf(w, "  caught up           NO: %s\n", r.CatchUpNote)
	}
	if r.OK() {
		fmt.Fprintln(w, "PASS: nothing lost, nothing duplicated, no refused event stored, every rollup equals the log")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}

func statusSummary(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	if len(parts) == 0 {
		return "none yet"
	}
	return strings.Join(parts, ", ")
}

// countLines counts the lines holding s in the files matching pattern.
func countLines(pattern, s string) int {
	files, _ := filepath.Glob(pattern)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n += strings.Count(string(b), s)
	}
	return n
}

// moduleRoot walks up from the working directory to the go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}
