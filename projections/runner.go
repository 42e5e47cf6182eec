package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activity-dev/activity/internal/db"
)

// Config configures a Runner. Zero values mean the documented defaults.
type Config struct {
	// BatchSize caps the activities one live batch (one transaction)
	// applies. Default 20000. While batches come back full (a backlog),
	// each next one is twice as large, up to RebuildBatch.
	BatchSize int
	// RebuildBatch caps the activities one transaction of a rebuild's
	// batch-by-batch fill (the rollups a bulk fill does not fill), or of a
	// backlog, applies: they are split into transactions of at most this
	// many rows so none holds back vacuum (the oldest running transaction)
	// for long. Default 500000.
	RebuildBatch int
	// Tick is how often every projector looks for new activities without
	// being woken, so a lost notification only delays. Default 1s.
	Tick time.Duration
	// MinBackoff and MaxBackoff bound the exponential wait after a failed
	// batch. Defaults 100ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// PendingPoll is how soon an idle projector looks again when committed
	// activities wait behind an older transaction still running (batches
	// stop below the oldest running transaction that may write activities).
	// Default 50ms, at most Tick.
	PendingPoll time.Duration
	// FailingAfter is how many consecutive failed batches turn a version's
	// status to failing. Default 3.
	FailingAfter int
	// Now is the clock for lag and durations; projection logic takes time
	// only from events. Default time.Now.
	Now func() time.Time
	// Projections names the projections this runner applies. Default all.
	Projections []string
	// NoBulkFill makes rebuilds fill every version batch by batch, as the
	// projectors do, instead of filling the large rollups in bulk (bulk.go):
	// slower, but no transaction of a rebuild lasts longer than a batch (so
	// none holds back vacuum for long), and the rows are not built in memory.
	NoBulkFill bool
	// BulkMemory bounds the memory (bytes) a bulk fill's builders may take;
	// a log that would need more is filled batch by batch. Default 8 GiB
	// (a year of 10M activities in 200 communities takes about 4).
	BulkMemory int64
	// BulkBatch is how many log rows a bulk fill's reader hands its
	// builders at once. Default 8192.
	BulkBatch int
	// RebuildMemory is the maintenance_work_mem a rebuild's bulk fill
	// builds each version's indexes with (one per rollup, at once), so they
	// sort in memory. Default 512MB.
	RebuildMemory string
	// TimeZones are the report time zones (IANA names) whose local days a
	// version of event_counts and user_sketches created by this runner (a
	// rebuild) holds as rows of their own, so daily series in them read one
	// row per day. A version keeps the zones it was created with; the ones
	// the migrations create hold none.
	TimeZones []string

	// NewSubscriber, when set, subscribes to the writer's notifications with
	// one consumer group per projector ("projector.<name>"); without it the
	// projectors run on Tick alone.
	NewSubscriber func(consumerGroup string) (message.Subscriber, error)
	// Topic is the writer's notification topic. Default "activity.recorded"
	// (write.RecordedTopic).
	Topic string
	// PoisonPublisher and PoisonTopic receive notifications a handler could
	// not take. Default topic: Topic + ".poison"; without a publisher there
	// is no poison queue.
	PoisonPublisher message.Publisher
	PoisonTopic     string
}

// defaultBatchSize is Config.BatchSize's default.
const defaultBatchSize = 20000

func (c *Config) setDefaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = defaultBatchSize
	}
	if c.RebuildBatch <= 0 {
		c.RebuildBatch = 500000
	}
	if c.BulkMemory <= 0 {
		c.BulkMemory = 8 << 30
	}
	if c.BulkBatch <= 0 {
		c.BulkBatch = 8192
	}
	if c.RebuildMemory == "" {
		c.RebuildMemory = "512MB"
	}
	if c.Tick <= 0 {
		c.Tick = time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(30*time.Second, c.MinBackoff)
	}
	if c.PendingPoll <= 0 {
		c.PendingPoll = 50 * time.Millisecond
	}
	c.PendingPoll = min(c.PendingPoll, c.Tick)
	if c.FailingAfter <= 0 {
		c.FailingAfter = 3
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Topic == "" {
		c.Topic = "activity.recorded"
	}
	if c.PoisonTopic == "" {
		c.PoisonTopic = c.Topic + ".poison"
	}
}

// Runner applies the projections, reports their status and rebuilds them.
// Run drives the projector loops; Status and the rebuild methods work
// without it.
type Runner struct {
	pool        *pgxpool.Pool
	q           *db.Queries
	cfg         Config
	log         *slog.Logger
	metrics     *Metrics
	projections []Projection
	wake        map[string]chan struct{}

	bgMu  sync.Mutex
	bgCtx context.Context // set while RunRebuilds runs
	bgWG  sync.WaitGroup

	cleanups sync.WaitGroup // old versions being dropped after a switch by a projector loop
}

// NewRunner validates cfg and returns a Runner. metrics may be nil
// (unregistered collectors are used).
func NewRunner(pool *pgxpool.Pool, cfg Config, log *slog.Logger, metrics *Metrics) (*Runner, error) {
	cfg.setDefaults()
	if pool == nil {
		return nil, errors.New("projections: a pool is required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	zones, err := checkZones(cfg.TimeZones)
	if err != nil {
		return nil, err
	}
	cfg.TimeZones = zones
	if !memorySetting.MatchString(cfg.RebuildMemory) {
		return nil, fmt.Errorf("projections: rebuild memory %q: want a PostgreSQL memory size such as 512MB", cfg.RebuildMemory)
	}
	r := &Runner{pool: pool, q: db.New(pool), cfg: cfg, log: log, metrics: metrics, wake: map[string]chan struct{}{}}
	if len(cfg.Projections) == 0 {
		r.projections = All()
	}
	for _, name := range cfg.Projections {
		p, err := Lookup(name)
		if err != nil {
			return nil, err
		}
		r.projections = append(r.projections, p)
	}
	for _, p := range r.projections {
		r.wake[p.Name] = make(chan struct{}, 1)
	}
	return r, nil
}

// memorySetting is a PostgreSQL memory size (maintenance_work_mem).
var memorySetting = regexp.MustCompile(`^[1-9][0-9]*\s*(kB|MB|GB|TB)$`)

// checkZones validates report time zone names and drops repeats.
func checkZones(names []string) ([]string, error) {
	out := []string{}
	for _, n := range names {
		if n == "" || n == "Local" {
			return nil, fmt.Errorf("projections: report time zone %q: name an IANA zone", n)
		}
		if _, err := loadZones([]string{n}); err != nil {
			return nil, fmt.Errorf("projections: %w", err)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// Run applies the projections until ctx ends: one loop per projection, each
// woken by the writer's notifications (when Config.NewSubscriber is set) and
// by Tick. A failing projection backs off without holding up the others.
func (r *Runner) Run(ctx context.Context) error {
	r.adoptZones(ctx)
	var wg sync.WaitGroup
	for _, p := range r.projections {
		wg.Go(func() { r.loop(ctx, p) })
	}
	if r.cfg.NewSubscriber != nil {
		wg.Go(func() { r.runNotifications(ctx) })
	}
	wg.Wait()
	r.cleanups.Wait()
	return nil
}

// adoptZones gives the current version of each local-day rollup the
// configured report time zones while it has applied nothing (a new
// installation), and otherwise logs a version that holds other zones than
// configured: a version keeps its zones, so the configuration applies after
// a rebuild.
func (r *Runner) adoptZones(ctx context.Context) {
	for _, p := range r.projections {
		if !p.localDays {
			continue
		}
		proj, err := r.q.ProjectionGet(ctx, p.Name)
		if err != nil {
			continue // the loop reports a database that does not answer
		}
		if _, err := r.q.CheckpointAdoptZones(ctx, db.CheckpointAdoptZonesParams{
			Name: p.Name, Version: proj.CurrentVersion, TimeZones: r.cfg.TimeZones,
		}); err != nil {
			continue
		}
		cp, err := r.q.CheckpointGet(ctx, db.CheckpointGetParams{Name: p.Name, Version: proj.CurrentVersion})
		if err == nil && !slices.Equal(cp.TimeZones, r.cfg.TimeZones) {
			r.log.Warn("the projection holds other report time zones than configured; rebuild it to apply them",
				"projection", p.Name, "version", proj.CurrentVersion, "holds", cp.TimeZones, "configured", r.cfg.TimeZones)
		}
	}
}

// Wake makes the projector of name look for new activities now. It never
// blocks: a wake-up already pending covers this one.
func (r *Runner) Wake(name string) {
	select {
	case r.wake[name] <- struct{}{}:
	default:
	}
}

// CatchUp applies, to every version of every projection of r, what is
// committed now, and switches rebuilt versions that have caught up (and
// drops their old versions). A version another process is applying at the
// moment is left to it.
func (r *Runner) CatchUp(ctx context.Context) error {
	var errs []error
	for _, p := range r.projections {
		size := r.cfg.BatchSize
		for {
			full, err := r.round(ctx, p, size)
			if err != nil {
				errs = append(errs, err)
				break
			}
			if !full {
				break
			}
			size = r.nextBatchSize(size, full)
		}
	}
	r.cleanups.Wait()
	return errors.Join(errs...)
}

// nextBatchSize is the size of the batch after one of size: doubled, up to
// RebuildBatch, while batches come back full (a backlog: larger batches
// apply it several times faster per activity, and no figure is fresh until
// it is applied anyway), and BatchSize again once one is not.
func (r *Runner) nextBatchSize(size int, full bool) int {
	if !full {
		return r.cfg.BatchSize
	}
	return max(r.cfg.BatchSize, min(2*size, r.cfg.RebuildBatch))
}

func (r *Runner) loop(ctx context.Context, p Projection) {
	tick := time.NewTicker(r.cfg.Tick)
	defer tick.Stop()
	var backoff time.Duration
	var last, observed time.Time
	size := r.cfg.BatchSize
	for ctx.Err() == nil {
		if wait := p.pace - time.Since(last); p.pace > 0 && wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		full, err := r.round(ctx, p, size)
		if ctx.Err() != nil {
			return
		}
		size = r.nextBatchSize(size, full && err == nil)
		if err != nil {
			backoff = min(max(2*backoff, r.cfg.MinBackoff), r.cfg.MaxBackoff)
			r.log.Warn("projection batch failed; backing off", "projection", p.Name, "backoff", backoff, "err", err)
			_ = r.observe(ctx, p)
			observed = time.Now()
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		if full {
			continue
		}
		// The lag gauges sum every transaction behind in activity_txs (all of
		// them for a rebuilt version not filled yet): refreshed once a Tick,
		// not after every batch; between, one row tells whether any is held
		// back.
		var held bool
		if time.Since(observed) >= r.cfg.Tick {
			held = r.observe(ctx, p) > 0
			observed = time.Now()
		} else {
			held = r.heldBack(ctx, p)
		}
		var pending <-chan time.Time
		if held {
			pending = time.After(r.cfg.PendingPoll)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake[p.Name]:
		case <-tick.C:
		case <-pending:
		}
	}
}

// round applies one batch of at most size activities to every version of p
// (the current one, and the next one during a rebuild), and switches a
// rebuilt version that has caught up. full reports that some batch was
// full, so more is waiting.
func (r *Runner) round(ctx context.Context, p Projection, size int) (full bool, err error) {
	cps, err := r.q.CheckpointListByName(ctx, p.Name)
	if err != nil {
		return false, fmt.Errorf("%s: list checkpoints: %w", p.Name, err)
	}
	proj, err := r.q.ProjectionGet(ctx, p.Name)
	if err != nil {
		return false, fmt.Errorf("%s: %w", p.Name, err)
	}
	var errs []error
	for _, cp := range cps {
		res, err := r.step(ctx, p, cp.Version, size, math.MaxInt64, false)
		if errors.Is(err, errCheckpointMoved) {
			// A switch moved or dropped the version's checkpoint under the
			// batch, which rolled back: not a failure (no alert, no backoff);
			// the next round starts from where the checkpoint is now.
			r.log.Info("projection batch rolled back: a switch moved its checkpoint", "projection", p.Name, "version", cp.Version)
			continue
		}
		if err != nil {
			r.recordFailure(ctx, p, cp.Version, err)
			errs = append(errs, err)
			continue
		}
		full = full || res.full
		if res.locked && !res.full && proj.NextVersion.Valid && cp.Version == proj.NextVersion.Int32 {
			switched, old, err := r.trySwitch(ctx, p)
			if err != nil {
				errs = append(errs, err)
			}
			if switched {
				// Not in this loop's way: deleting and vacuuming a large
				// version takes a while, and the projection goes on meanwhile.
				r.cleanups.Go(func() { r.dropVersion(ctx, p, old, proj.NextVersion.Int32) })
			}
		}
	}
	return full, errors.Join(errs...)
}

type stepResult struct {
	locked bool // false: another applier holds this version right now
	gone   bool // the version has no checkpoint (any more)
	rows   int  // activities applied
	full   bool // the batch was cut at maxRows: more is waiting
	to     Position
}

// step applies, in one transaction, the next batch of at most maxRows
// activities after version's checkpoint to version, and moves the checkpoint
// by compare-and-set. The batch holds only rows of transactions older than
// every running one that may write activities (ActivityTxRange), or, when
// below is not math.MaxInt64 (a watermark: every transaction below it has
// ended), the rows with tx_id < below; then an unfilled batch ends at
// endOfTx(below), so the rows with tx_id >= below are left for later
// batches. wait chooses between waiting for the version's advisory lock
// and giving up at once.
func (r *Runner) step(ctx context.Context, p Projection, version int32, maxRows int, below int64, wait bool) (res stepResult, err error) {
	start := r.cfg.Now()
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("%s v%d: begin: %w", p.Name, version, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	q := r.q.WithTx(tx)
	lock := db.ProjectionLockParams{Key: p.lockKey, Version: version}
	if wait {
		if err := q.ProjectionLock(ctx, lock); err != nil {
			return res, fmt.Errorf("%s v%d: lock: %w", p.Name, version, err)
		}
	} else {
		ok, err := q.ProjectionTryLock(ctx, db.ProjectionTryLockParams(lock))
		if err != nil {
			return res, fmt.Errorf("%s v%d: lock: %w", p.Name, version, err)
		}
		if !ok {
			return res, nil
		}
	}
	res.locked = true
	if err := q.ProjectorPlanSettings(ctx, ApplicationName); err != nil {
		return res, fmt.Errorf("%s v%d: plan settings: %w", p.Name, version, err)
	}
	// Not FOR UPDATE: see CheckpointGet. The advisory lock admits one
	// applier per version, and the compare-and-set below rolls the batch
	// back if the checkpoint moved (a switch) meanwhile.
	cp, err := q.CheckpointGet(ctx, db.CheckpointGetParams{Name: p.Name, Version: version})
	if errors.Is(err, pgx.ErrNoRows) {
		res.gone = true
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("%s v%d: read checkpoint: %w", p.Name, version, err)
	}
	from := Position{Tx: cp.TxID, ID: cp.ActivityID}
	bounded := below != math.MaxInt64
	var to Position
	span := target{version: version, zones: cp.TimeZones}
	empty := false
	txs, err := q.ActivityTxRange(ctx, db.ActivityTxRangeParams{
		AfterTx: from.Tx, AfterID: from.ID, BelowTx: below, MaxRows: int32(maxRows), MaxTxs: int32(maxRows) + 1,
		ProjectorApplicationName: ApplicationName,
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows) && (!bounded || !from.Less(endOfTx(below))):
		// Nothing to apply: the version is caught up.
		res.to = from
		if cp.Failures > 0 || cp.Status == "failing" {
			if err := q.CheckpointRecover(ctx, db.CheckpointRecoverParams{Name: p.Name, Version: version}); err != nil {
				return res, fmt.Errorf("%s v%d: clear failure: %w", p.Name, version, err)
			}
			return res, tx.Commit(ctx)
		}
		return res, nil
	case errors.Is(err, pgx.ErrNoRows):
		// No transaction after from below a watermark (every transaction
		// below it has ended, and ActivityTxRange bounds the batch by the
		// watermark alone, so it saw the whole range): the checkpoint moves
		// to its end with nothing to apply.
		to, empty = endOfTx(below), true
	case err != nil:
		return res, fmt.Errorf("%s v%d: find batch: %w", p.Name, version, err)
	default:
		// The batch's rows: those of the transactions found, within their
		// span, cut at maxRows (inside the last transaction, when it holds
		// more than the batch has room for).
		end, err := q.ActivityRangeEnd(ctx, db.ActivityRangeEndParams{
			AfterTx: from.Tx, AfterID: from.ID, LastTx: txs.LastTx, FirstAt: txs.FirstAt, LastAt: txs.LastAt, MaxRows: int32(maxRows),
		})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			// The transactions' rows are gone (a partition dropped by hand):
			// step over them.
			empty = true
		case err != nil:
			return res, fmt.Errorf("%s v%d: find batch: %w", p.Name, version, err)
		default:
			res.rows = int(end.Rows)
			span.first, span.last = end.FirstAt, end.LastAt
		}
		res.full = res.rows >= maxRows || txs.More
		switch {
		case res.rows >= maxRows:
			to = Position{Tx: end.TxID, ID: end.ID}
		case bounded && !res.full:
			to = endOfTx(below)
		default:
			to = Position{Tx: txs.LastTx, ID: txs.LastID}
		}
	}
	if !empty {
		if err := p.applyIn(ctx, tx, span, from, to); err != nil {
			return res, fmt.Errorf("%s v%d: apply (%s, %s]: %w", p.Name, version, from, to, err)
		}
	}
	n, err := q.CheckpointAdvance(ctx, db.CheckpointAdvanceParams{
		Name: p.Name, Version: version, OldTx: from.Tx, OldID: from.ID, NewTx: to.Tx, NewID: to.ID,
		TimeZones: cp.TimeZones,
	})
	if err != nil {
		return res, fmt.Errorf("%s v%d: advance checkpoint: %w", p.Name, version, err)
	}
	if n != 1 {
		// A switch moved (or dropped) it under this batch: roll back, and the
		// next round starts from where it is now.
		return res, fmt.Errorf("%s v%d: %w from %s under this batch", p.Name, version, errCheckpointMoved, from)
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("%s v%d: commit: %w", p.Name, version, err)
	}
	res.to = to
	r.metrics.Batches.WithLabelValues(p.Name).Inc()
	r.metrics.Rows.WithLabelValues(p.Name).Add(float64(res.rows))
	r.metrics.Duration.WithLabelValues(p.Name).Observe(r.cfg.Now().Sub(start).Seconds())
	return res, nil
}

// trySwitch makes p's next version current when it has caught up with the
// current one: in one transaction that locks both checkpoints, it applies to
// the next version whatever the current one has applied beyond it (a batch
// at most, as callers switch right after a batch that was not full), then
// switches reads to it and forgets the old version; the caller drops the
// old version's rows (dropVersion) after it.
func (r *Runner) trySwitch(ctx context.Context, p Projection) (switched bool, old int32, err error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return false, 0, fmt.Errorf("%s: switch: %w", p.Name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	q := r.q.WithTx(tx)
	if err := q.ProjectorPlanSettings(ctx, ApplicationName); err != nil {
		return false, 0, fmt.Errorf("%s: switch: %w", p.Name, err)
	}
	proj, err := q.ProjectionGetForUpdate(ctx, p.Name)
	if err != nil {
		return false, 0, fmt.Errorf("%s: switch: %w", p.Name, err)
	}
	if !proj.NextVersion.Valid {
		return false, 0, nil
	}
	old, next := proj.CurrentVersion, proj.NextVersion.Int32
	// The next version's applier lock, as a batch of it takes: a batch
	// (of another process) running while this applies the rest to the next
	// version would write the same rows and then wait for its checkpoint,
	// which this holds — a deadlock. (No batch waits for the projections row
	// this holds, so taking the lock after it cannot deadlock.)
	if err := q.ProjectionLock(ctx, db.ProjectionLockParams{Key: p.lockKey, Version: next}); err != nil {
		return false, 0, fmt.Errorf("%s: switch: lock v%d: %w", p.Name, next, err)
	}
	var curPos Position
	cur, err := q.CheckpointGetForUpdate(ctx, db.CheckpointGetForUpdateParams{Name: p.Name, Version: old})
	switch {
	case err == nil:
		curPos = Position{Tx: cur.TxID, ID: cur.ActivityID}
	case !errors.Is(err, pgx.ErrNoRows):
		return false, 0, fmt.Errorf("%s: switch: %w", p.Name, err)
	}
	ncp, err := q.CheckpointGetForUpdate(ctx, db.CheckpointGetForUpdateParams{Name: p.Name, Version: next})
	if err != nil {
		return false, 0, fmt.Errorf("%s: switch: read v%d: %w", p.Name, next, err)
	}
	if ncp.Status == "failing" {
		return false, 0, nil
	}
	if nextPos := (Position{Tx: ncp.TxID, ID: ncp.ActivityID}); nextPos.Less(curPos) {
		// Every row up to curPos is committed: the current version applied it.
		if err := p.applyIn(ctx, tx, anyDay(next, ncp.TimeZones), nextPos, curPos); err != nil {
			return false, 0, fmt.Errorf("%s: switch: apply (%s, %s] to v%d: %w", p.Name, nextPos, curPos, next, err)
		}
		if _, err := q.CheckpointAdvance(ctx, db.CheckpointAdvanceParams{
			Name: p.Name, Version: next, OldTx: nextPos.Tx, OldID: nextPos.ID, NewTx: curPos.Tx, NewID: curPos.ID,
			TimeZones: ncp.TimeZones,
		}); err != nil {
			return false, 0, fmt.Errorf("%s: switch: %w", p.Name, err)
		}
	}
	if n, err := q.ProjectionSwitch(ctx, db.ProjectionSwitchParams{Name: p.Name, Version: next}); err != nil || n != 1 {
		return false, 0, fmt.Errorf("%s: switch to v%d (%d rows): %w", p.Name, next, n, err)
	}
	if err := q.CheckpointSetLive(ctx, db.CheckpointSetLiveParams{Name: p.Name, Version: next}); err != nil {
		return false, 0, fmt.Errorf("%s: switch: %w", p.Name, err)
	}
	if err := q.CheckpointDeleteOthers(ctx, db.CheckpointDeleteOthersParams{Name: p.Name, Keep: next}); err != nil {
		return false, 0, fmt.Errorf("%s: switch: %w", p.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, 0, fmt.Errorf("%s: switch: commit: %w", p.Name, err)
	}
	r.log.Info("projection switched to its rebuilt version", "projection", p.Name, "version", next, "old_version", old)
	return true, old, nil
}

// dropVersion drops the rows of a version reads no longer use, then
// vacuums what reads use now. A partitioned rollup drops the old version's
// partition (without blocking reads) and vacuums the current one's: a
// version filled in bulk is frozen and skipped, and one filled batch by
// batch gets its rows marked all-visible, so index-only reads stop visiting
// the table. Any other rollup deletes the old rows and vacuums the table,
// which now holds as many dead rows as live ones; until a vacuum, reads
// visit the table for every row (several times slower), and autovacuum may
// take many minutes to come by. Failures are harmless: reads never see the
// old version, the next rebuild drops it, and autovacuum comes by
// eventually.
func (r *Runner) dropVersion(ctx context.Context, p Projection, old, current int32) {
	vacuum := p.Name
	if p.table != "" {
		if err := dropPartition(ctx, r.pool, p.table, old); err != nil {
			r.log.Warn("dropping the old version's partition failed", "projection", p.Name, "version", old, "err", err)
			return
		}
		vacuum = partitionName(p.table, current)
	} else if err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		// A batch of the old version that began before the switch (its
		// compare-and-set will fail) may still be inserting the rows this
		// deletes; the two would deadlock. Its applier lock waits for it.
		q := r.q.WithTx(tx)
		if err := q.ProjectionLock(ctx, db.ProjectionLockParams{Key: p.lockKey, Version: old}); err != nil {
			return err
		}
		return p.deleteVersion(ctx, q, old)
	}); err != nil {
		r.log.Warn("deleting the old version's rows failed", "projection", p.Name, "version", old, "err", err)
		return
	}
	if exists, err := r.q.TableExists(ctx, vacuum); err != nil || !exists {
		return // the version never applied a row
	}
	stmt := "VACUUM (ANALYZE) "
	if analyzed, err := r.q.TableAnalyzed(ctx, vacuum); err == nil && analyzed {
		stmt = "VACUUM " // filled in bulk: its statistics are there
	}
	if _, err := r.pool.Exec(ctx, stmt+ident(vacuum)); err != nil {
		r.log.Warn("vacuuming the rebuilt projection failed; autovacuum will", "projection", p.Name, "err", err)
	}
}

// recordFailure counts a failed batch and records it on the version's
// checkpoint (status failing after FailingAfter in a row).
func (r *Runner) recordFailure(ctx context.Context, p Projection, version int32, err error) {
	if ctx.Err() != nil {
		return // stopping is not failing
	}
	r.metrics.Failures.WithLabelValues(p.Name).Inc()
	msg := err.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	if err := r.q.CheckpointMarkFailure(ctx, db.CheckpointMarkFailureParams{
		Name: p.Name, Version: version, LastError: msg, FailingAfter: int32(r.cfg.FailingAfter),
	}); err != nil {
		r.log.Warn("recording a projection failure failed", "projection", p.Name, "err", err)
	}
}

// observe updates p's lag gauges and returns how many committed activities
// some version of p has not applied (0 when it cannot tell).
func (r *Runner) observe(ctx context.Context, p Projection) (behind int64) {
	st, err := r.status(ctx, p.Name)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Debug("measuring projection lag failed", "projection", p.Name, "err", err)
		}
		return 0
	}
	r.metrics.Lag.WithLabelValues(p.Name).Set(st.LagSeconds)
	r.metrics.RowsBehind.WithLabelValues(p.Name).Set(float64(st.RowsBehind))
	behind = st.RowsBehind
	if st.Next != nil {
		behind += st.Next.RowsBehind
	}
	return behind
}

// heldBack reports whether committed activities lie after the checkpoint
// of some version of p after a batch that was not full: activities of
// transactions newer than one still running, which the batches leave for
// later (ActivityTxRange).
func (r *Runner) heldBack(ctx context.Context, p Projection) bool {
	held := false
	_ = r.readLog(ctx, func(q *db.Queries) error { // on failure, the next round reports the database
		cps, err := q.CheckpointListByName(ctx, p.Name)
		if err != nil {
			return err
		}
		for _, cp := range cps {
			after, err := q.ActivityAfter(ctx, db.ActivityAfterParams{AfterTx: cp.TxID, AfterID: cp.ActivityID})
			if err != nil {
				return err
			}
			if after {
				held = true
				return nil
			}
		}
		return nil
	})
	return held
}

// readLog runs fn in a read-only transaction (the status, the lag gauges,
// heldBack).
func (r *Runner) readLog(ctx context.Context, fn func(q *db.Queries) error) error {
	tx, err := r.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	if err := fn(r.q.WithTx(tx)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (r *Runner) projection(name string) (Projection, error) {
	i := slices.IndexFunc(r.projections, func(p Projection) bool { return p.Name == name })
	if i < 0 {
		return Lookup(name)
	}
	return r.projections[i], nil
}
