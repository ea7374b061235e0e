/* delivery_sign — base64url, SHA-256, RS256 JWTs and SigV4 presigning over
 * libcrypto. See delivery_sign.h.
 *
 * Everything here is a pure function of its arguments so the unit tests can
 * hold it to published vectors. OpenSSL's error queue is drained into the
 * caller's message whenever a libcrypto call fails, and cleared, so one
 * failure never leaks into the next call's diagnosis. The SigV4 code follows
 * AWS's "Authenticating Requests: Using Query Parameters": canonical request
 * (method, encoded path, sorted query, "host:HOST\n", "host",
 * UNSIGNED-PAYLOAD), string to sign, and the HMAC chain AWS4+secret → date →
 * region → "s3" → "aws4_request". */
#define _POSIX_C_SOURCE 200809L
#include "services/delivery/delivery_sign.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

#define SIGN_FILE_CHUNK (64u << 10)
#define SIGN_JWT_HEADER "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"

static void sign_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sign_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The oldest OpenSSL error as text ("unknown" when none); clears the queue. */
static void sign_openssl_reason(char *out, size_t outlen)
{
    unsigned long code = ERR_get_error();
    if (code)
        ERR_error_string_n(code, out, outlen);
    else
        snprintf(out, outlen, "unknown reason");
    ERR_clear_error();
}

static void sign_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

char *delivery_base64url(const void *data, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *in = data;
    char *out = xmalloc(len / 3 * 4 + 5);
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return out;
}

void delivery_sha256_hex(const void *data, size_t len, char hex[DELIVERY_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL)) {
        fputs("harde: SHA-256 failed\n", stderr); /* libcrypto cannot hash: nothing works */
        abort();
    }
    sign_hex(md, n, hex);
}

int delivery_sha256_file(const char *path, char hex[DELIVERY_SHA256_HEX], int64_t *size, char *err,
                         size_t errlen)
{
    int rc = 0;
    unsigned char *chunk = NULL;
    EVP_MD_CTX *ctx = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        sign_err(err, errlen, "cannot open %s: %s", path, strerror(e));
        return e == ENOENT ? ERR_NOT_FOUND : ERR_IO;
    }
    chunk = xmalloc(SIGN_FILE_CHUNK);
    ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        fputs("harde: SHA-256 setup failed\n", stderr);
        abort();
    }
    int64_t total = 0;
    size_t n;
    while ((n = fread(chunk, 1, SIGN_FILE_CHUNK, f)) > 0) {
        EVP_DigestUpdate(ctx, chunk, n);
        total += (int64_t)n;
    }
    if (ferror(f)) {
        sign_err(err, errlen, "cannot read %s", path);
        rc = ERR_IO;
        goto out;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    sign_hex(md, mdlen, hex);
    if (size)
        *size = total;
out:
    EVP_MD_CTX_free(ctx);
    free(chunk);
    fclose(f);
    return rc;
}

/* ---- RS256 --------------------------------------------------------------- */

/* The private key in pem (new), or NULL with ERR_AUTH's sentence in err. */
static EVP_PKEY *sign_load_key(const char *pem, char *err, size_t errlen)
{
    char reason[256];
    if (!pem || !*pem) {
        sign_err(err, errlen, "the private key is empty");
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (!bio) {
        fputs("harde: out of memory\n", stderr);
        abort();
    }
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!key) {
        sign_openssl_reason(reason, sizeof reason);
        sign_err(err, errlen, "the private key is not a PEM private key OpenSSL can read (%s)",
                 reason);
        return NULL;
    }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        EVP_PKEY_free(key);
        sign_err(err, errlen, "the private key is not an RSA key (RS256 needs one)");
        return NULL;
    }
    return key;
}

int delivery_rsa_key_check(const char *pem, char *err, size_t errlen)
{
    EVP_PKEY *key = sign_load_key(pem, err, errlen);
    if (!key)
        return ERR_AUTH;
    EVP_PKEY_free(key);
    return 0;
}

char *delivery_jwt_claims(const char *iss, const char *scope, const char *aud, const char *sub,
                          int64_t iat, long lifetime_s)
{
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", iss, "scope", scope, "aud", aud,
                               "iat", (json_int_t)iat, "exp", (json_int_t)(iat + lifetime_s));
    if (!claims) {
        fputs("harde: cannot build JWT claims\n", stderr);
        abort();
    }
    if (sub)
        json_object_set_new(claims, "sub", json_string(sub));
    char *text = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(claims);
    if (!text) {
        fputs("harde: out of memory\n", stderr);
        abort();
    }
    char *out = xstrdup(text);
    free(text);
    return out;
}

int delivery_jwt_rs256(const char *pem, const char *claims_json, char **out, char *err,
                       size_t errlen)
{
    int rc = ERR_AUTH;
    char reason[256];
    unsigned char *sig = NULL;
    char *header = NULL, *claims = NULL, *signature = NULL;
    struct buf input;
    buf_init(&input, 0);
    EVP_MD_CTX *ctx = NULL;
    *out = NULL;
    EVP_PKEY *key = sign_load_key(pem, err, errlen);
    if (!key)
        goto out;
    header = delivery_base64url(SIGN_JWT_HEADER, strlen(SIGN_JWT_HEADER));
    claims = delivery_base64url(claims_json, strlen(claims_json));
    buf_printf(&input, "%s.%s", header, claims);
    ctx = EVP_MD_CTX_new();
    size_t siglen = 0;
    if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)input.data, input.len) != 1)
        goto fail;
    sig = xmalloc(siglen);
    if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input.data, input.len) != 1)
        goto fail;
    signature = delivery_base64url(sig, siglen);
    buf_printf(&input, ".%s", signature);
    *out = buf_steal(&input);
    rc = 0;
    goto out;
fail:
    sign_openssl_reason(reason, sizeof reason);
    sign_err(err, errlen, "signing the JWT with the private key failed (%s)", reason);
out:
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    free(sig);
    free(header);
    free(claims);
    free(signature);
    buf_free(&input);
    return rc;
}

/* ---- SigV4 presigning ------------------------------------------------------ */

static void sign_uri_encode(struct buf *b, const char *s, bool keep_slash)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
            buf_append_char(b, (char)c);
        else
            buf_printf(b, "%%%02X", c);
    }
}

char *delivery_s3_uri_encode(const char *path)
{
    struct buf b;
    buf_init(&b, 0);
    sign_uri_encode(&b, path, true);
    return buf_steal(&b);
}

static void sign_hmac(const void *key, size_t keylen, const char *data, unsigned char out[32])
{
    unsigned int n = 32;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, strlen(data), out, &n)) {
        fputs("harde: HMAC-SHA256 failed\n", stderr);
        abort();
    }
}

/* The query parameters before X-Amz-Signature, sorted, values encoded. */
static void sign_presign_params(struct buf *q, const struct delivery_presign *p,
                                const char *amz_date, const char *scope)
{
    char credential[512];
    snprintf(credential, sizeof credential, "%s/%s", p->access_key, scope);
    buf_append_str(q, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
    sign_uri_encode(q, credential, false);
    buf_printf(q, "&X-Amz-Date=%s&X-Amz-Expires=%ld", amz_date, p->expires_s);
    if (p->session_token && *p->session_token) {
        buf_append_str(q, "&X-Amz-Security-Token=");
        sign_uri_encode(q, p->session_token, false);
    }
    buf_append_str(q, "&X-Amz-SignedHeaders=host");
}

char *delivery_s3_presign_query(const struct delivery_presign *p)
{
    char amz_date[32], date[16], scope[128], hash[DELIVERY_SHA256_HEX];
    time_t t = (time_t)p->now;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    strftime(date, sizeof date, "%Y%m%d", &tm);
    snprintf(scope, sizeof scope, "%s/%s/s3/aws4_request", date, p->region);

    struct buf query, creq, sts;
    buf_init(&query, 0);
    buf_init(&creq, 0);
    buf_init(&sts, 0);
    sign_presign_params(&query, p, amz_date, scope);
    buf_printf(&creq, "%s\n", p->method);
    sign_uri_encode(&creq, p->path, true);
    buf_printf(&creq, "\n%s\nhost:%s\n\nhost\nUNSIGNED-PAYLOAD", buf_str(&query), p->host);
    delivery_sha256_hex(creq.data, creq.len, hash);
    buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, hash);

    unsigned char key[32], next[32];
    char *secret = xasprintf("AWS4%s", p->secret_key);
    sign_hmac(secret, strlen(secret), date, key);
    sign_hmac(key, sizeof key, p->region, next);
    sign_hmac(next, sizeof next, "s3", key);
    sign_hmac(key, sizeof key, "aws4_request", next);
    sign_hmac(next, sizeof next, buf_str(&sts), key);
    char signature[65];
    sign_hex(key, sizeof key, signature);
    buf_printf(&query, "&X-Amz-Signature=%s", signature);

    memset(secret, 0, strlen(secret));
    free(secret);
    buf_free(&creq);
    buf_free(&sts);
    return buf_steal(&query);
}
