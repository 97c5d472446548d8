package warehouse

import (
	"fmt"
	"time"
)

// DateLayout is the form of a calendar date in the API and the database
// (ISO 8601, YYYY-MM-DD), which sorts as text.
const DateLayout = "2006-01-02"

// Lot is what is known of one lot of a lot-tracked item beyond its stock:
// its expiry date, when it has one.
type Lot struct {
	ItemID int64  `json:"item_id"`
	SKU    string `json:"sku"`
	Lot    string `json:"lot"`
	// ExpiresOn is an ISO date (YYYY-MM-DD), or empty for a lot that does
	// not expire.
	ExpiresOn string    `json:"expires_on,omitempty" doc:"ISO date (YYYY-MM-DD) the lot expires on; absent when it does not expire"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// ParseDate checks that s is an ISO calendar date and returns it at
// midnight UTC.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return time.Time{}, Errorf(EINVALID, "%q is not a date of the form YYYY-MM-DD", s)
	}
	return t, nil
}

// ExpiresBefore reports whether a lot expiring on expiresOn (an ISO date,
// empty for never) expires before the date d. Dates compare as text.
func ExpiresBefore(expiresOn, d string) bool {
	return expiresOn != "" && expiresOn < d
}

// FormatDate is t's calendar date in UTC.
func FormatDate(t time.Time) string { return t.UTC().Format(DateLayout) }

// LotKey names a lot in messages.
func LotKey(sku, lot string) string { return fmt.Sprintf("%s lot %s", sku, lot) }

// ValidateLotExpiry checks a lot's expiry as a client sets it: an ISO date,
// or empty for a lot that does not expire.
func ValidateLotExpiry(expiresOn string) error {
	if expiresOn == "" {
		return nil
	}
	if _, err := ParseDate(expiresOn); err != nil {
		return &Error{Code: EINVALID, Message: "expires_on must be a date of the form YYYY-MM-DD",
			Fields: []FieldError{{Field: "expires_on", Message: "must be a date of the form YYYY-MM-DD"}}}
	}
	return nil
}

// CanHaveLots: only a lot-tracked item's lots carry an expiry.
func (it *Item) CanHaveLots() error {
	if !it.LotTracked {
		return Errorf(EINVALID, "item %s is not lot-tracked: only lots of lot-tracked items have an expiry date", it.SKU)
	}
	return nil
}

// MaxExpiringDays bounds the expiring report's horizon.
const MaxExpiringDays = 3660

// ExpiringStock is one balance of a lot that expires within the report's
// horizon (or has expired).
type ExpiringStock struct {
	ItemID       int64  `json:"item_id"`
	SKU          string `json:"sku"`
	LocationID   int64  `json:"location_id"`
	LocationCode string `json:"location_code"`
	LocationPath string `json:"location_path"`
	Lot          string `json:"lot"`
	ExpiresOn    string `json:"expires_on" doc:"ISO date (YYYY-MM-DD)"`
	// DaysLeft is the days from today (UTC) to the expiry; negative once
	// expired.
	DaysLeft  int  `json:"days_left" doc:"Days from today (UTC) until expires_on; 0 expires today, negative once expired"`
	Expired   bool `json:"expired" doc:"expires_on is before today"`
	OnHand    Qty  `json:"on_hand"`
	Reserved  Qty  `json:"reserved"`
	Available Qty  `json:"available"`
}

// DaysUntil is the whole days from today to the ISO date d (both UTC
// calendar dates); d must be valid.
func DaysUntil(today time.Time, d string) int {
	t, err := ParseDate(d)
	if err != nil {
		return 0
	}
	y, m, day := today.UTC().Date()
	return int(t.Sub(time.Date(y, m, day, 0, 0, 0, 0, time.UTC)).Hours() / 24)
}

// ValidateLot checks a lot name given on its own (a path, a form): 1-64
// characters, as a movement line's lot.
func ValidateLot(lot string) error {
	if lot == "" || len(lot) > 64 {
		return &Error{Code: EINVALID, Message: "lot must be 1-64 characters", Fields: []FieldError{{Field: "lot", Message: "must be 1-64 characters"}}}
	}
	return nil
}
