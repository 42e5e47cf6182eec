package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/activity-dev/activity/internal/db"
)

// The states of a projection.
const (
	StatusLive       = "live"       // the current version is applied as activities arrive
	StatusRebuilding = "rebuilding" // a next version is being built from the log
	StatusFailing    = "failing"    // batches of some version keep failing
)

// Status is a projection's state, as GET /api/v1/admin/projections shows it.
type Status struct {
	Name string `json:"name"`
	// Version is the version reads use.
	Version int32 `json:"version"`
	// Status is live, rebuilding or failing (failing wins over rebuilding).
	Status string `json:"status"`
	// Checkpoint is the current version's last applied position in the log,
	// "tx_id:id" ("0:0" before the first activity).
	Checkpoint string `json:"checkpoint"`
	// LagSeconds is the age of the oldest received activity the current
	// version has not applied; 0 when caught up.
	LagSeconds float64 `json:"lag_seconds"`
	// RowsBehind counts the committed activities after Checkpoint.
	RowsBehind int64 `json:"rows_behind"`
	// LastError is the last failure of a failing version.
	LastError string `json:"last_error,omitempty"`
	// Next is the version a rebuild is building, while there is one.
	Next *VersionStatus `json:"next,omitempty"`
}

// VersionStatus is the progress of a version being rebuilt.
type VersionStatus struct {
	Version    int32  `json:"version"`
	Status     string `json:"status"`
	Checkpoint string `json:"checkpoint"`
	RowsBehind int64  `json:"rows_behind"`
}

// Status reports every projection, by name.
func (r *Runner) Status(ctx context.Context) ([]Status, error) {
	var out []Status
	for _, p := range All() {
		st, err := r.status(ctx, p.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// StatusOf reports one projection (ErrUnknownProjection for a wrong name).
func (r *Runner) StatusOf(ctx context.Context, name string) (Status, error) {
	if _, err := Lookup(name); err != nil {
		return Status{}, err
	}
	return r.status(ctx, name)
}

func (r *Runner) status(ctx context.Context, name string) (st Status, err error) {
	err = r.readLog(ctx, func(q *db.Queries) error {
		st, err = statusIn(ctx, q, name, r.cfg.Now())
		return err
	})
	return st, err
}

// statusIn reads the status of the projection called name at now.
func statusIn(ctx context.Context, q *db.Queries, name string, now time.Time) (Status, error) {
	proj, err := q.ProjectionGet(ctx, name)
	if err != nil {
		return Status{}, fmt.Errorf("%s: %w", name, err)
	}
	cps, err := q.CheckpointListByName(ctx, name)
	if err != nil {
		return Status{}, fmt.Errorf("%s: %w", name, err)
	}
	st := Status{Name: name, Version: proj.CurrentVersion, Status: StatusLive, Checkpoint: Position{}.String()}
	if proj.NextVersion.Valid {
		st.Status = StatusRebuilding
	}
	failing := false
	for _, cp := range cps {
		pos := Position{Tx: cp.TxID, ID: cp.ActivityID}
		if cp.Status == StatusFailing {
			failing = true
			st.LastError = cp.LastError.String
		}
		switch {
		case cp.Version == proj.CurrentVersion:
			rows, lag, err := backlog(ctx, q, pos, now)
			if err != nil {
				return Status{}, fmt.Errorf("%s: backlog: %w", name, err)
			}
			st.Checkpoint = pos.String()
			st.RowsBehind = rows
			st.LagSeconds = max(lag, 0)
		case proj.NextVersion.Valid && cp.Version == proj.NextVersion.Int32:
			rows, _, err := backlog(ctx, q, pos, now)
			if err != nil {
				return Status{}, fmt.Errorf("%s: backlog: %w", name, err)
			}
			st.Next = &VersionStatus{Version: cp.Version, Status: cp.Status, Checkpoint: pos.String(), RowsBehind: rows}
		}
	}
	if failing {
		st.Status = StatusFailing
	}
	return st, nil
}

// backlog reads what a checkpoint at pos has not applied yet: the rows, and
// the age at now of the oldest received of them (0 when there are none).
// The transactions after pos's come from activity_txs; the rest of pos's
// own, when a batch was cut inside it, from the log, over its span only.
func backlog(ctx context.Context, q *db.Queries, pos Position, now time.Time) (rows int64, lag float64, err error) {
	b, err := q.ActivityBacklog(ctx, db.ActivityBacklogParams{Now: now, AfterTx: pos.Tx, AfterID: pos.ID})
	if err != nil {
		return 0, 0, err
	}
	rows, lag = b.RowsBehind, b.LagSeconds
	if b.WithinLastID > pos.ID {
		w, err := q.ActivityTxBacklog(ctx, db.ActivityTxBacklogParams{
			Now: now, TxID: pos.Tx, AfterID: pos.ID, FirstAt: b.WithinFirstAt, LastAt: b.WithinLastAt,
		})
		if err != nil {
			return 0, 0, err
		}
		rows += w.RowsBehind
		lag = max(lag, w.LagSeconds)
	}
	return rows, lag, nil
}
