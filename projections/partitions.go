package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activity-dev/activity/internal/db"
)

// The large rollups are partitioned by version (migration 00007): version v
// of a projection whose table is T lives in the partition T_v<v>. These
// helpers are the DDL that manages them; the names come from the
// projection's table and the version, never from input, and are quoted.

// partitionName is the partition of version of table.
func partitionName(table string, version int32) string {
	return table + "_v" + strconv.Itoa(int(version))
}

// fillName is the table a rebuild fills version of table in before it
// becomes the partition.
func fillName(table string, version int32) string {
	return table + "_fill_v" + strconv.Itoa(int(version))
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// ensurePartition creates and attaches, in tx, an empty partition (with the
// parent's indexes) for version of table if it has none. It runs in the
// transaction of the batch that applies to the version, under the
// version's advisory lock, so a rebuild filling the version in bulk (which
// holds that lock) never finds a partition in its way.
//
// ATTACH PARTITION locks the parent SHARE UPDATE EXCLUSIVE: reads and other
// batches go on; only another attach or detach of the same table waits.
func ensurePartition(ctx context.Context, tx pgx.Tx, table string, version int32) error {
	name := partitionName(table, version)
	parts, err := db.New(tx).PartitionList(ctx, table)
	if err != nil {
		return fmt.Errorf("list partitions of %s: %w", table, err)
	}
	for _, p := range parts {
		if p.Name == name && !p.DetachPending {
			return nil
		}
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+ident(name)+" (LIKE "+ident(table)+" INCLUDING ALL)"); err != nil {
		return fmt.Errorf("create partition %s: %w", name, err)
	}
	if _, err := tx.Exec(ctx, "ALTER TABLE "+ident(table)+" ATTACH PARTITION "+ident(name)+" FOR VALUES IN ("+strconv.Itoa(int(version))+")"); err != nil {
		return fmt.Errorf("attach partition %s: %w", name, err)
	}
	return nil
}

// dropPartition detaches and drops the partition of version of table, if
// there is one. The detach is a plain one, not DETACH ... CONCURRENTLY:
// PostgreSQL 15.20 crashed here twice (signal 11 in a live INSERT ... ON
// CONFLICT routing rows into the table) while a concurrent detach of one
// of its partitions ran. A plain detach changes the catalog under the
// parent's ACCESS EXCLUSIVE lock, for an instant; lock_timeout keeps it
// from holding up the reads and batches queued behind it for more than
// detachLockTimeout when a long statement holds the table, and it tries
// again. The table is dropped after the detach commits, outside the lock.
// A detach an earlier version of this code left pending is finished.
func dropPartition(ctx context.Context, pool *pgxpool.Pool, table string, version int32) error {
	name := partitionName(table, version)
	parts, err := db.New(pool).PartitionList(ctx, table)
	if err != nil {
		return fmt.Errorf("list partitions of %s: %w", table, err)
	}
	for _, p := range parts {
		if p.Name != name {
			continue
		}
		if p.DetachPending {
			_, err = pool.Exec(ctx, "ALTER TABLE "+ident(table)+" DETACH PARTITION "+ident(name)+" FINALIZE")
		} else {
			err = detachPartition(ctx, pool, table, name)
		}
		if err != nil {
			return fmt.Errorf("detach %s: %w", name, err)
		}
	}
	if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS "+ident(name)); err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	return nil
}

// detachLockTimeout bounds how long a detach waits for its lock (and so
// how long statements queued behind it wait) before it tries again.
const detachLockTimeout = 100 * time.Millisecond

// detachTries bounds how often a detach tries; the pauses between tries
// grow from 10 to 200 ms.
const detachTries = 300

// detachPartition detaches the partition name of table, trying again while
// its lock times out (a statement on the table held it): detachTries
// tries, at most about a minute and a half.
func detachPartition(ctx context.Context, pool *pgxpool.Pool, table, name string) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT set_config('lock_timeout', $1, true)", strconv.Itoa(int(detachLockTimeout.Milliseconds()))+"ms"); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "ALTER TABLE "+ident(table)+" DETACH PARTITION "+ident(name))
			return err
		})
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || pe.Code != "55P03" || attempt == detachTries { // lock_not_available
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(min(attempt, 20)) * 10 * time.Millisecond):
		}
	}
}

// dropPartitionsExcept drops every partition of table but those of the
// versions in keep, and the fill tables of bulk fills that died before
// attaching them. Only for when no rebuild of table runs.
func dropPartitionsExcept(ctx context.Context, pool *pgxpool.Pool, table string, keep ...int32) error {
	q := db.New(pool)
	fills, err := q.FillTableList(ctx, table)
	if err != nil {
		return fmt.Errorf("list fill tables of %s: %w", table, err)
	}
	for _, f := range fills {
		if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS "+ident(f)); err != nil {
			return fmt.Errorf("drop %s: %w", f, err)
		}
	}
	parts, err := q.PartitionList(ctx, table)
	if err != nil {
		return fmt.Errorf("list partitions of %s: %w", table, err)
	}
	for _, p := range parts {
		v, ok := partitionVersion(table, p.Name)
		if !ok || slices.Contains(keep, v) {
			continue
		}
		if err := dropPartition(ctx, pool, table, v); err != nil {
			return err
		}
	}
	return nil
}

// partitionVersion reads the version out of a partition's name.
func partitionVersion(table, name string) (int32, bool) {
	s, ok := strings.CutPrefix(name, table+"_v")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 32)
	return int32(v), err == nil
}

// indexBuild is a statement that builds an index of a fill table; key
// tells the primary key's, whose order the bulk fill writes rows in.
type indexBuild struct {
	stmt string
	key  bool
}

// indexStatements turns the definitions of the parent's indexes into the
// statements that give table the same ones: builds, which may run at once,
// then constraints, which make the index of a primary key or unique
// constraint the table's constraint (ATTACH PARTITION adopts the indexes
// only then; a mere unique index would be built a second time).
func indexStatements(defs []db.PartitionIndexDefsRow, parent, table string) (builds []indexBuild, constraints []string, err error) {
	for i, d := range defs {
		// CREATE [UNIQUE] INDEX name ON ONLY public.parent USING ...
		on := strings.Index(d.IndexDef, " ON ONLY ")
		using := strings.Index(d.IndexDef, " USING ")
		if on < 0 || using < on {
			return nil, nil, fmt.Errorf("index of %s: unexpected definition %q", parent, d.IndexDef)
		}
		create := "CREATE INDEX "
		if strings.HasPrefix(d.IndexDef, "CREATE UNIQUE INDEX") {
			create = "CREATE UNIQUE INDEX "
		}
		name := table + "_idx" + strconv.Itoa(i)
		builds = append(builds, indexBuild{stmt: create + ident(name) + " ON " + ident(table) + d.IndexDef[using:],
			key: strings.HasPrefix(d.ConstraintDef, "PRIMARY KEY")})
		switch {
		case d.ConstraintDef == "":
		case strings.HasPrefix(d.ConstraintDef, "PRIMARY KEY"):
			constraints = append(constraints, "ALTER TABLE "+ident(table)+" ADD PRIMARY KEY USING INDEX "+ident(name))
		case strings.HasPrefix(d.ConstraintDef, "UNIQUE"):
			constraints = append(constraints, "ALTER TABLE "+ident(table)+" ADD UNIQUE USING INDEX "+ident(name))
		default:
			return nil, nil, fmt.Errorf("index of %s: unexpected constraint %q", parent, d.ConstraintDef)
		}
	}
	return builds, constraints, nil
}
