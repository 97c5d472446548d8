package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
)

// /api/v1/webhooks: outbound webhooks (admin). Each is sent every event
// of its kinds, in log order, as a POST signed per Standard Webhooks
// (webhook-id, webhook-timestamp, webhook-signature), retried with
// backoff, each attempt in its delivery log.

// WebhookBody is a webhook as the API shows it. The secret is shown once,
// in the answer to its creation.
type WebhookBody struct {
	ID          int64     `json:"id"`
	URL         string    `json:"url"`
	Kinds       []string  `json:"kinds" doc:"Event kinds delivered; empty: every kind"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	Secret      string    `json:"secret,omitempty" doc:"The signing secret (whsec_...): in the answer to POST only, never again"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by"`
}

func webhookBody(w *warehouse.Webhook) *WebhookBody {
	kinds := w.Kinds
	if kinds == nil {
		kinds = []string{}
	}
	return &WebhookBody{ID: w.ID, URL: w.URL, Kinds: kinds, Description: w.Description, Enabled: w.Enabled,
		CreatedAt: w.CreatedAt, CreatedBy: w.CreatedBy, UpdatedAt: w.UpdatedAt, UpdatedBy: w.UpdatedBy}
}

// WebhookCreateBody creates a webhook.
type WebhookCreateBody struct {
	URL         string   `json:"url" minLength:"1" maxLength:"2000" example:"https://erp.example.com/hooks/warehouse" doc:"http or https"`
	Kinds       []string `json:"kinds,omitempty" maxItems:"16" doc:"Event kinds to deliver; absent or empty: every kind"`
	Description string   `json:"description,omitempty" maxLength:"500"`
	Enabled     *bool    `json:"enabled,omitempty" doc:"Default true"`
}

// WebhookPatchBody changes a webhook; absent fields stay as they are.
type WebhookPatchBody struct {
	URL         *string  `json:"url,omitempty" minLength:"1" maxLength:"2000"`
	Kinds       []string `json:"kinds,omitempty" maxItems:"16" doc:"Replaces the kinds; [] delivers every kind"`
	Description *string  `json:"description,omitempty" maxLength:"500"`
	Enabled     *bool    `json:"enabled,omitempty" doc:"false stops deliveries; true resumes them after the last event delivered"`
}

type webhookOutput struct {
	Location string `header:"Location"`
	Body     *WebhookBody
}

type WebhookIDParam struct {
	ID int64 `path:"id" minimum:"1"`
}

func webhookOps(summary, desc string, errs ...int) huma.Operation {
	return huma.Operation{Tags: []string{"webhooks"}, Summary: summary, Description: desc, Errors: errs}
}

// fresh marks op as needing a fresh token: a webhook sends the warehouse's
// events to the URL it names.
func fresh(op huma.Operation) huma.Operation {
	op.Metadata = map[string]any{metaFresh: true}
	return op
}

func (s *Server) opListWebhooks() huma.Operation {
	op := s.v1op(warehouse.RoleAdmin, webhookOps("List webhooks", "Every webhook, oldest first (never their secrets)."))
	s.jsonListDoc(&op, PageBody[*WebhookBody]{})
	return op
}

func (s *Server) listWebhooks(ctx context.Context, _ *struct{}) (*streamOutput, error) {
	ws, err := s.webhooks.List(ctx)
	if err != nil {
		return nil, apiError(err)
	}
	out := make([]*WebhookBody, len(ws))
	for i, w := range ws {
		out[i] = webhookBody(w)
	}
	return jsonPage(out, ""), nil
}

func (s *Server) opCreateWebhook() huma.Operation {
	op := s.v1op(warehouse.RoleAdmin, fresh(webhookOps("Create a webhook",
		"The answer holds the signing secret, shown this once: keep it to verify the webhook-signature of each delivery (Standard Webhooks). "+
			"The webhook is sent the events committed from now on.", http.StatusUnprocessableEntity)))
	op.DefaultStatus = http.StatusCreated
	return op
}

func (s *Server) createWebhook(ctx context.Context, in *struct{ Body WebhookCreateBody }) (*webhookOutput, error) {
	b := in.Body
	c := warehouse.WebhookChange{URL: &b.URL, Description: &b.Description, Enabled: b.Enabled}
	if b.Kinds != nil {
		c.Kinds = &b.Kinds
	}
	w, err := s.webhooks.Create(ctx, c, actor(ctx))
	if err != nil {
		return nil, apiError(err)
	}
	body := webhookBody(w)
	body.Secret = w.Secret
	return &webhookOutput{Location: v1 + "/webhooks/" + strconv.FormatInt(w.ID, 10), Body: body}, nil
}

func (s *Server) opGetWebhook() huma.Operation {
	return s.v1op(warehouse.RoleAdmin, webhookOps("One webhook", "", http.StatusNotFound))
}

func (s *Server) getWebhook(ctx context.Context, in *WebhookIDParam) (*webhookOutput, error) {
	w, err := s.webhooks.Get(ctx, in.ID)
	if err != nil {
		return nil, apiError(err)
	}
	return &webhookOutput{Body: webhookBody(w)}, nil
}

func (s *Server) opUpdateWebhook() huma.Operation {
	return s.v1op(warehouse.RoleAdmin, fresh(webhookOps("Change or disable a webhook",
		"Changes its URL, kinds, description or enabled flag. A disabled webhook is sent nothing; enabled again, it resumes after the last event it was sent.",
		http.StatusNotFound, http.StatusUnprocessableEntity)))
}

type updateWebhookInput struct {
	WebhookIDParam
	Body WebhookPatchBody
}

func (s *Server) updateWebhook(ctx context.Context, in *updateWebhookInput) (*webhookOutput, error) {
	b := in.Body
	c := warehouse.WebhookChange{URL: b.URL, Description: b.Description, Enabled: b.Enabled}
	if b.Kinds != nil {
		c.Kinds = &b.Kinds
	}
	w, err := s.webhooks.Update(ctx, in.ID, c, actor(ctx))
	if err != nil {
		return nil, apiError(err)
	}
	return &webhookOutput{Body: webhookBody(w)}, nil
}

func (s *Server) opDeleteWebhook() huma.Operation {
	op := s.v1op(warehouse.RoleAdmin, webhookOps("Delete a webhook", "Its deliveries stop, and its delivery log is deleted with it.", http.StatusNotFound))
	op.DefaultStatus = http.StatusNoContent
	return op
}

func (s *Server) deleteWebhook(ctx context.Context, in *WebhookIDParam) (*struct{}, error) {
	if err := s.webhooks.Delete(ctx, in.ID); err != nil {
		return nil, apiError(err)
	}
	return nil, nil
}

func (s *Server) opListWebhookDeliveries() huma.Operation {
	op := s.v1op(warehouse.RoleAdmin, webhookOps("A webhook's delivery log",
		"Every attempt, newest first: the event, the attempt's number, the receiver's status code or the error, the duration, "+
			"the outcome (delivered, retrying, failed) and when the next attempt is due.", http.StatusNotFound))
	s.jsonListDoc(&op, PageBody[*warehouse.WebhookDelivery]{})
	return op
}

type listWebhookDeliveriesInput struct {
	WebhookIDParam
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
	Cursor string `query:"cursor" maxLength:"1000" doc:"Opaque cursor: next_cursor of the previous page"`
}

func (s *Server) listWebhookDeliveries(ctx context.Context, in *listWebhookDeliveriesInput) (*streamOutput, error) {
	ds, next, err := s.webhooks.Deliveries(ctx, in.ID, warehouse.Page{Limit: in.Limit, After: in.Cursor})
	if err != nil {
		return nil, apiError(err)
	}
	return jsonPage(ds, next), nil
}
