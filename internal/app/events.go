package app

import (
	"context"

	"github.com/warehouse-api/warehouse/internal/events"
)

// startEvents builds the event streams' feed and starts the loops of the
// integration event log: on PostgreSQL the follower that tells the other
// instances of this one's events and wakes this one's streams for
// theirs, and on every engine the webhook sender (one per instance; the
// instances share the work through leases in the database).
func (a *App) startEvents(ctx context.Context, deps Deps) {
	a.feed = events.NewFeed(a.db, events.FeedConfig{})
	if a.db.IsPostgres() {
		a.goLoop(ctx, "event follower", func(ctx context.Context) { a.db.FollowEvents(ctx, a.log) })
	}
	var cfg events.SenderConfig
	if deps.WebhookSender != nil {
		cfg = *deps.WebhookSender
	}
	sender := events.NewSender(a.db, cfg, a.log)
	a.goLoop(ctx, "webhook sender", sender.Run)
}
