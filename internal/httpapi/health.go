package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

type healthBody struct {
	Status string `json:"status" example:"ok"`
}

func opHealthz() huma.Operation {
	return huma.Operation{Tags: []string{"operations"},
		Summary:     "Liveness: the process serves requests",
		Description: "Answers 200 while the process can serve HTTP; it does not touch the database. For liveness probes.",
	}
}

func (s *Server) healthz(ctx context.Context, _ *struct{}) (*struct{ Body healthBody }, error) {
	return &struct{ Body healthBody }{healthBody{"ok"}}, nil
}

func opReadyz() huma.Operation {
	return huma.Operation{Tags: []string{"operations"},
		Summary: "Readiness: the database answers", Errors: []int{http.StatusServiceUnavailable},
		Description: "Answers 200 when the database answers a ping, else 503: for readiness probes and load balancers.",
	}
}

func (s *Server) readyz(ctx context.Context, _ *struct{}) (*struct{ Body healthBody }, error) {
	if err := s.db.Ping(ctx); err != nil {
		return nil, s.problem(err)
	}
	return &struct{ Body healthBody }{healthBody{"ok"}}, nil
}
