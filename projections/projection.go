// Package projections keeps the rollup tables current from the activities
// log, exactly once, and rebuilds them from the log on demand.
//
// Every projection applies the log in (tx_id, id) order, in batches cut below
// the oldest running transaction that may write activities (the projectors'
// own, tagged, do not count), so a row committed after a row with a higher id
// is never skipped; the checkpoint moves by compare-and-set in the
// transaction that applies the batch. See docs/PROJECTIONS.md.
package projections

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activity-dev/activity/internal/db"
)

// Position is a place in the log, in (tx_id, id) order. A checkpoint is the
// last position applied.
type Position struct {
	Tx int64
	ID int64
}

// Less reports whether p is before q in log order.
func (p Position) Less(q Position) bool {
	return p.Tx < q.Tx || (p.Tx == q.Tx && p.ID < q.ID)
}

// String renders p as "tx:id", the form status reports show.
func (p Position) String() string {
	return strconv.FormatInt(p.Tx, 10) + ":" + strconv.FormatInt(p.ID, 10)
}

// ParsePosition reads the "tx:id" form of String.
func ParsePosition(s string) (Position, error) {
	tx, id, ok := strings.Cut(s, ":")
	if !ok {
		return Position{}, fmt.Errorf("checkpoint %q is not tx:id", s)
	}
	var p Position
	var err1, err2 error
	p.Tx, err1 = strconv.ParseInt(tx, 10, 64)
	p.ID, err2 = strconv.ParseInt(id, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return Position{}, fmt.Errorf("checkpoint %q: %w", s, err)
	}
	return p, nil
}

// endOfTx is the last position of every transaction before tx: applying up
// to it takes every row with tx_id < tx and none after.
func endOfTx(tx int64) Position { return Position{Tx: tx - 1, ID: math.MaxInt64} }

// target is the version of a projection a batch applies to, and the report
// time zones whose local days that version holds (fixed when the version
// was created: see Config.TimeZones).
type target struct {
	version int32
	zones   []string
	// first and last bound the created_at of every activity of the range
	// applied (a batch's span, from ActivityRangeEnd; every day when not
	// known, anyDay): the statements plan and lock only the partitions of
	// the log they cover.
	first, last time.Time
}

// anyDay is the target of version for a range whose created_at span is
// not known: it bounds every created_at.
func anyDay(version int32, zones []string) target {
	return target{version: version, zones: zones,
		first: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), last: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}
}

// Projection is one rollup: the statement that applies a range of the log
// to a version of it, and how to drop a version.
type Projection struct {
	// Name is the row in the projections table.
	Name string
	// lockKey is the first key of the advisory lock that admits one applier
	// per (projection, version); the second is the version.
	lockKey int32
	// pace is the least time between the starts of two live batches (0:
	// none). A projection whose cost is per key touched rather than per
	// activity (sketch merges) does far less work per activity in fewer,
	// larger batches, and leaves the cores to the others; so does one
	// whose batches cost mostly the batch itself (smallRollupPace).
	pace time.Duration
	// table, when set, is the rollup table, partitioned by version
	// (partitions.go), whose versions a rebuild writes as tables of their
	// own (bulk.go). Rollups without it (a few rows per community or user)
	// keep every version in one table and delete old versions' rows.
	table string
	// localDays says whether the rollup holds local-day rows of report
	// time zones (Config.TimeZones).
	localDays bool
	// apply adds the activities in (from, to] to the target version's rows.
	apply func(ctx context.Context, q *db.Queries, t target, from, to Position) (int64, error)
	// deleteVersion drops version's rows (rollups without a table: a
	// partitioned rollup drops a version's partition).
	deleteVersion func(ctx context.Context, q *db.Queries, version int32) error
	// deleteOtherVersions drops every version's rows but keep's (the same).
	deleteOtherVersions func(ctx context.Context, q *db.Queries, keep int32) error
}

// applyIn applies (from, to] to t's version in tx, creating the version's
// partition first if the rollup is partitioned and has none yet.
func (p Projection) applyIn(ctx context.Context, tx pgx.Tx, t target, from, to Position) error {
	if p.table != "" {
		if err := ensurePartition(ctx, tx, p.table, t.version); err != nil {
			return err
		}
	}
	_, err := p.apply(ctx, db.New(tx), t, from, to)
	return err
}

// lockBase makes the advisory lock keys unlikely to meet another
// application's: "act" in ASCII, then the projection's number.
const lockBase = 0x61637400

// smallRollupPace paces the projections whose batches cost little beyond
// the batch itself (community_stats, user_stats, user_traits: a few rows
// per community or user, or only the rare user.identify). Unpaced, each ran
// a batch per writer commit (~30 a second at 5,000 events/s), and finding
// the batch, moving the checkpoint and committing took more of the cores
// than their rows; a batch at most every 250 ms leaves them to the event
// counts, which freshness waits on.
const smallRollupPace = 250 * time.Millisecond

// All is every projection, in the order status lists them.
func All() []Projection {
	return []Projection{communityStats, eventCounts, userCounts, userSketches, userStats, userTraits}
}

// Names lists the projections' names.
func Names() []string {
	var names []string
	for _, p := range All() {
		names = append(names, p.Name)
	}
	return names
}

// ErrUnknownProjection is returned for a name that is no projection.
var ErrUnknownProjection = errors.New("unknown projection")

// Lookup returns the projection called name.
func Lookup(name string) (Projection, error) {
	for _, p := range All() {
		if p.Name == name {
			return p, nil
		}
	}
	return Projection{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownProjection, name, strings.Join(Names(), ", "))
}

// ApplyWholeLog applies every activity after each projection's checkpoint
// to the version reads use, and moves the checkpoint to the end of the
// log. Unlike the runner it does not wait for transactions still running,
// so it is only for a database no one else writes to: test fixtures.
func ApplyWholeLog(ctx context.Context, pool *pgxpool.Pool) error {
	for _, p := range All() {
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			q := db.New(tx)
			proj, err := q.ProjectionGet(ctx, p.Name)
			if err != nil {
				return err
			}
			cp, err := q.CheckpointGetForUpdate(ctx, db.CheckpointGetForUpdateParams{Name: p.Name, Version: proj.CurrentVersion})
			if err != nil {
				return err
			}
			end, err := q.ActivityLogEnd(ctx)
			if errors.Is(err, pgx.ErrNoRows) || err == nil && !(Position{cp.TxID, cp.ActivityID}).Less(Position{end.TxID, end.ID}) {
				return nil // nothing after the checkpoint
			}
			if err != nil {
				return err
			}
			from, to := Position{Tx: cp.TxID, ID: cp.ActivityID}, Position{Tx: end.TxID, ID: end.ID}
			if err := p.applyIn(ctx, tx, anyDay(proj.CurrentVersion, cp.TimeZones), from, to); err != nil {
				return err
			}
			_, err = q.CheckpointAdvance(ctx, db.CheckpointAdvanceParams{
				Name: p.Name, Version: proj.CurrentVersion, OldTx: from.Tx, OldID: from.ID, NewTx: to.Tx, NewID: to.ID,
				TimeZones: cp.TimeZones,
			})
			return err
		}); err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
	}
	return nil
}
