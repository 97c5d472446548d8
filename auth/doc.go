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
// Keys are HMAC secrets or Ed25519, ECDSA and RSA key pairs (GenerateKey,
// stored with MarshalKey and UnmarshalKey); asymmetric keys are named by
// their RFC 7638 thumbprint. A Keyring publishes its public keys as a JWK
// Set (PublicJWKS), never an HMAC key. Other Go services verify the tokens
// with a RemoteKeySet, which fetches and caches that JWK Set, and protect
// their handlers with Middleware, which puts the verified Claims in the
// request context.
//
// Passwords are hashed with argon2id into PHC strings. A Hasher bounds how
// many hashes run at once, because each one holds Params.Memory KiB and a
// login flood must not exhaust memory.
//
// The package holds no global state: keys live in a Keyring that the caller
// owns and may swap at run time, and hashing limits live in a Hasher.
package auth
