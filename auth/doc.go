// Package auth issues and verifies JSON Web Tokens and hashes passwords for
// the warehouse server and for other Go services that share its keys.
//
// Tokens look exactly like the ones made by the FastAPI tutorial's library
// (fastapi-jwt-auth on PyJWT): claims sub, iat, nbf, jti, exp, type and, on
// access tokens, fresh, in that order, so that existing clients and tokens
// keep working. Verification is stricter than the tutorial's: the algorithm
// is tied to the key (looked up by kid), exp, jti, type and sub are
// required, a foreign iss or aud is refused, and no input makes it panic.
// Failures are *TokenError values whose Detail keeps PyJWT's wording,
// because clients match on it, and whose Code is a stable machine code.
//
// Passwords are hashed with argon2id into PHC strings. A Hasher bounds how
// many hashes run at once, because each one holds Params.Memory KiB and a
// login flood must not exhaust memory.
//
// The package holds no global state: keys live in a Keyring that the caller
// owns and may swap at run time, and hashing limits live in a Hasher.
package auth
