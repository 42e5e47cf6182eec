// Package partitions creates the daily partitions of the activities log. It
// holds the project's only dynamic DDL: partition names cannot be parameters.
package partitions

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Name is the partition of activities holding day (UTC).
func Name(day time.Time) string {
	return "activities_p" + day.UTC().Format("20060102")
}

// Day returns the UTC day holding t.
func Day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// IsMissing reports whether err is PostgreSQL's "no partition of relation
// found for row".
func IsMissing(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23514" && pgErr.ConstraintName == ""
}

// Manager creates partitions and remembers which exist, so the writer's hot
// path asks PostgreSQL only for days it has not seen.
type Manager struct {
	pool  *pgxpool.Pool
	mu    sync.Mutex
	known map[time.Time]bool
}

// NewManager returns a Manager over pool.
func NewManager(pool *pgxpool.Pool) *Manager {
	return &Manager{pool: pool, known: make(map[time.Time]bool)}
}

// Ensure makes sure a partition exists for the day of every time in ts.
func (m *Manager) Ensure(ctx context.Context, ts ...time.Time) error {
	var missing []time.Time
	m.mu.Lock()
	for _, t := range ts {
		d := Day(t)
		if !m.known[d] {
			missing = append(missing, d)
			m.known[d] = true // claimed; undone below on failure
		}
	}
	m.mu.Unlock()
	for i, d := range missing {
		if err := m.create(ctx, d); err != nil {
			m.mu.Lock()
			for _, u := range missing[i:] {
				delete(m.known, u)
			}
			m.mu.Unlock()
			return err
		}
	}
	return nil
}

// EnsureRange makes sure partitions exist for every day from first to last.
func (m *Manager) EnsureRange(ctx context.Context, first, last time.Time) error {
	var days []time.Time
	for d := Day(first); !d.After(Day(last)); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	return m.Ensure(ctx, days...)
}

// Forget drops the memory of created partitions (after a partition is
// dropped by retention, or when an insert still met a missing one).
func (m *Manager) Forget() {
	m.mu.Lock()
	m.known = make(map[time.Time]bool)
	m.mu.Unlock()
}

func (m *Manager) create(ctx context.Context, day time.Time) error {
	name := pgx.Identifier{Name(day)}.Sanitize()
	from := day.Format(time.RFC3339)
	to := day.AddDate(0, 0, 1).Format(time.RFC3339)
	sql := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF activities FOR VALUES FROM ('%s') TO ('%s')`, name, from, to)
	for attempt := 0; ; attempt++ {
		_, err := m.pool.Exec(ctx, sql)
		if err == nil {
			return nil
		}
		// Two processes creating the same partition at once: one wins, the
		// other sees a duplicate; the partition exists either way.
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "42P07" || pgErr.Code == "23505") {
			return nil
		}
		if attempt >= 2 || !errors.As(err, &pgErr) || pgErr.Code != "40P01" {
			return fmt.Errorf("create partition %s: %w", name, err)
		}
	}
}
