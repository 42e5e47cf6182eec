package projections

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/activity-dev/activity/internal/db"
)

// The bulk fill: how a rebuild builds the new version of the large rollups
// (event_counts, user_sketches, user_counts, user_stats) from the log.
//
// Applying the log batch by batch costs an upsert through two indexes per
// rollup row, and one pass over the log per projection. The bulk fill reads
// the log once, below the watermark, as a binary COPY; folds it in memory
// into the rows of every version being rebuilt (one builder per rollup,
// concurrently); writes each version into a fresh table with COPY ... FREEZE
// (no index to maintain, rows written all-visible, so index-only reads need
// no vacuum); builds the indexes once, sorted; and attaches the table as
// the version's partition, advancing the version's checkpoint from the
// start of the log to the watermark in the same transaction. Rows of later
// transactions are then applied by ordinary batches, and the switch
// happens as for any rebuild.
//
// The rebuild holds the version's advisory lock for the session throughout,
// so no batch applies to the version meanwhile. If the process dies, the
// lock and the unattached table's transaction go with it; the projectors
// then fill the version batch by batch from the start of the log, and the
// next rebuild drops any leftover table.

// bulkRow is one activity as the bulk fill reads it.
type bulkRow struct {
	at      int64 // created_at, microseconds since the Unix epoch
	comm    int32 // index into bulkDict.communities; -1: none
	typ     int32 // index into bulkDict.types
	user    [16]byte
	hasUser bool
	// nilComm: the community is the nil UUID, which the per-user rollups
	// key activities without a community by.
	nilComm bool
	// named is set for the activities that name something: a
	// community.created (community_stats) or a user.identify (user_traits).
	named *bulkNamed
}

// rowBatch is a batch of log rows on its way to the builders; users counts
// the builders that have yet to read it.
type rowBatch struct {
	rows  []bulkRow
	users atomic.Int32
}

// bulkNamed is what the bulk fill reads of an activity that names
// something: its kind, event id and metadata (JSON text).
type bulkNamed struct {
	identify bool // user.identify, else community.created
	eventID  string
	metadata []byte
}

// bulkDict holds the communities and event types of the log; rows refer to
// them by index. The reader fills it; builders read it only once the log
// has been read.
type bulkDict struct {
	communities [][16]byte
	commIndex   map[[16]byte]int32
	types       []string
	typeIndex   map[string]int32
}

// bulkTarget is a version of a projection to fill.
type bulkTarget struct {
	p       Projection
	version int32
	zones   []string
}

// bulkBuilder folds log rows into the rows of the tables it builds.
// Builders of rollups without a table (Projection.table) have no tables;
// they are smallBuilders.
type bulkBuilder interface {
	// tables lists the tables it writes, with their COPY column lists.
	tables() []bulkTable
	// add folds rows in. It is called from one goroutine.
	add(rows []bulkRow)
	// emit writes each table's rows to out[table].
	emit(ctx context.Context, d *bulkDict, out map[string]*copyEncoder) error
}

// smallBuilder is the builder of a rollup of few rows, which are written
// in the transaction that moves the version's checkpoint past the fill.
type smallBuilder interface {
	bulkBuilder
	projection() string
	insert(ctx context.Context, tx pgx.Tx, d *bulkDict) error
}

// bulkTable is a rollup table a builder writes and the version it fills.
type bulkTable struct {
	name    string
	version int32
	columns []string
}

// bulkFill fills the given versions from the log below a fresh watermark
// and attaches them. The caller holds each version's advisory lock for its
// session. A target whose checkpoint is not at the start of the log (some
// batch got there first) is left to the batches.
func (r *Runner) bulkFill(ctx context.Context, targets []bulkTarget) error {
	start := time.Now()
	// The builders hold a few GB of small objects, most of which live to
	// the end: collecting less often saves much of the fill's CPU.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	w, err := r.q.ActivityWatermark(ctx, ApplicationName)
	if err != nil {
		return fmt.Errorf("watermark: %w", err)
	}
	var todo []bulkTarget
	for _, t := range targets {
		cp, err := r.q.CheckpointGet(ctx, db.CheckpointGetParams{Name: t.p.Name, Version: t.version})
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s v%d: %w", t.p.Name, t.version, err)
		}
		if cp.TxID != 0 || cp.ActivityID != 0 {
			continue
		}
		t.zones = cp.TimeZones
		todo = append(todo, t)
	}
	if len(todo) == 0 {
		return nil
	}
	builders, dict, rows, budget, err := r.bulkRead(ctx, w, todo)
	if err != nil {
		return err
	}
	read := time.Since(start)
	if err := r.bulkWrite(ctx, dict, builders); err != nil {
		return err
	}
	small := map[string]smallBuilder{}
	for _, b := range builders {
		if sb, ok := b.(smallBuilder); ok {
			small[sb.projection()] = sb
		}
	}
	for _, t := range todo {
		if err := r.bulkAttach(ctx, t, w, func(tx pgx.Tx) error { return small[t.p.Name].insert(ctx, tx, dict) }); err != nil {
			return err
		}
		r.metrics.BulkFills.WithLabelValues(t.p.Name).Inc()
		r.metrics.BulkRows.WithLabelValues(t.p.Name).Add(float64(rows))
	}
	r.log.Info("projection versions filled in bulk", "projections", bulkNames(todo), "activities", rows, "memory_mib", budget.used.Load()>>20,
		"watermark", w, "read", read.Round(time.Millisecond), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func bulkNames(ts []bulkTarget) string {
	var names []string
	for _, t := range ts {
		names = append(names, t.p.Name+" v"+strconv.Itoa(int(t.version)))
	}
	return strings.Join(names, ", ")
}

// newBulkBuilders makes the builders of the targets' tables.
// rows is how many rows the log holds below the watermark (activity_txs
// says: it counts the rows of a partition dropped by hand), to size buffers by.
func (r *Runner) newBulkBuilders(ts []bulkTarget, span logSpan, rows int64, budget *bulkBudget) ([]bulkBuilder, error) {
	var out []bulkBuilder
	var users *userRollupsBuild
	for _, t := range ts {
		switch t.p.Name {
		case eventCounts.Name:
			out = append(out, newEventCountsBuild(budget, t.version, t.zones, r.q, span))
		case userSketches.Name:
			zones, err := loadZones(t.zones)
			if err != nil {
				return nil, err
			}
			all, perType := newUserSketchesBuilds(budget, t.version, zones, span)
			out = append(out, all, perType)
		case communityStats.Name:
			out = append(out, &communityStatsBuild{version: t.version})
		case userTraits.Name:
			out = append(out, &userTraitsBuild{budget: budget, version: t.version, traits: map[traitKey]traitValue{}})
		case userCounts.Name, userStats.Name:
			if users == nil {
				users = newUserRollupsBuild(budget, rows)
				out = append(out, users)
			}
			if t.p.Name == userCounts.Name {
				users.countsVersion = t.version
			} else {
				users.statsVersion = t.version
			}
		default:
			return nil, fmt.Errorf("%s has no bulk fill", t.p.Name)
		}
	}
	return out, nil
}

// bulkRead streams the log below w to the builders of the targets'
// tables and returns them, the dictionary of the log's communities and
// event types, how many rows it read, and the builders' memory budget.
func (r *Runner) bulkRead(ctx context.Context, w int64, targets []bulkTarget) ([]bulkBuilder, *bulkDict, int64, *bulkBudget, error) {
	// A connection of its own, here and in fillTable: the pool's serve reads
	// and batches, and the fill would hold five of them for its duration.
	conn, err := r.holdConn(ctx)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to keep
	// One snapshot for the span and the rows.
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, 0, nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	q := db.New(tx)
	if err := q.ProjectorPlanSettings(ctx, ApplicationName); err != nil {
		return nil, nil, 0, nil, err
	}
	ts, err := q.ActivityTimeSpan(ctx, w)
	if err != nil {
		return nil, nil, 0, nil, fmt.Errorf("time span of the log: %w", err)
	}
	span := newLogSpan(ts.FirstAt, ts.LastAt)
	budget := &bulkBudget{limit: r.cfg.BulkMemory}
	builders, err := r.newBulkBuilders(targets, span, ts.Rows, budget)
	if err != nil {
		return nil, nil, 0, nil, err
	}

	dict := &bulkDict{commIndex: map[[16]byte]int32{}, typeIndex: map[string]int32{}}
	// Every builder reads every batch; the last one done with a batch
	// hands it back for the reader to refill (a fresh 400 KB per 8,192
	// rows would be gigabytes of garbage over a large log).
	chans := make([]chan *rowBatch, len(builders))
	free := make(chan *rowBatch, 4*len(builders)+2)
	var wg sync.WaitGroup
	for i, b := range builders {
		chans[i] = make(chan *rowBatch, 4)
		wg.Go(func() {
			for rb := range chans[i] {
				b.add(rb.rows)
				if rb.users.Add(-1) == 0 {
					select {
					case free <- rb:
					default:
					}
				}
			}
		})
	}
	var total int64
	newBatch := func() *rowBatch {
		select {
		case rb := <-free:
			rb.rows = rb.rows[:0]
			return rb
		default:
			return &rowBatch{rows: make([]bulkRow, 0, r.cfg.BulkBatch)}
		}
	}
	rb := newBatch()
	flush := func() {
		if len(rb.rows) == 0 {
			return
		}
		rb.users.Store(int32(len(chans)))
		for _, c := range chans {
			c <- rb // read-only until every builder is done with it
		}
		total += int64(len(rb.rows))
		rb = newBatch()
	}
	nilUUID := [16]byte{}
	reader := &copyReader{row: func(f [][]byte) error {
		if len(f) != 5 || len(f[0]) != 8 || f[2] == nil || (f[1] != nil && len(f[1]) != 16) || (f[3] != nil && len(f[3]) != 16) {
			return fmt.Errorf("%w: unexpected activity row", errCopyFormat)
		}
		row := bulkRow{at: int64(binary.BigEndian.Uint64(f[0])) + pgEpochMicros, comm: commNone}
		if _, ok := span.dayIndex(row.at); !ok {
			return fmt.Errorf("an activity at %s is outside the log's span", time.UnixMicro(row.at).UTC().Format(time.RFC3339Nano))
		}
		if f[1] != nil {
			c := [16]byte(f[1])
			i, ok := dict.commIndex[c]
			if !ok {
				i = int32(len(dict.communities))
				dict.communities = append(dict.communities, c)
				dict.commIndex[c] = i
			}
			row.comm, row.nilComm = i, c == nilUUID
		}
		i, ok := dict.typeIndex[string(f[2])]
		if !ok {
			i = int32(len(dict.types))
			dict.types = append(dict.types, string(f[2]))
			dict.typeIndex[string(f[2])] = i
		}
		row.typ = i
		if f[3] != nil {
			row.user, row.hasUser = [16]byte(f[3]), true
		}
		if f[4] != nil {
			id, metadata, ok := namedRecord(f[4])
			if !ok {
				return fmt.Errorf("%w: unexpected (event_id, metadata) record", errCopyFormat)
			}
			// The buffer is the reader's: copy.
			row.named = &bulkNamed{identify: string(f[2]) == eventUserIdentify, eventID: string(id), metadata: bytes.Clone(metadata)}
		}
		rb.rows = append(rb.rows, row)
		if len(rb.rows) == r.cfg.BulkBatch {
			flush()
			return budget.check()
		}
		return nil
	}}
	// COPY takes no parameters; w is an integer. The event id and metadata
	// come as one record, so the test of the type runs once per row.
	_, err = tx.Conn().PgConn().CopyTo(ctx, reader,
		"COPY (SELECT a.created_at, a.community_id, a.event_type, a.user_id, "+
			"CASE WHEN a.event_type IN ('"+eventCommunityCreated+"', '"+eventUserIdentify+"') THEN ROW(a.event_id, a.metadata) END "+
			"FROM activities a WHERE a.tx_id < "+strconv.FormatInt(w, 10)+") TO STDOUT (FORMAT binary)")
	if err == nil && !reader.done {
		err = fmt.Errorf("%w: no trailer", errCopyFormat)
	}
	flush()
	for _, c := range chans {
		close(c)
	}
	wg.Wait()
	if err == nil {
		err = budget.check()
	}
	if err != nil {
		return nil, nil, 0, nil, fmt.Errorf("read the log: %w", err)
	}
	return builders, dict, total, budget, nil
}

// namedRecord reads the binary form of the record (event_id TEXT, metadata
// JSONB): its field count, then each field's type OID, length and bytes
// (a JSONB's bytes are a version byte, 1, and the JSON text). It returns
// the event id and the JSON text.
func namedRecord(b []byte) (id, metadata []byte, ok bool) {
	if len(b) < 4 || binary.BigEndian.Uint32(b) != 2 {
		return nil, nil, false
	}
	b = b[4:]
	var fields [2][]byte
	for i := range fields {
		if len(b) < 8 {
			return nil, nil, false
		}
		n := int32(binary.BigEndian.Uint32(b[4:]))
		if n < 0 || len(b) < 8+int(n) {
			return nil, nil, false
		}
		fields[i], b = b[8:8+n], b[8+n:]
	}
	if len(b) != 0 || len(fields[1]) == 0 || fields[1][0] != 1 {
		return nil, nil, false
	}
	return fields[0], fields[1][1:], true
}

// bulkWrite writes every builder's tables into fresh fill tables, one
// connection per table, all at once.
func (r *Runner) bulkWrite(ctx context.Context, dict *bulkDict, builders []bulkBuilder) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel(err)
	}
	for _, b := range builders {
		if len(b.tables()) == 0 {
			continue // a smallBuilder (its rows go in with the checkpoint), or a part of another builder
		}
		out := map[string]*copyEncoder{}
		var writers []*io.PipeWriter
		for _, t := range b.tables() {
			pr, pw := io.Pipe()
			writers = append(writers, pw)
			out[t.name] = newCopyEncoder(pw)
			wg.Go(func() {
				err := r.fillTable(ctx, t, pr)
				pr.CloseWithError(err) // unblocks the builder if the COPY failed
				if err != nil {
					fail(fmt.Errorf("%s v%d: %w", t.name, t.version, err))
				}
			})
		}
		wg.Go(func() {
			start := time.Now()
			err := b.emit(ctx, dict, out)
			if err == nil {
				r.log.Info("rebuilt rows emitted", "table", b.tables()[0].name, "tables", len(b.tables()), "took", time.Since(start).Round(time.Millisecond))
			}
			for _, t := range b.tables() {
				if err == nil {
					err = out[t.name].finish()
				}
			}
			for _, pw := range writers {
				pw.CloseWithError(err) // nil: EOF, the end of the COPY
			}
			if err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// fillTable creates t's fill table and copies src into it, frozen, in one
// transaction (COPY FREEZE needs the table created in it); then builds its
// indexes, like the parent's, all at once, each on a connection of its own
// (a parallel index build leaves a core idle while it writes the index).
//
// Each build reads the table from its first block (no synchronized scan: a
// build joining another's scan midway reads the rows rotated). The rows are
// written in primary-key order, so that index's sort finds its input
// sorted and only checks it, which one process does fastest; the other
// indexes sort for real, with the server's parallel workers: they are the
// last work of a rebuild, beside an idle core (user_counts' top users
// index, whose sort compares keys that mostly tie on their first columns:
// 23 s in one process for 6M rows).
func (r *Runner) fillTable(ctx context.Context, t bulkTable, src io.Reader) error {
	fill := fillName(t.name, t.version)
	conn, err := r.holdConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to keep
	start := time.Now()
	var copied int64
	// The statements stop with ctx; the commit (or rollback) does not: a
	// commit the server finishes after a cancelled client gave up on it would
	// leave a table that a failed fill's cleanup (fillInBulk), running
	// meanwhile, did not see yet.
	if err := pgx.BeginFunc(context.WithoutCancel(ctx), conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+ident(fill)); err != nil {
			return err
		}
		// The check lets ATTACH PARTITION skip scanning the table.
		if _, err := tx.Exec(ctx, "CREATE TABLE "+ident(fill)+" (LIKE "+ident(t.name)+" INCLUDING ALL EXCLUDING INDEXES, CHECK (version = "+strconv.Itoa(int(t.version))+"))"); err != nil {
			return err
		}
		cols := make([]string, len(t.columns))
		for i, c := range t.columns {
			cols[i] = ident(c)
		}
		tag, err := tx.Conn().PgConn().CopyFrom(ctx, src,
			"COPY "+ident(fill)+" ("+strings.Join(cols, ", ")+") FROM STDIN (FORMAT binary, FREEZE)")
		copied = tag.RowsAffected()
		return err
	}); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	copyDone := time.Now()
	defs, err := db.New(conn).PartitionIndexDefs(ctx, t.name)
	if err != nil {
		return err
	}
	builds, constraints, err := indexStatements(defs, t.name, fill)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(builds))
	for i, b := range builds {
		wg.Go(func() {
			c := conn
			if i > 0 {
				if c, errs[i] = r.holdConn(ctx); errs[i] != nil {
					return
				}
				defer c.Close(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to keep
			}
			errs[i] = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "SELECT set_config('maintenance_work_mem', $1, true), set_config('synchronize_seqscans', 'off', true)", r.cfg.RebuildMemory); err != nil {
					return err
				}
				if b.key {
					if _, err := tx.Exec(ctx, "SET LOCAL max_parallel_maintenance_workers = 0"); err != nil {
						return err
					}
				}
				_, err := tx.Exec(ctx, b.stmt)
				return err
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	indexed := time.Now()
	for _, stmt := range append(constraints, "ANALYZE "+ident(fill)) {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	r.log.Info("rebuilt version written", "table", t.name, "version", t.version, "rows", copied,
		"copy", copyDone.Sub(start).Round(time.Millisecond), "index", indexed.Sub(copyDone).Round(time.Millisecond),
		"analyze", time.Since(indexed).Round(time.Millisecond))
	return nil
}

// bulkAttach makes t's fill table the version's partition (for a rollup
// without a table: writes its rows with insert) and moves its checkpoint
// from the start of the log to the end of every transaction below w, in
// one transaction.
func (r *Runner) bulkAttach(ctx context.Context, t bulkTarget, w int64, insert func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		var err error
		if t.p.table == "" {
			err = insert(tx)
		} else {
			err = attachFill(ctx, tx, t)
		}
		if err != nil {
			return err
		}
		end := endOfTx(w)
		n, err := q.CheckpointAdvance(ctx, db.CheckpointAdvanceParams{
			Name: t.p.Name, Version: t.version, NewTx: end.Tx, NewID: end.ID, TimeZones: t.zones,
		})
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("%s v%d: the checkpoint left the start of the log during the bulk fill", t.p.Name, t.version)
		}
		return nil
	})
}

// attachFill makes t's fill table the version's partition.
func attachFill(ctx context.Context, tx pgx.Tx, t bulkTarget) error {
	table, part := t.p.table, partitionName(t.p.table, t.version)
	exists, err := db.New(tx).TableExists(ctx, part)
	if err != nil {
		return err
	}
	if exists {
		// An empty partition no batch has committed to (the checkpoint is
		// at the start of the log): one the migration made, or a leftover
		// of a detach interrupted before its drop.
		if _, err := tx.Exec(ctx, "DROP TABLE "+ident(part)); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, "ALTER TABLE "+ident(fillName(table, t.version))+" RENAME TO "+ident(part)); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "ALTER TABLE "+ident(table)+" ATTACH PARTITION "+ident(part)+" FOR VALUES IN ("+strconv.Itoa(int(t.version))+")")
	return err
}
