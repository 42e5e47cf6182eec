package main

import (
	"context"

	"github.com/activity-dev/activity/migrations"
)

func migrate(ctx context.Context, cfg config) error {
	return migrations.Up(ctx, cfg.DatabaseURL)
}
