package projections

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/pguuid"
)

// RebuildStart describes a rebuild StartRebuild started or found running.
type RebuildStart struct {
	Name    string `json:"name"`
	Version int32  `json:"version"` // the version being built
	Status  string `json:"status"`  // always rebuilding
	// Started is false when a rebuild of this projection was already
	// running; it goes on, and no second one is started.
	Started bool `json:"started"`
}

// StartRebuild creates the next version of the projection called name,
// empty, with its checkpoint at the start of the log, so that any runner
// fills it and switches reads to it once it has caught up. A rebuild
// already running is joined, not restarted.
func (r *Runner) StartRebuild(ctx context.Context, name string) (RebuildStart, error) {
	st, _, err := r.startRebuild(ctx, name, nil)
	return st, err
}

// startRebuild is StartRebuild. When hold is set, it runs on hold and, for
// a version it creates (to be filled in bulk), takes that version's
// advisory lock for hold's session before the version becomes visible, so
// no projector batch gets to it before the bulk fill does; held reports
// whether it took it. Closing hold releases the locks.
func (r *Runner) startRebuild(ctx context.Context, name string, hold *pgx.Conn) (st RebuildStart, held bool, err error) {
	p, err := Lookup(name)
	if err != nil {
		return RebuildStart{}, false, err
	}
	var tx pgx.Tx
	if hold != nil {
		tx, err = hold.Begin(ctx)
	} else {
		tx, err = r.pool.Begin(ctx)
	}
	if err != nil {
		return RebuildStart{}, false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	q := r.q.WithTx(tx)
	proj, err := q.ProjectionGetForUpdate(ctx, name)
	if errors.Is(err, pgx.ErrNoRows) {
		return RebuildStart{}, false, fmt.Errorf("projection %s has no row in projections; apply the migrations", name)
	}
	if err != nil {
		return RebuildStart{}, false, fmt.Errorf("%s: %w", name, err)
	}
	if proj.NextVersion.Valid {
		return RebuildStart{Name: name, Version: proj.NextVersion.Int32, Status: StatusRebuilding}, false, nil
	}
	next := proj.CurrentVersion + 1
	// Leftovers of an interrupted switch or delete: no reader uses them.
	if err := q.CheckpointDeleteOthers(ctx, db.CheckpointDeleteOthersParams{Name: name, Keep: proj.CurrentVersion}); err != nil {
		return RebuildStart{}, false, fmt.Errorf("%s: %w", name, err)
	}
	if p.table == "" {
		if err := p.deleteOtherVersions(ctx, q, proj.CurrentVersion); err != nil {
			return RebuildStart{}, false, fmt.Errorf("%s: delete stale versions: %w", name, err)
		}
	}
	if err := q.CheckpointCreate(ctx, db.CheckpointCreateParams{Name: name, Version: next, TimeZones: r.zonesFor(p)}); err != nil {
		return RebuildStart{}, false, fmt.Errorf("%s: %w", name, err)
	}
	if err := q.ProjectionSetNext(ctx, db.ProjectionSetNextParams{Name: name, NextVersion: next}); err != nil {
		return RebuildStart{}, false, fmt.Errorf("%s: %w", name, err)
	}
	if hold != nil {
		// A session lock outlives the transaction, committed or not.
		held, err = q.ProjectionHoldLock(ctx, db.ProjectionHoldLockParams{Key: p.lockKey, Version: next})
		if err != nil {
			return RebuildStart{}, false, fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		if held {
			db.New(hold).ProjectionReleaseLock(context.WithoutCancel(ctx), db.ProjectionReleaseLockParams{Key: p.lockKey, Version: next}) //nolint:errcheck // closing hold releases it too
		}
		return RebuildStart{}, false, fmt.Errorf("%s: %w", name, err)
	}
	if p.table != "" {
		// Partitions of versions no checkpoint names any more.
		if err := dropPartitionsExcept(ctx, r.pool, p.table, proj.CurrentVersion, next); err != nil {
			r.log.Warn("dropping stale partitions failed", "projection", name, "err", err)
		}
	}
	r.log.Info("projection rebuild started", "projection", name, "version", next)
	return RebuildStart{Name: name, Version: next, Status: StatusRebuilding, Started: true}, held, nil
}

// holdConn opens a connection of its own, not one of the pool's (which
// serve reads and batches): a bulk fill holds rebuilt versions' locks on
// one, and reads and writes on others. Its application name tags its
// transactions as a projector's (see ProjectorPlanSettings): they write
// rollups, never activities, so live batches do not wait for the bulk
// fill's long copies and index builds.
func (r *Runner) holdConn(ctx context.Context) (*pgx.Conn, error) {
	cfg := r.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = ApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	pguuid.Register(conn.TypeMap())
	return conn, nil
}

// ApplicationName tags the transactions of projectors and rebuilds, which
// never write activities, so no batch waits for them (ProjectorPlanSettings
// sets it, ActivityTxRange skips it). No connection that writes activities
// may use it.
const ApplicationName = "activity-projector"

// Rebuild rebuilds the projection called name from the log and returns when
// reads use the rebuilt version. A rebuild already running is finished
// rather than restarted.
func (r *Runner) Rebuild(ctx context.Context, name string) error {
	return r.rebuild(ctx, []string{name})
}

// RebuildAll rebuilds every projection and returns when all are live again.
func (r *Runner) RebuildAll(ctx context.Context) error {
	return r.rebuild(ctx, Names())
}

// rebuild starts (or joins) the rebuilds of names, fills the new versions
// in one pass over the log (bulk.go; batch by batch with NoBulkFill, or
// where the bulk fill fails), then finishes each: catches it up and
// switches reads to it.
func (r *Runner) rebuild(ctx context.Context, names []string) error {
	type job struct {
		p       Projection
		version int32
		bulk    bool // filled in bulk: its lock is held on hold
	}
	var jobs []*job
	var hold *pgx.Conn
	closeHold := func() {
		if hold != nil {
			hold.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the session's end releases its locks
			hold = nil
		}
	}
	defer closeHold()
	for _, name := range names {
		p, err := Lookup(name)
		if err != nil {
			return err
		}
		bulk := !r.cfg.NoBulkFill
		if bulk && hold == nil {
			if hold, err = r.holdConn(ctx); err != nil {
				return err
			}
		}
		var on *pgx.Conn
		if bulk {
			on = hold
		}
		st, held, err := r.startRebuild(ctx, name, on)
		if err != nil {
			return err
		}
		jobs = append(jobs, &job{p: p, version: st.Version, bulk: held})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	var bulk []bulkTarget
	for i, j := range jobs {
		if !j.bulk {
			wg.Go(func() { errs[i] = r.finishRebuild(ctx, j.p.Name, j.version) })
			continue
		}
		bulk = append(bulk, bulkTarget{p: j.p, version: j.version})
	}
	if len(bulk) > 0 {
		r.fillInBulk(ctx, bulk)
		closeHold()
		for i, j := range jobs {
			if j.bulk {
				wg.Go(func() { errs[i] = r.finishRebuild(ctx, j.p.Name, j.version) })
			}
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// fillInBulk runs bulkFill; when it fails, the versions are filled batch by
// batch instead (finishRebuild, any runner), so the failure is logged, not
// returned, and the fill tables it left are dropped.
func (r *Runner) fillInBulk(ctx context.Context, targets []bulkTarget) {
	err := r.bulkFill(ctx, targets)
	if err == nil || ctx.Err() != nil {
		return
	}
	r.log.Warn("filling rebuilt versions in bulk failed; they are filled batch by batch", "err", err)
	for _, t := range targets {
		if t.p.table == "" {
			continue
		}
		if _, err := r.pool.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+ident(fillName(t.p.table, t.version))); err != nil {
			r.log.Warn("dropping a fill table failed", "table", fillName(t.p.table, t.version), "err", err)
		}
	}
}

// finishRebuild fills version of the projection from the log, from its
// checkpoint (the start of the log, or where a bulk fill left it), and
// switches reads to it.
//
// The fill is cut at the watermark W (every transaction below it has
// ended): set-based batches of up to RebuildBatch rows, each its own
// transaction, until the checkpoint reaches (W-1, max int64), the end of
// every transaction below W. Rows of later transactions are then applied by
// ordinary batches, which any runner also does; once a batch is not full,
// the version has caught up and trySwitch makes it current.
func (r *Runner) finishRebuild(ctx context.Context, name string, version int32) error {
	p, err := Lookup(name)
	if err != nil {
		return err
	}
	w, err := r.q.ActivityWatermark(ctx, ApplicationName)
	if err != nil {
		return fmt.Errorf("%s: watermark: %w", name, err)
	}
	// retry says whether to go on after err: after a transient failure, up
	// to maxTransientRetries in a row (failures counts them; a step that
	// succeeds resets it), once a backoff has passed.
	failures := 0
	retry := func(err error) bool {
		failures++
		if !transient(err) || failures > maxTransientRetries || ctx.Err() != nil {
			return false
		}
		r.log.Warn("projection rebuild: transient failure; retrying", "projection", name, "version", version, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(min(r.cfg.MinBackoff<<failures, r.cfg.MaxBackoff)):
			return true
		}
	}
	for {
		res, err := r.step(ctx, p, version, r.cfg.RebuildBatch, w, true)
		if err != nil {
			if retry(err) {
				continue
			}
			r.recordFailure(ctx, p, version, err)
			return err
		}
		failures = 0
		if res.gone {
			return r.rebuildOutcome(ctx, name, version)
		}
		if !res.full {
			break
		}
	}
	r.log.Info("projection rebuild filled to the watermark", "projection", name, "version", version, "watermark", w)
	poll := min(r.cfg.Tick, 100*time.Millisecond)
	for {
		res, err := r.step(ctx, p, version, r.cfg.BatchSize, math.MaxInt64, true)
		if err != nil {
			if retry(err) {
				continue
			}
			r.recordFailure(ctx, p, version, err)
			return err
		}
		if res.gone {
			return r.rebuildOutcome(ctx, name, version)
		}
		if res.full {
			failures = 0
			continue
		}
		switched, old, err := r.trySwitch(ctx, p)
		if err != nil {
			if retry(err) {
				continue
			}
			return err
		}
		failures = 0
		if switched {
			r.dropVersion(ctx, p, old, version)
			return nil
		}
		switch err := r.rebuildOutcome(ctx, name, version); {
		case err == nil:
			return nil // another process switched it
		case !errors.Is(err, errRebuildPending):
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// errRebuildPending says a rebuild has not switched yet.
var errRebuildPending = errors.New("rebuild not switched yet")

// errCheckpointMoved says a batch's compare-and-set found its checkpoint
// moved by another process (a switch) and rolled back.
var errCheckpointMoved = errors.New("checkpoint moved")

// maxTransientRetries bounds how many transient failures in a row a rebuild
// goes past before it reports the last.
const maxTransientRetries = 10

// transient reports a failure a retry gets past: a deadlock or
// serialization failure PostgreSQL resolved by rolling this transaction
// back, or a checkpoint another process moved under a batch.
func transient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40P01" || pe.Code == "40001" // deadlock_detected, serialization_failure
	}
	return errors.Is(err, errCheckpointMoved)
}

// rebuildOutcome is nil when reads use version (or a newer one) of name,
// errRebuildPending while version is still being built, and an error when
// it was abandoned.
func (r *Runner) rebuildOutcome(ctx context.Context, name string, version int32) error {
	proj, err := r.q.ProjectionGet(ctx, name)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case proj.CurrentVersion >= version:
		return nil
	case proj.NextVersion.Valid && proj.NextVersion.Int32 == version:
		return errRebuildPending
	}
	return fmt.Errorf("%s: the rebuild of version %d was abandoned", name, version)
}

// RunRebuilds holds the context that rebuilds started by RebuildInBackground
// run under, until ctx ends; then it waits for them to stop. A rebuild
// stopped half-way is resumed from its checkpoint by any runner.
func (r *Runner) RunRebuilds(ctx context.Context) error {
	r.bgMu.Lock()
	r.bgCtx = ctx
	r.bgMu.Unlock()
	<-ctx.Done()
	r.bgMu.Lock()
	r.bgCtx = nil
	r.bgMu.Unlock()
	r.bgWG.Wait()
	return nil
}

// RebuildInBackground starts (or joins) a rebuild of name and, while
// RunRebuilds runs, finishes it in the background (in bulk, as Rebuild);
// otherwise the running projectors pick it up.
func (r *Runner) RebuildInBackground(ctx context.Context, name string) (RebuildStart, error) {
	r.bgMu.Lock()
	defer r.bgMu.Unlock()
	if r.bgCtx == nil || r.bgCtx.Err() != nil {
		return r.StartRebuild(ctx, name)
	}
	bg := r.bgCtx
	p, err := Lookup(name)
	if err != nil {
		return RebuildStart{}, err
	}
	var hold *pgx.Conn
	if !r.cfg.NoBulkFill {
		if hold, err = r.holdConn(ctx); err != nil {
			return RebuildStart{}, err
		}
	}
	st, held, err := r.startRebuild(ctx, name, hold)
	if hold != nil && (!held || err != nil) {
		hold.Close(context.WithoutCancel(ctx)) //nolint:errcheck // nothing is held on it
	}
	if err != nil {
		return st, err
	}
	r.bgWG.Go(func() {
		if held {
			r.fillInBulk(bg, []bulkTarget{{p: p, version: st.Version}})
			hold.Close(context.WithoutCancel(bg)) //nolint:errcheck // the session's end releases the lock
		}
		if err := r.finishRebuild(bg, name, st.Version); err != nil && bg.Err() == nil {
			r.log.Error("projection rebuild failed; the projectors go on with it", "projection", name, "version", st.Version, "err", err)
		}
	})
	return st, nil
}

// zonesFor is the report time zones a new version of p holds: the
// configured ones for the rollups with local-day rows, none for the others.
func (r *Runner) zonesFor(p Projection) []string {
	if !p.localDays {
		return []string{}
	}
	return r.cfg.TimeZones
}
