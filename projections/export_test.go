package projections

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// HoldConn is holdConn, for tests: a connection of the kind a rebuild's
// bulk fill writes on.
func (r *Runner) HoldConn(ctx context.Context) (*pgx.Conn, error) { return r.holdConn(ctx) }
