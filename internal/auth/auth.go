// Package auth holds the security primitives of `plumb serve`: argon2id password hashes in
// the PHC string format, random tokens (session cookies, CSRF tokens, API keys) and the
// login rate limiter. It knows nothing of HTTP or the store, so each piece is testable on
// its own and usable by the CLI (`plumb user create`) as well as the server.
package auth
