package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
)

// GET /api/v1/audit-events is the audit trail: master-data changes
// (domain-api.md section 4) for managers, and the security events (issue
// 13) for admins only: those name the addresses, User-Agents and tried
// usernames of everyone who logs in, which is for whoever administers the
// accounts, not for whoever runs the stock.
func (s *Server) opListAuditEvents() huma.Operation {
	op := s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"audit"}, Summary: "List audit events",
		Description: "Changes to items, locations and users (before and after), and the security events (kind set): logins succeeded, failed, " +
			"throttled, accounts locked and unlocked, refresh token reuse, token revocations, logouts, sessions ended, role and password changes, " +
			"user creation, deactivation and reactivation, signing key rotation and retirement, each with actor, subject (entity, entity_id), " +
			"client address, User-Agent and request id. Security events are listed for admins only: a manager's listing holds the master-data " +
			"changes, and a manager asking for a kind gets 403. Newest first. JSON only. ",
		Errors: []int{http.StatusNotAcceptable}})
	s.jsonListDoc(&op, PageBody[*warehouse.AuditEvent]{})
	return op
}

type listAuditEventsInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
	Cursor string `query:"cursor" maxLength:"1000" doc:"Opaque cursor: next_cursor of the previous page"`
	// format is declared, with csv, so that a client asking for CSV
	// learns from the 406 that there is none, rather than get JSON.
	Format   string    `query:"format" enum:"json,csv" doc:"JSON only: csv (like Accept: text/csv) answers 406 not_acceptable"`
	Accept   string    `header:"Accept"`
	Entity   string    `query:"entity" enum:"item,location,user,session,key"`
	EntityID string    `query:"entity_id" maxLength:"200"`
	Kind     []string  `query:"kind" maxItems:"16" enum:"login_succeeded,login_failed,login_throttled,account_locked,account_unlocked,refresh_token_reuse,token_revoked,logout,session_ended,role_changed,password_changed,user_deactivated,user_reactivated,user_created,key_rotated,key_retired" doc:"Security events of these kinds only, comma-separated (admin)"`
	Actor    string    `query:"actor" maxLength:"256" doc:"Events by this actor only: a username, cli or system"`
	Since    time.Time `query:"since" doc:"RFC 3339; inclusive"`
	Until    time.Time `query:"until" doc:"RFC 3339; exclusive"`
}

func (s *Server) listAuditEvents(ctx context.Context, in *listAuditEventsInput) (*streamOutput, error) {
	if wantsCSV(in.Format, in.Accept) {
		return nil, warehouse.Errorf(codeNotAcceptable, "Audit events are available as JSON only")
	}
	// Huma reads the first of repeated parameters: a second kind= would
	// be dropped without a word, and the listing look complete.
	if r := requestOf(ctx); r != nil && len(r.URL.Query()["kind"]) > 1 {
		return nil, warehouse.Errorf(codeBadParameter, "Bad parameter: kind: give several kinds comma-separated in one kind parameter (kind=login_failed,login_throttled)")
	}
	if !in.Since.IsZero() && !in.Until.IsZero() && !in.Until.After(in.Since) {
		return nil, warehouse.Errorf(codeBadParameter, "Bad parameter: until must be later than since")
	}
	f := warehouse.AuditFilter{Entity: in.Entity, EntityID: in.EntityID, Kinds: in.Kind, Actor: in.Actor, Since: in.Since, Until: in.Until}
	if p := principal(ctx); p == nil || !warehouse.HasRole(p.Roles, warehouse.RoleAdmin) {
		if len(in.Kind) > 0 {
			return nil, warehouse.Errorf(warehouse.EFORBIDDEN, "Security events (kind: %s) are listed for role admin only", strings.Join(in.Kind, ", "))
		}
		f.ChangesOnly = true
	}
	events, next, err := s.db.ListAuditEvents(ctx, f, warehouse.Page{Limit: in.Limit, After: in.Cursor})
	if err != nil {
		return nil, err
	}
	return jsonPage(events, next), nil
}
