package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/pguuid"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func keysCommand(ctx context.Context, cfg config, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("usage: activity keys create --role ingest|read|admin [--name N] [--community ID]...")
	}
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	role := fs.String("role", "", "ingest, read or admin")
	name := fs.String("name", "", "a name to recognise the key by")
	var communities multiFlag
	fs.Var(&communities, "community", "limit the key to this community (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	r, ok := auth.ParseRole(*role)
	if !ok {
		return fmt.Errorf("--role must be ingest, read or admin")
	}
	var ids []uuid.UUID
	for _, c := range communities {
		id, err := uuid.Parse(c)
		if err != nil {
			return fmt.Errorf("--community %q is not a UUID", c)
		}
		ids = append(ids, id)
	}
	if *name == "" {
		*name = string(r) + " key"
	}
	pool, err := pguuid.NewPool(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrate(ctx, cfg); err != nil {
		return err
	}
	_, secret, err := auth.NewStore(pool, auth.Config{}).Create(ctx, *name, r, ids)
	if err != nil {
		return err
	}
	fmt.Println(secret)
	return nil
}
