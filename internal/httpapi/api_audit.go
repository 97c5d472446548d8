package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
)

// GET /api/v1/audit-events is the audit log of master-data changes and
// session security events (domain-api.md section 4).
func (s *Server) opListAuditEvents() huma.Operation {
	op := s.v1op(warehouse.RoleManager, huma.Operation{Tags: []string{"audit"}, Summary: "List audit events",
		Description: "Changes to items, locations and users (before and after), and session security events such as refresh token reuse. Newest first. JSON only.",
		Errors:      []int{http.StatusNotAcceptable}})
	s.jsonListDoc(&op, PageBody[*warehouse.AuditEvent]{})
	return op
}

type listAuditEventsInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
	Cursor string `query:"cursor" maxLength:"1000" doc:"Opaque cursor: next_cursor of the previous page"`
	// format is declared, with csv, so that a client asking for CSV
	// learns from the 406 that there is none, rather than get JSON.
	Format   string `query:"format" enum:"json,csv" doc:"JSON only: csv (like Accept: text/csv) answers 406 not_acceptable"`
	Accept   string `header:"Accept"`
	Entity   string `query:"entity" enum:"item,location,user,session"`
	EntityID string `query:"entity_id" maxLength:"200"`
}

func (s *Server) listAuditEvents(ctx context.Context, in *listAuditEventsInput) (*streamOutput, error) {
	if wantsCSV(in.Format, in.Accept) {
		return nil, warehouse.Errorf(codeNotAcceptable, "Audit events are available as JSON only")
	}
	events, next, err := s.db.ListAuditEvents(ctx, warehouse.AuditFilter{Entity: in.Entity, EntityID: in.EntityID}, warehouse.Page{Limit: in.Limit, After: in.Cursor})
	if err != nil {
		return nil, err
	}
	return jsonPage(events, next), nil
}
