/* auth — credentials for the web server and the CLI: password hashes,
 * random tokens and their digests.
 *
 * Passwords are hashed with Argon2id through libsodium (crypto_pwhash_str,
 * the "interactive" limits: 2 passes over 64 MiB, ~0.1 s), so the stored
 * string carries its own salt and parameters and a stolen database costs an
 * attacker that much per guess. Tokens (bearer tokens, login cookies, CSRF
 * tokens) are 256 random bits from libsodium's CSPRNG written in lowercase
 * hex, with an optional prefix ("hde_" for bearer tokens) so a leaked one is
 * recognisable; only their SHA-256 (hex) is ever stored or kept in memory
 * tables, never the token itself.
 *
 * All functions are thread-safe once web_auth_init succeeded (it calls
 * sodium_init, which may be called many times). */
#ifndef HARDE_WEB_AUTH_H
#define HARDE_WEB_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define WEB_PASSWORD_MIN  8   /* characters (bytes) of a new password */
#define WEB_PASSWORD_MAX  256 /* bytes of a password */
#define WEB_PASSWORD_HASH 128 /* bytes of a hash string, NUL included */
#define WEB_TOKEN_BYTES   32  /* random bytes of a token */
#define WEB_TOKEN_HEX     64  /* hex digits of a token (without its prefix) */
#define WEB_TOKEN_MAX     80  /* bytes of a token with prefix, NUL included */
#define WEB_DIGEST_HEX    64  /* hex digits of a SHA-256 */
#define WEB_BEARER_PREFIX "hde_"

/* Initialises libsodium. 0, or ERR_CONFIG when it cannot start. */
int web_auth_init(void);

/* 0 when password is acceptable for a new account (WEB_PASSWORD_MIN to
 * WEB_PASSWORD_MAX bytes, no control characters); else ERR_INVALID with a
 * sentence in err. */
int web_password_policy(const char *password, char *err, size_t errlen);

/* Hashes password into out (at least WEB_PASSWORD_HASH bytes). 0, or
 * ERR_INVALID (too long), or ERR_LIMIT when the machine lacks the memory. */
int web_password_hash(const char *password, char *out, size_t outlen);

/* True when password matches hash. An empty or malformed hash never matches,
 * but still costs one hash computation (so timing does not tell whether a
 * user exists). */
bool web_password_verify(const char *hash, const char *password);

/* A new random token: prefix (may be NULL) + WEB_TOKEN_HEX hex digits, into
 * out (at least WEB_TOKEN_MAX bytes). */
void web_token_new(const char *prefix, char *out, size_t outlen);

/* The SHA-256 of text as lowercase hex into out (WEB_DIGEST_HEX + 1 bytes). */
void web_digest_hex(const char *text, char out[WEB_DIGEST_HEX + 1]);

/* Compares two strings in time that depends only on their lengths. */
bool web_secret_equal(const char *a, const char *b);

#endif
