/* delivery_sign — the cryptography the cloud delivery backends need, as pure
 * functions over OpenSSL's libcrypto so each can be checked against published
 * vectors: base64url, SHA-256 of a file, a service-account JWT signed RS256
 * (Google's JWT bearer grant, EXTERNAL_APIS.md §6.6) and an S3 presigned URL
 * query (AWS Signature Version 4, query-string form). No I/O except reading
 * the file being hashed; the caller passes the time. */
#ifndef HARDE_SERVICES_DELIVERY_DELIVERY_SIGN_H
#define HARDE_SERVICES_DELIVERY_DELIVERY_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define DELIVERY_SHA256_HEX 65 /* 64 hex digits + NUL */

/* base64url of data without '=' padding (RFC 7515 §2). New string. */
char *delivery_base64url(const void *data, size_t len);

/* Lower-case hex SHA-256 of data into hex. */
void delivery_sha256_hex(const void *data, size_t len, char hex[DELIVERY_SHA256_HEX]);

/* Lower-case hex SHA-256 of the file at path into hex, and its size. 0, or
 * ERR_NOT_FOUND / ERR_IO with err set. */
int delivery_sha256_file(const char *path, char hex[DELIVERY_SHA256_HEX], int64_t *size, char *err,
                         size_t errlen);

/* Whether pem holds a private RSA key OpenSSL can use: 0, or ERR_AUTH with a
 * sentence in err. */
int delivery_rsa_key_check(const char *pem, char *err, size_t errlen);

/* The claims of a service-account JWT as compact JSON text (new):
 * {"iss":iss,"scope":scope,"aud":aud,"iat":iat,"exp":iat+lifetime_s} plus
 * "sub":sub when sub is not NULL. */
char *delivery_jwt_claims(const char *iss, const char *scope, const char *aud, const char *sub,
                          int64_t iat, long lifetime_s);

/* A JWT: base64url({"alg":"RS256","typ":"JWT"}) "." base64url(claims_json)
 * "." base64url(RSASSA-PKCS1-v1_5 SHA-256 signature with the PEM private key).
 * 0 and *out (new), or ERR_AUTH (unusable key) with err set. */
int delivery_jwt_rs256(const char *pem, const char *claims_json, char **out, char *err,
                       size_t errlen);

/* What an S3 presigned request covers. */
struct delivery_presign {
    const char *method; /* "GET" */
    const char *host;   /* the Host header: "bucket.s3.region.amazonaws.com" or
                           "127.0.0.1:9000" (with the port when not default) */
    const char *path;   /* the object's path, unencoded: "/test.txt", "/bucket/key" */
    const char *region; /* "us-east-1" */
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* may be NULL */
    int64_t now;               /* Unix seconds of signing */
    long expires_s;            /* 1 .. 604800 */
};

/* The path as SigV4 canonicalises it for S3: every byte but the unreserved
 * ones and '/' percent-encoded (new). */
char *delivery_s3_uri_encode(const char *path);

/* The query string of a presigned URL ("X-Amz-Algorithm=...&X-Amz-Signature=
 * <hex>"), signing only the host header with an UNSIGNED-PAYLOAD (new).
 * With AWS's documented example (GET examplebucket/test.txt,
 * AKIAIOSFODNN7EXAMPLE, 20130524T000000Z, 86400 s) the signature is
 * aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404. */
char *delivery_s3_presign_query(const struct delivery_presign *p);

#endif
