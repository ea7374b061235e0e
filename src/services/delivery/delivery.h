/* delivery — puts a finished file (the primer video) where a homeowner can
 * open it from a link, and takes it away again at cleanup.
 *
 * One interface, three backends behind a vtable:
 *   "local" (default) — a delivery folder, DATA_DIR/delivery/<token>/<name>,
 *                       where <token> is 128 random bits from /dev/urandom in
 *                       hex; the link is {public_base_url}/d/<token>/<name>,
 *                       served by `harde serve` through delivery_local_open;
 *   "gdrive"          — Google Drive v3 with a service account
 *                       (EXTERNAL_APIS.md §6): an RS256 JWT exchanged for an
 *                       access token (cached until shortly before it
 *                       expires), a multipart upload (resumable above
 *                       gdrive.multipart_max) into a shared-drive folder, an
 *                       anyone-with-link reader permission; the link is the
 *                       file's webViewLink;
 *   "s3"              — S3 (§8): PUT signed by libcurl's CURLOPT_AWS_SIGV4;
 *                       the link is a presigned GET (SigV4 query signing) or
 *                       {s3.public_base_url}/<key>.
 *
 * An upload returns a link and a handle. The handle is a short string
 * ("local:<token>", "gdrive:<file id>", "s3:<key>") meant to be recorded
 * (a workflow step's output) so that cleanup can run later, in another
 * process, with delivery_remove on a delivery opened with the same options.
 * Removal is idempotent: a handle whose file is already gone succeeds.
 *
 * Names are the file names people see (in the link and in Drive): 1 to
 * DELIVERY_NAME_MAX bytes of [A-Za-z0-9._-] starting with a letter or digit,
 * so a link never needs escaping and never walks out of its folder.
 *
 * A struct delivery is a long-lived handle used by one thread at a time. */
#ifndef HARDE_SERVICES_DELIVERY_DELIVERY_H
#define HARDE_SERVICES_DELIVERY_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;

#define DELIVERY_NAME_MAX             128                /* bytes of a file name */
#define DELIVERY_CONTENT_TYPE_MAX     127                /* bytes of a content type */
#define DELIVERY_HANDLE_MAX           512                /* bytes of a handle */
#define DELIVERY_MAX_FILE_BYTES       ((int64_t)4 << 30) /* largest file uploaded */
#define DELIVERY_TOKEN_HEX            32                 /* hex digits of a local token */
#define DELIVERY_LOCAL_PREFIX         "/d/"              /* URL path prefix of local links */
#define DELIVERY_DEFAULT_TIMEOUT_MS   (10L * 60 * 1000)  /* one HTTP request */
#define DELIVERY_GDRIVE_API_BASE      "https://www.googleapis.com"
#define DELIVERY_GDRIVE_SCOPE         "https://www.googleapis.com/auth/drive"
#define DELIVERY_GDRIVE_TOKEN_URI     "https://oauth2.googleapis.com/token"
#define DELIVERY_GDRIVE_MULTIPART_MAX (5L << 20) /* larger files: resumable upload */
#define DELIVERY_GDRIVE_CHUNK         (8L << 20) /* resumable chunk; n * 256 KiB */
#define DELIVERY_S3_PRESIGN_DEFAULT_S (7L * 24 * 3600)
#define DELIVERY_S3_PRESIGN_MAX_S     (7L * 24 * 3600) /* S3's limit */

struct delivery_options {
    const char *backend; /* "local" (NULL: local), "gdrive" or "s3" */
    long timeout_ms;     /* one HTTP request; 0: DELIVERY_DEFAULT_TIMEOUT_MS */
    struct {
        const char *data_dir;        /* the folder is data_dir/delivery (required) */
        const char *public_base_url; /* e.g. "http://127.0.0.1:8080" (required) */
    } local;
    struct {
        const char *key_file;  /* service-account JSON key (required) */
        const char *folder_id; /* a folder in a shared drive (required) */
        const char *api_base;  /* NULL: DELIVERY_GDRIVE_API_BASE; tests point it at a fake */
        const char *scope;     /* NULL: DELIVERY_GDRIVE_SCOPE */
        const char *subject;   /* "sub" claim (domain-wide delegation); may be NULL */
        long multipart_max;    /* 0: DELIVERY_GDRIVE_MULTIPART_MAX */
        long chunk_bytes;      /* 0: DELIVERY_GDRIVE_CHUNK; must be a multiple of 256 KiB */
    } gdrive;
    struct {
        const char *bucket;          /* required */
        const char *region;          /* required, e.g. "us-east-1" */
        const char *access_key;      /* required */
        const char *secret_key;      /* required */
        const char *session_token;   /* STS credentials; may be NULL */
        const char *endpoint;        /* NULL: https://BUCKET.s3.REGION.amazonaws.com;
                                        set: path-style ENDPOINT/BUCKET/KEY */
        const char *key_prefix;      /* prepended to every key, e.g. "primers/"; may be NULL */
        const char *public_base_url; /* set: links are PUBLIC_BASE_URL/KEY, not presigned */
        long presign_seconds;        /* 0: DELIVERY_S3_PRESIGN_DEFAULT_S; at most the max */
    } s3;
};

struct delivery;

/* A delivered file. Both strings are new; free with delivery_link_free. */
struct delivery_link {
    char *url;    /* the public link */
    char *handle; /* for delivery_remove; at most DELIVERY_HANDLE_MAX bytes */
};

/* Opens a backend. Checks the options (ERR_CONFIG naming what is missing),
 * creates the local folder, reads the Drive key file (ERR_CONFIG when it is
 * missing or not a service-account key, ERR_AUTH when its private key is not
 * a usable RSA key). No network traffic. 0 and *out (new) or an error with
 * err set. */
int delivery_open(const struct delivery_options *opts, struct delivery **out, char *err,
                  size_t errlen);

/* Opens the delivery harde.ini describes (strings borrowed from cfg and the
 * environment; data_dir and public_base_url as in options.local):
 *   [delivery] backend            local | gdrive | s3; default: gdrive when
 *                                 gdrive_key_file is set, else s3 when s3_bucket
 *                                 is set, else local
 *   [delivery] timeout_ms
 *   [delivery] gdrive_key_file, gdrive_folder_id, gdrive_api_base, gdrive_scope,
 *              gdrive_subject
 *   [delivery] s3_bucket, s3_region, s3_endpoint, s3_prefix, s3_public_base_url,
 *              s3_presign_seconds
 *   environment AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *              (secrets come from the environment only; they are registered
 *              with log_add_secret).
 * Every [delivery] key can be overridden by HARDE_DELIVERY_<KEY>. */
int delivery_open_configured(const struct config *cfg, const char *data_dir,
                             const char *public_base_url, struct delivery **out, char *err,
                             size_t errlen);

void delivery_close(struct delivery *d);

/* "local", "gdrive" or "s3" (static). */
const char *delivery_backend_name(const struct delivery *d);

/* Uploads the file at path as name with content_type (NULL:
 * "application/octet-stream") and makes it readable by anyone with the link.
 * On success fills *out (new strings). Errors: ERR_INVALID (bad name or
 * content type), ERR_IO / ERR_NOT_FOUND (the file), ERR_LIMIT (larger than
 * DELIVERY_MAX_FILE_BYTES), ERR_AUTH (credentials refused: the message says
 * by whom and why), ERR_CONFIG (a folder or bucket that does not exist or
 * cannot hold files), ERR_RATE_LIMIT, ERR_NETWORK, ERR_TIMEOUT, ERR_HTTP.
 * A cloud upload that fails after the file was created removes it again. */
int delivery_upload(struct delivery *d, const char *path, const char *name,
                    const char *content_type, struct delivery_link *out, char *err, size_t errlen);

/* Frees the link's strings and zeroes it (NULL is fine). */
void delivery_link_free(struct delivery_link *link);

/* Removes what delivery_upload delivered. 0 also when it is already gone;
 * ERR_INVALID for a handle of another backend or a malformed one. */
int delivery_remove(struct delivery *d, const char *handle, char *err, size_t errlen);

/* Whether name is a valid delivery file name (see above). */
bool delivery_name_valid(const char *name);

/* ---- serving the local folder (for `harde serve`) -------------------------- */

/* The delivery folder under data_dir (new string). */
char *delivery_local_dir(const char *data_dir);

/* An open delivered file. */
struct delivery_file {
    int fd;                                           /* read-only; the caller closes it */
    int64_t size;                                     /* bytes */
    char content_type[DELIVERY_CONTENT_TYPE_MAX + 1]; /* as given at upload */
};

/* Maps the path of a request URL ("/d/<token>/<name>", no query string) to
 * the delivered file and opens it, following no symbolic link: the token
 * directory and the file must be a real directory and a regular file inside
 * dir. Returns 0 with *out filled, ERR_INVALID for a path that is not of that
 * shape (traversal, escapes, a bad token or name, extra segments) and
 * ERR_NOT_FOUND for an unknown token or name, a symlink or anything not a
 * regular file. */
int delivery_local_open(const char *dir, const char *url_path, struct delivery_file *out);

/* The same checks as delivery_local_open; writes the file's path into out
 * (ERR_LIMIT when outlen is too small). For callers that serve by path. */
int delivery_local_resolve(const char *dir, const char *url_path, char *out, size_t outlen);

#endif
