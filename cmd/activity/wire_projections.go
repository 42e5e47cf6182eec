package main

import (
	"context"
	"fmt"
	"log/slog"
)

// wireProjectionsAPI mounts the projection admin endpoints.
func wireProjectionsAPI(a *app) {}

// wireProjectors starts the projectors.
func wireProjectors(a *app) error { return nil }

func projectionsCommand(ctx context.Context, cfg config, args []string, log *slog.Logger) error {
	return fmt.Errorf("projections: not available yet")
}
