package projections

import (
	"context"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

// HoldConn is holdConn, for tests: a connection of the kind a rebuild's
// bulk fill writes on.
func (r *Runner) HoldConn(ctx context.Context) (*pgx.Conn, error) { return r.holdConn(ctx) }

// TrySwitch is trySwitch for the projection called name.
func (r *Runner) TrySwitch(ctx context.Context, name string) (bool, error) {
	p, err := Lookup(name)
	if err != nil {
		return false, err
	}
	switched, _, err := r.trySwitch(ctx, p)
	return switched, err
}

// ApplyVersion applies to version of the projection called name, batch
// after batch, everything committed now.
func (r *Runner) ApplyVersion(ctx context.Context, name string, version int32) error {
	return r.stepUntilNotFull(ctx, name, version, r.cfg.BatchSize, math.MaxInt64)
}

// stepUntilNotFull runs batches of maxRows below below (as step) until one
// is not full.
func (r *Runner) stepUntilNotFull(ctx context.Context, name string, version int32, maxRows int, below int64) error {
	p, err := Lookup(name)
	if err != nil {
		return err
	}
	for {
		res, err := r.step(ctx, p, version, maxRows, below, true)
		if err != nil || !res.full {
			return err
		}
	}
}

// Pace is the least time between the starts of two live batches of the
// projection called name (0: not paced).
func Pace(name string) time.Duration {
	p, _ := Lookup(name)
	return p.pace
}

// LockKey is the advisory lock key of the projection called name.
func LockKey(name string) int32 {
	p, _ := Lookup(name)
	return p.lockKey
}

// DropVersion is dropVersion for the projection called name.
func (r *Runner) DropVersion(ctx context.Context, name string, old, current int32) {
	p, _ := Lookup(name)
	r.dropVersion(ctx, p, old, current)
}

// FillBelow applies to version of the projection called name, as a
// rebuild's fill does, every row of the transactions below the watermark
// below.
func (r *Runner) FillBelow(ctx context.Context, name string, version int32, below int64) error {
	return r.stepUntilNotFull(ctx, name, version, r.cfg.RebuildBatch, below)
}

// Step applies one batch of at most the configured batch size to version
// of the projection called name, and tells how many rows it applied and
// whether it was full.
func (r *Runner) Step(ctx context.Context, name string, version int32) (rows int, full bool, err error) {
	p, err := Lookup(name)
	if err != nil {
		return 0, false, err
	}
	res, err := r.step(ctx, p, version, r.cfg.BatchSize, math.MaxInt64, true)
	return res.rows, res.full, err
}
