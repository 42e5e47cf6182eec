package projections

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/activity-dev/activity/internal/db"
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
	p, err := Lookup(name)
	if err != nil {
		return RebuildStart{}, err
	}
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return RebuildStart{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	q := r.q.WithTx(tx)
	proj, err := q.ProjectionGetForUpdate(ctx, name)
	if errors.Is(err, pgx.ErrNoRows) {
		return RebuildStart{}, fmt.Errorf("projection %s has no row in projections; apply the migrations", name)
	}
	if err != nil {
		return RebuildStart{}, fmt.Errorf("%s: %w", name, err)
	}
	if proj.NextVersion.Valid {
		return RebuildStart{Name: name, Version: proj.NextVersion.Int32, Status: StatusRebuilding}, nil
	}
	next := proj.CurrentVersion + 1
	// Leftovers of an interrupted switch or delete: no reader uses them.
	if err := q.CheckpointDeleteOthers(ctx, db.CheckpointDeleteOthersParams{Name: name, Keep: proj.CurrentVersion}); err != nil {
		return RebuildStart{}, fmt.Errorf("%s: %w", name, err)
	}
	if err := p.deleteOtherVersions(ctx, q, proj.CurrentVersion); err != nil {
		return RebuildStart{}, fmt.Errorf("%s: delete stale versions: %w", name, err)
	}
	if err := q.CheckpointCreate(ctx, db.CheckpointCreateParams{Name: name, Version: next, TimeZones: r.zonesFor(p)}); err != nil {
		return RebuildStart{}, fmt.Errorf("%s: %w", name, err)
	}
	if err := q.ProjectionSetNext(ctx, db.ProjectionSetNextParams{Name: name, NextVersion: next}); err != nil {
		return RebuildStart{}, fmt.Errorf("%s: %w", name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return RebuildStart{}, fmt.Errorf("%s: %w", name, err)
	}
	r.log.Info("projection rebuild started", "projection", name, "version", next)
	return RebuildStart{Name: name, Version: next, Status: StatusRebuilding, Started: true}, nil
}

// Rebuild rebuilds the projection called name from the log and returns when
// reads use the rebuilt version. A rebuild already running is finished
// rather than restarted.
func (r *Runner) Rebuild(ctx context.Context, name string) error {
	st, err := r.StartRebuild(ctx, name)
	if err != nil {
		return err
	}
	return r.finishRebuild(ctx, name, st.Version)
}

// RebuildAll rebuilds every projection concurrently and returns when all
// are live again.
func (r *Runner) RebuildAll(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(All()))
	for i, p := range All() {
		wg.Go(func() { errs[i] = r.Rebuild(ctx, p.Name) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// finishRebuild fills version of the projection from the log and switches
// reads to it.
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
	w, err := r.q.ActivityWatermark(ctx)
	if err != nil {
		return fmt.Errorf("%s: watermark: %w", name, err)
	}
	for {
		res, err := r.step(ctx, p, version, r.cfg.RebuildBatch, w, true)
		if err != nil {
			r.recordFailure(ctx, p, version, err)
			return err
		}
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
			r.recordFailure(ctx, p, version, err)
			return err
		}
		if res.gone {
			return r.rebuildOutcome(ctx, name, version)
		}
		if res.full {
			continue
		}
		switched, old, err := r.trySwitch(ctx, p)
		if err != nil {
			return err
		}
		if switched {
			r.dropVersion(ctx, p, old)
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
// RunRebuilds runs, finishes it in the background; otherwise the running
// projectors pick it up.
func (r *Runner) RebuildInBackground(ctx context.Context, name string) (RebuildStart, error) {
	st, err := r.StartRebuild(ctx, name)
	if err != nil {
		return st, err
	}
	r.bgMu.Lock()
	defer r.bgMu.Unlock()
	if r.bgCtx != nil && r.bgCtx.Err() == nil {
		bg := r.bgCtx
		r.bgWG.Go(func() {
			if err := r.finishRebuild(bg, name, st.Version); err != nil && bg.Err() == nil {
				r.log.Error("projection rebuild failed; the projectors go on with it", "projection", name, "version", st.Version, "err", err)
			}
		})
	}
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
