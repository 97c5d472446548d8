package warehouse

import (
	"strings"
)

// MaxLocationDepth is how deep the location tree may go (a warehouse is 1).
const MaxLocationDepth = 8

// Location is a place that holds stock, or (structural) groups places.
// A location without parent is a warehouse.
type Location struct {
	ID         int64  `json:"id"`
	Code       string `json:"code"`
	Name       string `json:"name"`
	ParentID   *int64 `json:"parent_id"`
	Structural bool   `json:"structural"`
	Active     bool   `json:"active"`
	Path       string `json:"path" doc:"Codes from the top-level location down, joined by /"`
	Depth      int    `json:"depth"`
	Audit
}

// LocationPatch is a partial change; nil fields stay as they are.
type LocationPatch struct {
	Code       *string
	Name       *string
	ParentID   **int64 // non-nil pointer to nil: make top-level
	Structural *bool
	Active     *bool
}

// LocationFilter selects locations.
type LocationFilter struct {
	ParentID   *int64
	Root       bool
	Q          string
	Active     *bool
	Structural *bool
}

// Validate checks a location's own fields.
func (l *Location) Validate() error {
	if err := ValidateCode("code", l.Code); err != nil {
		return err
	}
	l.Name = strings.TrimSpace(l.Name)
	if l.Name == "" || len([]rune(l.Name)) > 200 {
		return invalidField("name", "must be 1-200 characters")
	}
	return nil
}

// Apply sets the fields p gives on l.
func (p LocationPatch) Apply(l *Location) {
	if p.Code != nil {
		l.Code = *p.Code
	}
	if p.Name != nil {
		l.Name = *p.Name
	}
	if p.ParentID != nil {
		l.ParentID = *p.ParentID
	}
	if p.Structural != nil {
		l.Structural = *p.Structural
	}
	if p.Active != nil {
		l.Active = *p.Active
	}
}
