/* delivery_gdrive — delivery through Google Drive v3 with a service account.
 * See delivery.h and EXTERNAL_APIS.md §6.
 *
 * Owns one HTTP client, the service account's key (read once at open, wiped
 * at close) and the current access token. The token comes from the JWT
 * bearer grant: claims {iss, scope, aud = the key file's token_uri, iat, exp
 * = iat + 1 h} signed RS256 (delivery_sign.c), POSTed form-encoded to
 * token_uri; it is reused until shortly before expires_in runs out, and a 401
 * from Drive drops it and mints one more before giving up.
 *
 * An upload is one multipart/related request (metadata + bytes, built by
 * hand: libcurl's mime API only makes multipart/form-data) up to
 * multipart_max bytes, else a resumable session: POST the metadata, then PUT
 * chunks (multiples of 256 KiB) with Content-Range to the Location URI; 308
 * means "more", and after a lost answer the client asks the session how far
 * it got ("bytes * /TOTAL") and goes on from there. Every request carries
 * supportsAllDrives=true (the folder must be in a shared drive: service
 * accounts own no storage) and asks for fields=id,webViewLink. The file then
 * gets an anyone/reader permission; if that fails, the file is deleted so
 * nothing private-but-orphaned is left behind. */
#define _GNU_SOURCE /* memmem, pread */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "net/http_client.h"
#include "services/delivery/delivery_internal.h"
#include "services/delivery/delivery_sign.h"

#define GDRIVE_KEY_FILE_MAX   (64u << 10)
#define GDRIVE_JSON_MAX       (1u << 20)
#define GDRIVE_JWT_LIFETIME_S 3600
#define GDRIVE_ID_MAX         200
#define GDRIVE_URL_MAX        4096
#define GDRIVE_CHUNK_UNIT     (256L << 10)
#define GDRIVE_RESUMES        3
#define GDRIVE_GRANT          "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
#define GDRIVE_FIELDS         "supportsAllDrives=true&fields=id,webViewLink"
#define GDRIVE_JSON_TYPE      "Content-Type: application/json; charset=UTF-8"

struct delivery_gdrive {
    struct delivery base;
    struct http_client *http;
    char *key_file; /* for messages */
    char *key_pem;
    char *client_email;
    char *token_uri;
    char *scope;
    char *subject; /* may be NULL */
    char *folder_id;
    char *api_base; /* without trailing '/' */
    long timeout_ms;
    long multipart_max;
    long chunk_bytes;
    char *access_token;     /* NULL until minted */
    int64_t token_renew_ms; /* wall clock after which a new token is minted */
};

/* ---- small helpers ------------------------------------------------------------ */

static void gdrive_wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

/* A string member of obj (borrowed) or NULL. */
static const char *gdrive_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Parses resp's body as a JSON object (new reference) or NULL. */
static json_t *gdrive_json(const struct http_response *resp)
{
    json_t *j = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* Reads a whole small file into a new string; 0 or an error with err set. */
static int gdrive_read_small(const char *path, size_t max, char **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        delivery_set_err(err, errlen, "delivery: cannot read the Google key file %s: %s", path,
                         strerror(errno));
        return ERR_CONFIG;
    }
    struct buf b;
    buf_init(&b, max);
    char chunk[4096];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&b, chunk, n)) {
            delivery_set_err(err, errlen,
                             "delivery: the Google key file %s is larger than %zu "
                             "bytes",
                             path, max);
            rc = ERR_CONFIG;
            break;
        }
    fclose(f);
    if (rc) {
        if (b.data)
            memset(b.data, 0, b.len);
        buf_free(&b);
        return rc;
    }
    *out = buf_steal(&b);
    return 0;
}

/* ---- errors ------------------------------------------------------------------------ */

/* Turns a Drive error answer into an ERR_* code and a sentence about what
 * the client was doing. */
static int gdrive_api_error(struct delivery_gdrive *g, const struct http_response *resp,
                            const char *doing, char *err, size_t errlen)
{
    json_t *j = gdrive_json(resp);
    json_t *e = json_object_get(j, "error");
    const char *message = gdrive_str(e, "message");
    const char *reason = gdrive_str(json_array_get(json_object_get(e, "errors"), 0), "reason");
    if (!reason)
        reason = "";
    int rc = ERR_HTTP;
    const char *hint = "";
    if (resp->status == 401) {
        rc = ERR_AUTH;
        hint = " (the access token was refused)";
    } else if (strcmp(reason, "storageQuotaExceeded") == 0) {
        rc = ERR_CONFIG;
        hint = " (service accounts have no storage of their own: the folder must be in a "
               "shared drive the service account is a member of)";
    } else if (resp->status == 429 || strcmp(reason, "rateLimitExceeded") == 0 ||
               strcmp(reason, "userRateLimitExceeded") == 0) {
        rc = ERR_RATE_LIMIT;
    } else if (resp->status == 403) {
        rc = ERR_AUTH;
        hint = " (the service account may not do this: check the scope and its role on the "
               "shared drive)";
    } else if (resp->status == 404 && strstr(doing, "upload")) {
        rc = ERR_CONFIG;
        hint = " (is the folder id right, and is the folder in a shared drive the service "
               "account is a member of?)";
    }
    delivery_set_err(err, errlen, "Google Drive refused %s (folder %s): HTTP %ld%s%s: %.300s%s",
                     doing, g->folder_id, resp->status, *reason ? " " : "", reason,
                     message ? message : buf_str(&resp->body), hint);
    json_decref(j);
    return rc;
}

/* ---- the access token ----------------------------------------------------------- */

static int gdrive_token_answer(struct delivery_gdrive *g, const struct http_response *resp,
                               char *err, size_t errlen)
{
    json_t *j = gdrive_json(resp);
    const char *token = gdrive_str(j, "access_token");
    json_t *expires = json_object_get(j, "expires_in");
    if (!token || !*token || strpbrk(token, "\r\n")) {
        delivery_set_err(err, errlen,
                         "delivery: the Google token endpoint %s answered without "
                         "an access_token",
                         g->token_uri);
        json_decref(j);
        return ERR_PARSE;
    }
    long lifetime = json_is_integer(expires) ? (long)json_integer_value(expires) : 3600;
    if (lifetime <= 0)
        lifetime = 1;
    long margin = lifetime >= 600 ? 60 : lifetime / 10;
    gdrive_wipe_free(g->access_token);
    g->access_token = xstrdup(token);
    g->token_renew_ms = clock_wall_ms() + (int64_t)(lifetime - margin) * 1000;
    json_decref(j);
    return 0;
}

static int gdrive_token_refused(struct delivery_gdrive *g, const struct http_response *resp,
                                char *err, size_t errlen)
{
    json_t *j = gdrive_json(resp);
    const char *error = gdrive_str(j, "error");
    const char *desc = gdrive_str(j, "error_description");
    int rc = resp->status >= 400 && resp->status < 500 && resp->status != 429 ? ERR_AUTH : ERR_HTTP;
    delivery_set_err(err, errlen,
                     "Google refused the service-account key of %s (key file %s): HTTP %ld "
                     "%s%s%.300s",
                     g->client_email, g->key_file, resp->status, error ? error : "",
                     desc ? ": " : "", desc ? desc : "");
    json_decref(j);
    return rc;
}

/* Makes sure g->access_token is valid (force: mint a new one anyway). */
static int gdrive_token(struct delivery_gdrive *g, bool force, char *err, size_t errlen)
{
    if (!force && g->access_token && clock_wall_ms() < g->token_renew_ms)
        return 0;
    char *jwt = NULL, *body = NULL;
    char *claims = delivery_jwt_claims(g->client_email, g->scope, g->token_uri, g->subject,
                                       clock_wall_ms() / 1000, GDRIVE_JWT_LIFETIME_S);
    struct http_response resp;
    http_response_init(&resp);
    char sign_err[256];
    int rc = delivery_jwt_rs256(g->key_pem, claims, &jwt, sign_err, sizeof sign_err);
    if (rc) {
        delivery_set_err(err, errlen, "delivery: the Google key file %s: %s", g->key_file,
                         sign_err);
        goto out;
    }
    body = xasprintf("%s&assertion=%s", GDRIVE_GRANT, jwt);
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    struct http_request req = HTTP_REQUEST_INIT;
    req.method = "POST";
    req.url = g->token_uri;
    req.headers = headers;
    req.body = body;
    req.body_len = strlen(body);
    req.timeout_ms = g->timeout_ms;
    req.max_response = GDRIVE_JSON_MAX;
    char http_err[256];
    rc = http_client_request(g->http, &req, &resp, http_err, sizeof http_err);
    if (rc == ERR_HTTP)
        rc = gdrive_token_refused(g, &resp, err, errlen);
    else if (rc)
        delivery_set_err(err, errlen, "delivery: cannot get a Google access token: %s", http_err);
    else
        rc = gdrive_token_answer(g, &resp, err, errlen);
out:
    http_response_free(&resp);
    gdrive_wipe_free(body);
    gdrive_wipe_free(jwt);
    free(claims);
    return rc;
}

/* ---- Drive requests ---------------------------------------------------------------- */

struct gdrive_call {
    const char *method;
    const char *url;
    const char *content_type; /* a whole "Content-Type: ..." line, or NULL */
    const char *extra[3];     /* more header lines, NULL-terminated */
    const char *body;
    size_t body_len;
    int max_retries; /* -1: the client's default */
};

/* Performs call with a valid token; on a 401 mints a new token and tries
 * once more. Returns http_client_request's code (ERR_HTTP with resp filled
 * for an error answer); a token failure's code with err set. */
static int gdrive_request(struct delivery_gdrive *g, const struct gdrive_call *call,
                          struct http_response *resp, char *err, size_t errlen)
{
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = gdrive_token(g, attempt > 0, err, errlen)))
            return rc;
        char *auth = xasprintf("Authorization: Bearer %s", g->access_token);
        const char *headers[6] = {auth};
        size_t n = 1;
        if (call->content_type)
            headers[n++] = call->content_type;
        for (size_t i = 0; i < 3 && call->extra[i]; i++)
            headers[n++] = call->extra[i];
        struct http_request req = HTTP_REQUEST_INIT;
        req.method = call->method;
        req.url = call->url;
        req.headers = headers;
        req.body = call->body;
        req.body_len = call->body_len;
        req.timeout_ms = g->timeout_ms;
        req.max_response = GDRIVE_JSON_MAX;
        req.max_retries = call->max_retries;
        rc = http_client_request(g->http, &req, resp, err, errlen);
        gdrive_wipe_free(auth);
        if (!(rc == ERR_HTTP && resp->status == 401))
            break;
    }
    return rc;
}

static int gdrive_delete_id(struct delivery_gdrive *g, const char *id, char *err, size_t errlen)
{
    char *url = xasprintf("%s/drive/v3/files/%s?supportsAllDrives=true", g->api_base, id);
    struct gdrive_call call = {.method = "DELETE", .url = url, .max_retries = -1};
    struct http_response resp;
    http_response_init(&resp);
    int rc = gdrive_request(g, &call, &resp, err, errlen);
    if (rc == ERR_HTTP && resp.status == 404)
        rc = 0; /* already gone */
    else if (rc == ERR_HTTP)
        rc = gdrive_api_error(g, &resp, "deleting the file", err, errlen);
    http_response_free(&resp);
    free(url);
    return rc;
}

/* The metadata of a new file as JSON text (new). */
static char *gdrive_metadata(struct delivery_gdrive *g, const char *name, const char *ctype)
{
    json_t *meta =
        json_pack("{s:s, s:s, s:[s]}", "name", name, "mimeType", ctype, "parents", g->folder_id);
    char *text = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(meta);
    if (!text) {
        fputs("harde: out of memory\n", stderr);
        abort();
    }
    char *out = xstrdup(text);
    free(text);
    return out;
}

/* Reads len bytes at offset of fd into b (reset first). */
static int gdrive_read_at(int fd, int64_t offset, size_t len, struct buf *b, const char *path,
                          char *err, size_t errlen)
{
    buf_reset(b);
    char chunk[64 << 10];
    while (b->len < len) {
        size_t want = len - b->len < sizeof chunk ? len - b->len : sizeof chunk;
        ssize_t n = pread(fd, chunk, want, (off_t)(offset + (int64_t)b->len));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || buf_append(b, chunk, (size_t)n)) {
            delivery_set_err(err, errlen, "delivery: cannot read %s%s", path,
                             n == 0 ? " (it shrank during the upload)" : "");
            return ERR_IO;
        }
    }
    return 0;
}

/* Uploads in one multipart/related request; *file gets the answer (new). */
static int gdrive_multipart(struct delivery_gdrive *g, int fd, const char *path, int64_t size,
                            const char *name, const char *ctype, json_t **file, char *err,
                            size_t errlen)
{
    char token[DELIVERY_TOKEN_HEX + 1], boundary[64], type_line[128], media_line[160];
    struct buf data, body;
    buf_init(&data, 0);
    buf_init(&body, 0);
    char *meta = gdrive_metadata(g, name, ctype);
    char *url =
        xasprintf("%s/upload/drive/v3/files?uploadType=multipart&" GDRIVE_FIELDS, g->api_base);
    struct http_response resp;
    http_response_init(&resp);
    int rc = gdrive_read_at(fd, 0, (size_t)size, &data, path, err, errlen);
    if (rc)
        goto out;
    do { /* a boundary that the file does not contain */
        if ((rc = delivery_random_token(token, err, errlen)))
            goto out;
        snprintf(boundary, sizeof boundary, "harde-%s", token);
    } while (data.len && memmem(data.data, data.len, boundary, strlen(boundary)));
    snprintf(type_line, sizeof type_line, "Content-Type: multipart/related; boundary=%s", boundary);
    snprintf(media_line, sizeof media_line, "Content-Type: %s", ctype);
    buf_printf(&body, "--%s\r\n" GDRIVE_JSON_TYPE "\r\n\r\n%s\r\n--%s\r\n%s\r\n\r\n", boundary,
               meta, boundary, media_line);
    buf_append(&body, data.data ? data.data : "", data.len);
    buf_printf(&body, "\r\n--%s--\r\n", boundary);
    struct gdrive_call call = {.method = "POST",
                               .url = url,
                               .content_type = type_line,
                               .body = body.data,
                               .body_len = body.len,
                               .max_retries = -1};
    rc = gdrive_request(g, &call, &resp, err, errlen);
    if (rc == ERR_HTTP)
        rc = gdrive_api_error(g, &resp, "the upload", err, errlen);
    else if (rc == 0 && !(*file = gdrive_json(&resp))) {
        delivery_set_err(err, errlen, "Google Drive answered the upload with no file object");
        rc = ERR_PARSE;
    }
out:
    http_response_free(&resp);
    buf_free(&data);
    buf_free(&body);
    free(meta);
    free(url);
    return rc;
}

/* Where a 308 answer says the session stands: the next byte to send. */
static int64_t gdrive_next_offset(const struct http_response *resp)
{
    char range[128];
    long long last = -1;
    if (http_response_header(resp, "range", range, sizeof range) &&
        sscanf(range, "bytes=0-%lld", &last) == 1)
        return (int64_t)last + 1;
    return 0;
}

/* Starts a resumable session; *session gets its URI (new). */
static int gdrive_session(struct delivery_gdrive *g, int64_t size, const char *name,
                          const char *ctype, char **session, char *err, size_t errlen)
{
    char type_line[160], length_line[64];
    char *meta = gdrive_metadata(g, name, ctype);
    char *url =
        xasprintf("%s/upload/drive/v3/files?uploadType=resumable&" GDRIVE_FIELDS, g->api_base);
    snprintf(type_line, sizeof type_line, "X-Upload-Content-Type: %s", ctype);
    snprintf(length_line, sizeof length_line, "X-Upload-Content-Length: %lld", (long long)size);
    struct gdrive_call call = {.method = "POST",
                               .url = url,
                               .content_type = GDRIVE_JSON_TYPE,
                               .extra = {type_line, length_line, NULL},
                               .body = meta,
                               .body_len = strlen(meta),
                               .max_retries = -1};
    struct http_response resp;
    http_response_init(&resp);
    int rc = gdrive_request(g, &call, &resp, err, errlen);
    char *location = xmalloc(GDRIVE_URL_MAX);
    if (rc == ERR_HTTP)
        rc = gdrive_api_error(g, &resp, "the upload", err, errlen);
    else if (rc == 0 &&
             (!http_response_header(&resp, "location", location, GDRIVE_URL_MAX) ||
              strlen(location) >= GDRIVE_URL_MAX - 1 ||
              (strncmp(location, "http://", 7) != 0 && strncmp(location, "https://", 8) != 0))) {
        delivery_set_err(err, errlen,
                         "Google Drive started an upload session without a usable "
                         "Location");
        rc = ERR_PARSE;
    }
    if (rc == 0) {
        *session = location;
        location = NULL;
    }
    free(location);
    http_response_free(&resp);
    free(meta);
    free(url);
    return rc;
}

/* One PUT to the session: a chunk [offset, offset + data->len), or, with
 * data NULL, a status query. 0 with *file when the upload is complete, 1
 * with *next when the session wants more, or an error. */
static int gdrive_put(struct delivery_gdrive *g, const char *session, const struct buf *data,
                      int64_t offset, int64_t size, const char *ctype, json_t **file, int64_t *next,
                      char *err, size_t errlen)
{
    char range[96], type_line[160];
    if (!data)
        snprintf(range, sizeof range, "Content-Range: bytes */%lld", (long long)size);
    else if (size == 0)
        snprintf(range, sizeof range, "Content-Range: bytes */0");
    else
        snprintf(range, sizeof range, "Content-Range: bytes %lld-%lld/%lld", (long long)offset,
                 (long long)(offset + (int64_t)data->len - 1), (long long)size);
    snprintf(type_line, sizeof type_line, "Content-Type: %s", ctype);
    struct gdrive_call call = {.method = "PUT",
                               .url = session,
                               .content_type = type_line,
                               .extra = {range, NULL},
                               .body = data ? buf_str(data) : "",
                               .body_len = data ? data->len : 0,
                               .max_retries = 0};
    struct http_response resp;
    http_response_init(&resp);
    int rc = gdrive_request(g, &call, &resp, err, errlen);
    if (rc == ERR_HTTP && resp.status == 308) {
        *next = gdrive_next_offset(&resp);
        rc = 1;
    } else if (rc == ERR_HTTP) {
        rc = gdrive_api_error(g, &resp, "an upload chunk", err, errlen);
    } else if (rc == 0 && !(*file = gdrive_json(&resp))) {
        delivery_set_err(err, errlen, "Google Drive finished the upload with no file object");
        rc = ERR_PARSE;
    }
    http_response_free(&resp);
    return rc;
}

static bool gdrive_resumable_failure(int rc)
{
    return rc == ERR_NETWORK || rc == ERR_TIMEOUT || rc == ERR_HTTP || rc == ERR_RATE_LIMIT;
}

/* Uploads through a resumable session, chunk by chunk. */
static int gdrive_resumable(struct delivery_gdrive *g, int fd, const char *path, int64_t size,
                            const char *name, const char *ctype, json_t **file, char *err,
                            size_t errlen)
{
    char *session = NULL;
    struct buf chunk;
    buf_init(&chunk, 0);
    int rc = gdrive_session(g, size, name, ctype, &session, err, errlen);
    int64_t offset = 0;
    int resumes = 0;
    while (rc == 0) {
        size_t n =
            size - offset < g->chunk_bytes ? (size_t)(size - offset) : (size_t)g->chunk_bytes;
        if ((rc = gdrive_read_at(fd, offset, n, &chunk, path, err, errlen)))
            break;
        int64_t next = offset;
        rc = gdrive_put(g, session, &chunk, offset, size, ctype, file, &next, err, errlen);
        while (rc < 0 && gdrive_resumable_failure(rc) && resumes < GDRIVE_RESUMES) {
            log_warn("delivery", "gdrive: %s; asking the upload session where it stands", err);
            clock_sleep_ms(200L << resumes, NULL);
            resumes++;
            rc = gdrive_put(g, session, NULL, 0, size, ctype, file, &next, err, errlen);
        }
        if (rc == 0)
            break; /* complete */
        if (rc == 1) {
            if (next < 0 || next > size) {
                delivery_set_err(err, errlen,
                                 "Google Drive's upload session reports an "
                                 "impossible offset %lld",
                                 (long long)next);
                rc = ERR_PARSE;
                break;
            }
            offset = next;
            rc = 0;
        }
    }
    buf_free(&chunk);
    free(session);
    return rc;
}

static int gdrive_share(struct delivery_gdrive *g, const char *id, char *err, size_t errlen)
{
    static const char body[] = "{\"type\":\"anyone\",\"role\":\"reader\"}";
    char *url =
        xasprintf("%s/drive/v3/files/%s/permissions?supportsAllDrives=true", g->api_base, id);
    struct gdrive_call call = {.method = "POST",
                               .url = url,
                               .content_type = GDRIVE_JSON_TYPE,
                               .body = body,
                               .body_len = strlen(body),
                               .max_retries = -1};
    struct http_response resp;
    http_response_init(&resp);
    int rc = gdrive_request(g, &call, &resp, err, errlen);
    if (rc == ERR_HTTP)
        rc = gdrive_api_error(g, &resp, "sharing the file by link", err, errlen);
    http_response_free(&resp);
    free(url);
    return rc;
}

/* The file's webViewLink (new) asked of Drive. */
static int gdrive_view_link(struct delivery_gdrive *g, const char *id, char **link, char *err,
                            size_t errlen)
{
    char *url = xasprintf("%s/drive/v3/files/%s?supportsAllDrives=true&fields=webViewLink",
                          g->api_base, id);
    struct gdrive_call call = {.method = "GET", .url = url, .max_retries = -1};
    struct http_response resp;
    http_response_init(&resp);
    int rc = gdrive_request(g, &call, &resp, err, errlen);
    if (rc == ERR_HTTP)
        rc = gdrive_api_error(g, &resp, "reading the file's link", err, errlen);
    if (rc == 0) {
        json_t *j = gdrive_json(&resp);
        const char *v = gdrive_str(j, "webViewLink");
        if (v)
            *link = xstrdup(v);
        else {
            delivery_set_err(err, errlen, "Google Drive gave the file no webViewLink");
            rc = ERR_PARSE;
        }
        json_decref(j);
    }
    http_response_free(&resp);
    free(url);
    return rc;
}

/* Shares the uploaded file and fills out; deletes the file on failure. */
static int gdrive_publish(struct delivery_gdrive *g, json_t *file, struct delivery_link *out,
                          char *err, size_t errlen)
{
    const char *id = gdrive_str(file, "id");
    if (!delivery_id_valid(id, GDRIVE_ID_MAX)) {
        delivery_set_err(err, errlen, "Google Drive answered the upload with no usable file id");
        return ERR_PARSE;
    }
    const char *link = gdrive_str(file, "webViewLink");
    int rc = gdrive_share(g, id, err, errlen);
    if (rc == 0 && link && (strncmp(link, "https://", 8) == 0 || strncmp(link, "http://", 7) == 0))
        out->url = xstrdup(link);
    else if (rc == 0)
        rc = gdrive_view_link(g, id, &out->url, err, errlen);
    if (rc) {
        char ignored[256];
        if (gdrive_delete_id(g, id, ignored, sizeof ignored) != 0)
            log_warn("delivery", "gdrive: could not delete the unshared file %s: %s", id, ignored);
        return rc;
    }
    out->handle = xasprintf("gdrive:%s", id);
    return 0;
}

/* ---- the backend ----------------------------------------------------------------------- */

static int gdrive_upload(struct delivery *d, const char *path, int64_t size, const char *name,
                         const char *content_type, struct delivery_link *out, char *err,
                         size_t errlen)
{
    struct delivery_gdrive *g = (struct delivery_gdrive *)d;
    json_t *file = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        delivery_set_err(err, errlen, "delivery: cannot open %s: %s", path, strerror(errno));
        return ERR_IO;
    }
    int rc = size <= g->multipart_max
                 ? gdrive_multipart(g, fd, path, size, name, content_type, &file, err, errlen)
                 : gdrive_resumable(g, fd, path, size, name, content_type, &file, err, errlen);
    close(fd);
    if (rc == 0)
        rc = gdrive_publish(g, file, out, err, errlen);
    json_decref(file);
    if (rc == 0)
        log_info("delivery", "gdrive: uploaded %s (%lld bytes)", name, (long long)size);
    return rc;
}

static int gdrive_remove(struct delivery *d, const char *id, char *err, size_t errlen)
{
    struct delivery_gdrive *g = (struct delivery_gdrive *)d;
    if (!delivery_id_valid(id, GDRIVE_ID_MAX)) {
        delivery_set_err(err, errlen, "delivery: \"gdrive:%.64s\" is not a Drive file handle", id);
        return ERR_INVALID;
    }
    return gdrive_delete_id(g, id, err, errlen);
}

static void gdrive_close(struct delivery *d)
{
    struct delivery_gdrive *g = (struct delivery_gdrive *)d;
    http_client_free(g->http);
    free(g->key_file);
    gdrive_wipe_free(g->key_pem);
    free(g->client_email);
    free(g->token_uri);
    free(g->scope);
    free(g->subject);
    free(g->folder_id);
    free(g->api_base);
    gdrive_wipe_free(g->access_token);
    free(g);
}

static const struct delivery_backend gdrive_backend = {
    .name = "gdrive",
    .upload = gdrive_upload,
    .remove = gdrive_remove,
    .close = gdrive_close,
};

static bool gdrive_http_url(const char *s)
{
    return s && (strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0);
}

/* Reads the service-account key file into g. */
static int gdrive_load_key(struct delivery_gdrive *g, char *err, size_t errlen)
{
    char *text = NULL;
    int rc = gdrive_read_small(g->key_file, GDRIVE_KEY_FILE_MAX, &text, err, errlen);
    if (rc)
        return rc;
    json_t *j = json_loads(text, 0, NULL);
    gdrive_wipe_free(text);
    const char *type = gdrive_str(j, "type");
    const char *email = gdrive_str(j, "client_email");
    const char *pem = gdrive_str(j, "private_key");
    const char *uri = gdrive_str(j, "token_uri");
    if (!j || !type || strcmp(type, "service_account") != 0 || !email || !*email || !pem) {
        delivery_set_err(err, errlen,
                         "delivery: %s is not a Google service-account key file (JSON with "
                         "\"type\": \"service_account\", \"client_email\" and \"private_key\")",
                         g->key_file);
        rc = ERR_CONFIG;
    } else if (uri && !gdrive_http_url(uri)) {
        delivery_set_err(err, errlen, "delivery: %s has a token_uri that is not an http(s) URL",
                         g->key_file);
        rc = ERR_CONFIG;
    } else {
        g->client_email = xstrdup(email);
        g->key_pem = xstrdup(pem);
        g->token_uri = xstrdup(uri ? uri : DELIVERY_GDRIVE_TOKEN_URI);
        char why[256];
        if (delivery_rsa_key_check(g->key_pem, why, sizeof why) != 0) {
            delivery_set_err(err, errlen, "delivery: the private key of %s in %s is unusable: %s",
                             email, g->key_file, why);
            rc = ERR_AUTH;
        }
    }
    if (j) { /* wipe the key's copy inside jansson too */
        json_t *pk = json_object_get(j, "private_key");
        if (json_is_string(pk))
            memset((char *)json_string_value(pk), 0, json_string_length(pk));
    }
    json_decref(j);
    return rc;
}

int delivery_gdrive_new(const struct delivery_options *opts, struct delivery **out, char *err,
                        size_t errlen)
{
    const char *missing = !opts->gdrive.key_file || !*opts->gdrive.key_file
                              ? "gdrive_key_file (a service-account JSON key)"
                          : !delivery_id_valid(opts->gdrive.folder_id, GDRIVE_ID_MAX)
                              ? "gdrive_folder_id (the id of a folder in a shared drive)"
                              : NULL;
    if (missing) {
        delivery_set_err(err, errlen, "delivery: the gdrive backend needs %s", missing);
        return ERR_CONFIG;
    }
    const char *api = opts->gdrive.api_base ? opts->gdrive.api_base : DELIVERY_GDRIVE_API_BASE;
    long chunk = opts->gdrive.chunk_bytes > 0 ? opts->gdrive.chunk_bytes : DELIVERY_GDRIVE_CHUNK;
    if (!gdrive_http_url(api) || chunk % GDRIVE_CHUNK_UNIT != 0) {
        delivery_set_err(err, errlen,
                         "delivery: gdrive api_base must be an http(s) URL and "
                         "chunk_bytes a multiple of 256 KiB");
        return ERR_CONFIG;
    }
    struct delivery_gdrive *g = xcalloc(1, sizeof *g);
    g->base.backend = &gdrive_backend;
    g->key_file = xstrdup(opts->gdrive.key_file);
    g->folder_id = xstrdup(opts->gdrive.folder_id);
    g->api_base = delivery_trim_url(api);
    g->scope = xstrdup(opts->gdrive.scope ? opts->gdrive.scope : DELIVERY_GDRIVE_SCOPE);
    g->subject = opts->gdrive.subject ? xstrdup(opts->gdrive.subject) : NULL;
    g->timeout_ms = delivery_timeout_ms(opts);
    g->multipart_max =
        opts->gdrive.multipart_max > 0 ? opts->gdrive.multipart_max : DELIVERY_GDRIVE_MULTIPART_MAX;
    g->chunk_bytes = chunk;
    int rc = gdrive_load_key(g, err, errlen);
    if (rc) {
        gdrive_close(&g->base);
        return rc;
    }
    g->http = http_client_new();
    *out = &g->base;
    return 0;
}
