package warehouse

import (
	"encoding/json"
	"time"
)

// AuditEvent is one recorded change to master data (items, locations,
// users) or a security event on a session.
type AuditEvent struct {
	ID       int64           `json:"id"`
	Entity   string          `json:"entity" doc:"item, location, user or session"`
	EntityID string          `json:"entity_id"`
	Action   string          `json:"action" doc:"create, update, unlock (users), or for sessions refresh_token_reuse"`
	Before   json.RawMessage `json:"before" doc:"The record before the change (null on create)"`
	After    json.RawMessage `json:"after" doc:"The record after the change"`
	Actor    string          `json:"actor"`
	At       time.Time       `json:"at"`
}

// AuditFilter narrows an audit event listing.
type AuditFilter struct {
	Entity   string
	EntityID string
}
