package main

import (
	"context"
	"time"
	_ "time/tzdata" // the read API takes any IANA zone, whatever the host has installed

	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/read"
)

// wireReadAPI mounts the analytics API and the activities feed (read/) for
// keys with role read or admin.
func wireReadAPI(a *app) {
	api, err := read.New(read.Config{}, a.pool, a.log)
	if err != nil {
		panic(err) // the zero Config and a.pool are always valid
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := api.LoadSecret(ctx); err != nil {
		// Not fatal: the feed loads the secret again when it first needs it.
		a.log.Warn("read API: cursor secret not loaded yet", "err", err)
	}
	r := a.router.NewRoute().Subrouter()
	r.Use(a.keys.Require(auth.RoleRead))
	api.Register(r)
}
