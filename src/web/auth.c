/* auth — Argon2id password hashes and random tokens through libsodium. See auth.h.
 *
 * Owns nothing but one lazily computed dummy hash: web_password_verify checks
 * a password against it when the real hash is missing, so an unknown user
 * name takes as long to refuse as a wrong password. */
#define _POSIX_C_SOURCE 200809L
#include "web/auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[WEB_PASSWORD_HASH];

int web_auth_init(void)
{
    return sodium_init() < 0 ? ERR_CONFIG : 0;
}

int web_password_policy(const char *password, char *err, size_t errlen)
{
    size_t len = password ? strlen(password) : 0;
    if (len < WEB_PASSWORD_MIN) {
        snprintf(err, errlen, "password: at least %d characters", WEB_PASSWORD_MIN);
        return ERR_INVALID;
    }
    if (len > WEB_PASSWORD_MAX) {
        snprintf(err, errlen, "password: at most %d bytes", WEB_PASSWORD_MAX);
        return ERR_INVALID;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)password[i] < 0x20 || password[i] == 0x7f) {
            snprintf(err, errlen, "password: no control characters");
            return ERR_INVALID;
        }
    return 0;
}

int web_password_hash(const char *password, char *out, size_t outlen)
{
    size_t len = strlen(password);
    if (outlen < crypto_pwhash_STRBYTES || len > WEB_PASSWORD_MAX)
        return ERR_INVALID;
    if (crypto_pwhash_str(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return ERR_LIMIT;
    return 0;
}

static void make_dummy(void)
{
    char pw[WEB_TOKEN_MAX];
    web_token_new(NULL, pw, sizeof pw);
    if (web_password_hash(pw, dummy_hash, sizeof dummy_hash) != 0)
        dummy_hash[0] = '\0';
}

bool web_password_verify(const char *hash, const char *password)
{
    size_t len = password ? strlen(password) : 0;
    bool real =
        hash && strncmp(hash, crypto_pwhash_STRPREFIX, strlen(crypto_pwhash_STRPREFIX)) == 0;
    if (len > WEB_PASSWORD_MAX)
        len = WEB_PASSWORD_MAX;
    if (!real) {
        pthread_once(&dummy_once, make_dummy);
        if (dummy_hash[0] && crypto_pwhash_str_verify(dummy_hash, password ? password : "", len))
            return false; /* the expected outcome: the work is what matters */
        return false;
    }
    return crypto_pwhash_str_verify(hash, password ? password : "", len) == 0;
}

void web_token_new(const char *prefix, char *out, size_t outlen)
{
    unsigned char raw[WEB_TOKEN_BYTES];
    char hex[WEB_TOKEN_HEX + 1];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    snprintf(out, outlen, "%s%s", prefix ? prefix : "", hex);
    sodium_memzero(raw, sizeof raw);
}

void web_digest_hex(const char *text, char out[WEB_DIGEST_HEX + 1])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)text, strlen(text));
    sodium_bin2hex(out, WEB_DIGEST_HEX + 1, digest, sizeof digest);
}

bool web_secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return false;
    return la == 0 || sodium_memcmp(a, b, la) == 0;
}
