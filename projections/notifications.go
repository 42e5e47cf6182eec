package projections

import (
	"context"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
)

// runNotifications runs a Watermill router with one handler per projector,
// each in its own consumer group ("projector.<name>") on the writer's
// topic. A handler only wakes its projector: the message is a wake-up, the
// work and its exactly-once guarantee are in the database. A handler whose
// subscription ends (the Redis stream subscriber closes on a read error or
// an undecodable entry) is added again; a router that stops is rebuilt.
func (r *Runner) runNotifications(ctx context.Context) {
	wlog := watermill.NewSlogLogger(r.log)
	backoff := r.cfg.MinBackoff
	for ctx.Err() == nil {
		err := r.runRouter(ctx, wlog)
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("projector notifications stopped; restarting (the tick goes on meanwhile)", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, r.cfg.MaxBackoff)
	}
}

func (r *Runner) runRouter(ctx context.Context, wlog watermill.LoggerAdapter) error {
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 5 * time.Second}, wlog)
	if err != nil {
		return err
	}
	if r.cfg.PoisonPublisher != nil {
		poison, err := middleware.PoisonQueue(r.cfg.PoisonPublisher, r.cfg.PoisonTopic)
		if err != nil {
			return err
		}
		router.AddMiddleware(poison)
	}
	router.AddMiddleware(
		middleware.Retry{
			MaxRetries: 3, InitialInterval: 50 * time.Millisecond, MaxInterval: time.Second, Multiplier: 2, Logger: wlog,
		}.Middleware,
		middleware.Recoverer,
	)
	var handlers []*message.Handler
	var projs []Projection
	for _, p := range r.projections {
		h, err := r.addHandler(router, p)
		if err != nil {
			_ = router.Close()
			return err
		}
		handlers = append(handlers, h)
		projs = append(projs, p)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-rctx.Done():
			return
		case <-router.Running():
		}
		for i, h := range handlers {
			go r.superviseHandler(rctx, router, h, projs[i])
		}
	}()
	go func() {
		<-rctx.Done()
		_ = router.Close()
	}()
	return router.Run(rctx)
}

// addHandler subscribes p's consumer group and adds its wake-up handler.
func (r *Runner) addHandler(router *message.Router, p Projection) (*message.Handler, error) {
	sub, err := r.cfg.NewSubscriber("projector." + p.Name)
	if err != nil {
		return nil, err
	}
	return router.AddConsumerHandler("projector."+p.Name, r.cfg.Topic, sub, func(*message.Message) error {
		r.Wake(p.Name)
		return nil
	}), nil
}

// superviseHandler adds p's handler again whenever its subscription ends
// while the router runs. h must have been started.
func (r *Runner) superviseHandler(ctx context.Context, router *message.Router, h *message.Handler, p Projection) {
	backoff := r.cfg.MinBackoff
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.Stopped():
		}
		r.Wake(p.Name) // a notification may have been lost with the subscription
		for {
			if ctx.Err() != nil || router.IsClosed() {
				return
			}
			r.log.Warn("projector subscription ended; subscribing again", "projection", p.Name, "backoff", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, r.cfg.MaxBackoff)
			nh, err := r.addHandler(router, p)
			if err != nil {
				r.log.Warn("subscribing the projector failed", "projection", p.Name, "err", err)
				continue
			}
			if err := router.RunHandlers(ctx); err != nil {
				r.log.Warn("running the projector handler failed", "projection", p.Name, "err", err)
				return // the router is going down; runNotifications rebuilds it
			}
			h = nh
			break
		}
	}
}
