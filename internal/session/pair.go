package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/warehouse-api/warehouse/auth"
)

// Pair is a freshly signed token pair and, in cookie mode, the CSRF
// values bound into each token. The JSON names are those of the sealed
// successors already in databases: do not change them.
type Pair struct {
	Access      string `json:"a"`
	Refresh     string `json:"r"`
	AccessCSRF  string `json:"ac,omitempty"`
	RefreshCSRF string `json:"rc,omitempty"`
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sign signs an access and a refresh token for one session, and returns
// the refresh token's claims for the store.
func (s *Service) sign(username string, roles []string, sid string, fresh bool, c Client) (Pair, auth.Claims, error) {
	now := s.now()
	ac := auth.NewClaims(username, auth.TypeAccess, now, s.cfg.AccessTTL)
	ac.Roles, ac.Fresh, ac.SessionID = roles, fresh, sid
	ac.Issuer, ac.Audience, ac.Extra = c.Issuer, s.cfg.Audience, s.cfg.ExtraClaims
	// No iss or aud on refresh tokens (and typ refresh+jwt, see auth.Sign):
	// a verifier configured with our issuer or audience then refuses them
	// as access tokens. Only this server reads them.
	rc := auth.NewClaims(username, auth.TypeRefresh, now, s.cfg.RefreshTTL)
	rc.SessionID = sid
	var out Pair
	if c.Cookies {
		out.AccessCSRF, out.RefreshCSRF = randomToken(), randomToken()
		ac.CSRF, rc.CSRF = out.AccessCSRF, out.RefreshCSRF
	}
	var err error
	if out.Access, err = s.keys.Sign(ac); err != nil {
		return Pair{}, auth.Claims{}, fmt.Errorf("sign access token: %w", err)
	}
	if out.Refresh, err = s.keys.Sign(rc); err != nil {
		return Pair{}, auth.Claims{}, fmt.Errorf("sign refresh token: %w", err)
	}
	return out, rc, nil
}

// seal encrypts the successor pair with a key derived from the refresh
// token it replaces, so the database holds nothing a thief of the table
// could use: only a holder of the old token can open it.
func seal(oldToken string, pair Pair) ([]byte, error) {
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

func open(oldToken string, sealed []byte) (Pair, error) {
	gcm, err := successorCipher(oldToken)
	if err != nil {
		return Pair{}, err
	}
	if len(sealed) < gcm.NonceSize() {
		return Pair{}, errors.New("sealed successor too short")
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
	if err != nil {
		return Pair{}, fmt.Errorf("open successor: %w", err)
	}
	var pair Pair
	if err := json.Unmarshal(plain, &pair); err != nil {
		return Pair{}, fmt.Errorf("open successor: %w", err)
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
