package httpapi

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
)

// issued is a freshly signed token pair and, in cookie mode, the CSRF
// values bound into each token.
type issued struct {
	Access      string `json:"a"`
	Refresh     string `json:"r"`
	AccessCSRF  string `json:"ac,omitempty"`
	RefreshCSRF string `json:"rc,omitempty"`

	refreshClaims auth.Claims
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signPair signs an access and a refresh token for one session, in answer
// to r (the access token's iss; see issuer).
func (s *Server) signPair(r *http.Request, username string, roles []string, sid string, fresh, cookies bool) (issued, error) {
	now := s.now()
	ac := auth.NewClaims(username, auth.TypeAccess, now, s.cfg.AccessTTL)
	ac.Roles, ac.Fresh, ac.SessionID = roles, fresh, sid
	ac.Issuer, ac.Audience, ac.Extra = s.issuer(r), s.cfg.Audience, s.cfg.ExtraClaims
	// No iss or aud on refresh tokens (and typ refresh+jwt, see auth.Sign):
	// a verifier configured with our issuer or audience then refuses them
	// as access tokens. Only this server reads them.
	rc := auth.NewClaims(username, auth.TypeRefresh, now, s.cfg.RefreshTTL)
	rc.SessionID = sid
	var out issued
	if cookies {
		out.AccessCSRF, out.RefreshCSRF = randomToken(), randomToken()
		ac.CSRF, rc.CSRF = out.AccessCSRF, out.RefreshCSRF
	}
	var err error
	if out.Access, err = s.keys.Sign(ac); err != nil {
		return issued{}, fmt.Errorf("sign access token: %w", err)
	}
	if out.Refresh, err = s.keys.Sign(rc); err != nil {
		return issued{}, fmt.Errorf("sign refresh token: %w", err)
	}
	out.refreshClaims = rc
	return out, nil
}

// startSession begins a session for u after a password login and returns
// its first, fresh, token pair.
func (s *Server) startSession(ctx context.Context, u *warehouse.User, cookies bool) (issued, error) {
	sid := uuid.NewString()
	pair, err := s.signPair(requestOf(ctx), u.Username, u.Roles, sid, true, cookies)
	if err != nil {
		return issued{}, err
	}
	meta := s.requestMeta(ctx)
	sess := warehouse.Session{ID: sid, Username: u.Username, UserAgent: meta.userAgent, IP: meta.ip,
		ViaCookies: cookies, ExpiresAt: s.now().Add(s.cfg.SessionLifetime)}
	rt := warehouse.RefreshToken{JTI: pair.refreshClaims.ID, Username: u.Username, ExpiresAt: pair.refreshClaims.Expiry}
	if err := s.db.CreateSession(ctx, sess, rt, pair.Refresh); err != nil {
		return issued{}, err
	}
	return pair, nil
}

// rotate trades a verified refresh token for a new pair of the same
// session (see store.RotateRefresh for reuse detection and the grace).
func (s *Server) rotate(ctx context.Context, p *Principal) (issued, error) {
	cookies := p.Claims.CSRF != ""
	pair, err := s.signPair(requestOf(ctx), p.Claims.Subject, p.Roles, p.Claims.SessionID, false, cookies)
	if err != nil {
		return issued{}, s.problem(err)
	}
	sealed, err := seal(p.Token, pair)
	if err != nil {
		return issued{}, s.problem(err)
	}
	res, err := s.db.RotateRefresh(ctx, warehouse.RefreshRequest{
		OldJTI: p.Claims.ID, OldToken: p.Token,
		Next:      warehouse.RefreshToken{JTI: pair.refreshClaims.ID, Username: p.Claims.Subject, ExpiresAt: pair.refreshClaims.Expiry},
		NextToken: pair.Refresh, Sealed: sealed,
		Grace: s.cfg.RefreshReuseInterval, Inactivity: s.cfg.SessionInactivity,
	})
	switch {
	case errors.Is(err, warehouse.ErrRefreshReuseDetected):
		s.state.EndSession(res.Session.ID, res.Session.ExpiresAt)
		s.log.Warn("refresh token reuse: session revoked", "user", p.Claims.Subject, "session", res.Session.ID)
		return issued{}, unauthorized("refresh_token_reused", warehouse.ErrRefreshReuseDetected.Message)
	case errors.Is(err, warehouse.ErrSessionExpired):
		s.state.EndSession(res.Session.ID, res.Session.ExpiresAt)
		return issued{}, unauthorized("session_expired", warehouse.ErrSessionExpired.Message)
	case errors.Is(err, warehouse.ErrRefreshReused), errors.Is(err, warehouse.ErrSessionEnded):
		return issued{}, unauthorized("token_revoked", detailRevoked)
	case err != nil:
		return issued{}, s.problem(err)
	}
	if res.Replayed {
		prev, err := open(p.Token, res.Sealed)
		if err != nil {
			return issued{}, unauthorized("token_revoked", detailRevoked)
		}
		if prob := s.stillValid(ctx, prev); prob != nil {
			return issued{}, prob
		}
		return prev, nil
	}
	return pair, nil
}

// stillValid checks a successor pair before a replay hands it out again:
// both tokens must still pass verification here (revocations, session,
// user) and neither may be revoked in the database, where a revocation
// made on another instance is already visible. The store has checked the
// refresh token in the rotation's transaction; the access token's id is
// only known from the sealed pair.
func (s *Server) stillValid(ctx context.Context, pair issued) *Problem {
	refused := unauthorized("token_revoked", detailRevoked)
	r := requestOf(ctx)
	ap, prob := s.verify(r, pair.Access, auth.TypeAccess, false)
	if prob != nil {
		return refused
	}
	rp, prob := s.verify(r, pair.Refresh, auth.TypeRefresh, false)
	if prob != nil {
		return refused
	}
	revoked, err := s.db.AnyRevoked(ctx, ap.Claims.ID, rp.Claims.ID)
	if err != nil {
		return s.problem(err)
	}
	if revoked {
		return refused
	}
	return nil
}

// seal encrypts the successor pair with a key derived from the refresh
// token it replaces, so the database holds nothing a thief of the table
// could use: only a holder of the old token can open it.
func seal(oldToken string, pair issued) ([]byte, error) {
	plain, err := json.Marshal(pair)
	if err != nil {
		return nil, fmt.Errorf("seal successor: %w", err)
	}
	gcm, err := successorCipher(oldToken)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal successor: %w", err)
	}
	return gcm.Seal(nonce, nonce, plain, nil), nil
}

func open(oldToken string, sealed []byte) (issued, error) {
	gcm, err := successorCipher(oldToken)
	if err != nil {
		return issued{}, err
	}
	if len(sealed) < gcm.NonceSize() {
		return issued{}, errors.New("sealed successor too short")
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
	if err != nil {
		return issued{}, fmt.Errorf("open successor: %w", err)
	}
	var pair issued
	if err := json.Unmarshal(plain, &pair); err != nil {
		return issued{}, fmt.Errorf("open successor: %w", err)
	}
	return pair, nil
}

func successorCipher(oldToken string) (cipher.AEAD, error) {
	key := sha256.Sum256([]byte("warehouse refresh successor v1\x00" + oldToken))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("successor cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// body is the token pair as a response body; in cookie mode the tokens
// stay out of it (scripts must not see them).
func (s *Server) body(pair issued, cookies bool) TokenPair {
	out := TokenPair{TokenType: "bearer", ExpiresIn: int(s.cfg.AccessTTL.Seconds())}
	if cookies {
		out.TokenType = "cookie"
		return out
	}
	out.AccessToken, out.RefreshToken = pair.Access, pair.Refresh
	return out
}

// cookies are the four cookies of cookie mode: the tokens (HttpOnly) and
// their CSRF double-submit values (readable by scripts).
func (s *Server) cookies(pair issued) []http.Cookie {
	mk := func(name, value string, httpOnly bool, maxAge time.Duration) http.Cookie {
		return http.Cookie{Name: name, Value: value, Path: "/", Domain: s.cfg.CookieDomain, HttpOnly: httpOnly,
			Secure: s.cfg.CookieSecure, SameSite: s.cfg.CookieSameSite, MaxAge: int(maxAge.Seconds())}
	}
	return []http.Cookie{
		mk(cookieAccess, pair.Access, true, s.cfg.AccessTTL),
		mk(cookieRefresh, pair.Refresh, true, s.cfg.RefreshTTL),
		mk(cookieCSRFAccess, pair.AccessCSRF, false, s.cfg.AccessTTL),
		mk(cookieCSRFRefresh, pair.RefreshCSRF, false, s.cfg.RefreshTTL),
	}
}

// unsetCookies expires all four cookies.
func (s *Server) unsetCookies() []http.Cookie {
	var out []http.Cookie
	for _, name := range []string{cookieAccess, cookieRefresh, cookieCSRFAccess, cookieCSRFRefresh} {
		out = append(out, http.Cookie{Name: name, Value: "", Path: "/", Domain: s.cfg.CookieDomain,
			Secure: s.cfg.CookieSecure, SameSite: s.cfg.CookieSameSite, MaxAge: -1, HttpOnly: name == cookieAccess || name == cookieRefresh})
	}
	return out
}
