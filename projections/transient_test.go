package projections

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestTransient: the failures a rebuild retries (finishRebuild) are the
// ones PostgreSQL resolves by rolling one transaction back, and a
// checkpoint moved under a batch; anything else ends the rebuild.
func TestTransient(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("switch: %w", &pgconn.PgError{Code: "40P01"}), true},
		{fmt.Errorf("apply: %w", &pgconn.PgError{Code: "40001"}), true},
		{fmt.Errorf("event_counts v2: %w from 1:2 under this batch", errCheckpointMoved), true},
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "42P01"}, false},
		{errors.New("connection refused"), false},
	}
	for _, c := range cases {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
