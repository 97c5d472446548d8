package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
)

// auditRoutes exposes the audit log of master-data changes and session
// security events (domain-api.md section 4).
func (s *Server) auditRoutes() {
	op := s.v1op(warehouse.RoleManager, huma.Operation{OperationID: "list-audit-events", Method: http.MethodGet, Path: "/audit-events",
		Tags: []string{"audit"}, Summary: "List audit events",
		Description: "Changes to items, locations and users (before and after), and session security events such as refresh token reuse. Newest first. JSON only.",
		Errors:      []int{http.StatusNotAcceptable}})
	s.listDoc(&op, PageBody[*warehouse.AuditEvent]{})
	huma.Register(s.api, op, func(ctx context.Context, in *struct {
		ListParams
		Entity   string `query:"entity" enum:"item,location,user,session"`
		EntityID string `query:"entity_id" maxLength:"200"`
	}) (*streamOutput, error) {
		if in.csv() {
			return nil, newProblem(http.StatusNotAcceptable, "not_acceptable", "Audit events are available as JSON only")
		}
		events, next, err := s.db.ListAuditEvents(ctx, warehouse.AuditFilter{Entity: in.Entity, EntityID: in.EntityID}, in.page())
		if err != nil {
			return nil, apiError(err)
		}
		return jsonPage(events, next), nil
	})
}
