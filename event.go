package warehouse

import (
	"encoding/json"
	"time"
)

// Event kinds of the integration event log: what GET /api/v1/events streams
// and webhooks deliver. Each is written in the transaction of the change it
// describes, so an event exists exactly when its change committed.
const (
	EventMovementPosted      = "movement.posted"
	EventOrderChanged        = "order.state_changed"
	EventReservationCreated  = "reservation.created"
	EventReservationReleased = "reservation.released"
	EventPickConfirmed       = "pick.confirmed"
	EventPurchaseReceived    = "purchase_order.received"
	EventPurchaseChanged     = "purchase_order.state_changed"
)

// EventKinds lists every event kind, for filters and subscriptions.
var EventKinds = []string{
	EventMovementPosted, EventOrderChanged, EventReservationCreated, EventReservationReleased,
	EventPickConfirmed, EventPurchaseReceived, EventPurchaseChanged,
}

// Event is one entry of the integration event log.
type Event struct {
	// Seq is the event's number in the log, unique and increasing in
	// write order (not necessarily in commit order on PostgreSQL).
	Seq int64
	// Tx orders events by writing transaction on PostgreSQL (0 on SQLite);
	// a reader's position is (Tx, Seq).
	Tx int64
	// Kind is one of EventKinds.
	Kind string
	// Subject names what changed: "movement/12", "order/SO-1001".
	Subject string
	// Data is the event's JSON payload.
	Data  json.RawMessage
	Actor string
	At    time.Time
}
