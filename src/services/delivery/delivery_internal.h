/* delivery_internal — what the files of services/delivery share: the backend
 * vtable, the backends' constructors and small helpers. Not for callers
 * outside services/delivery (they use delivery.h). */
#ifndef HARDE_SERVICES_DELIVERY_DELIVERY_INTERNAL_H
#define HARDE_SERVICES_DELIVERY_DELIVERY_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "services/delivery/delivery.h"

/* One backend's operations. Arguments are already validated by delivery.c:
 * name is valid, content_type is set and valid, the file exists, is regular
 * and its size is known; handle starts with the backend's "kind:" prefix
 * (the rest is passed as id). */
struct delivery_backend {
    const char *name; /* "local", "gdrive", "s3" */
    int (*upload)(struct delivery *d, const char *path, int64_t size, const char *name,
                  const char *content_type, struct delivery_link *out, char *err, size_t errlen);
    int (*remove)(struct delivery *d, const char *id, char *err, size_t errlen);
    void (*close)(struct delivery *d);
};

/* Every backend's struct starts with this. */
struct delivery {
    const struct delivery_backend *backend;
};

int delivery_local_new(const struct delivery_options *opts, struct delivery **out, char *err,
                       size_t errlen);
int delivery_gdrive_new(const struct delivery_options *opts, struct delivery **out, char *err,
                        size_t errlen);
int delivery_s3_new(const struct delivery_options *opts, struct delivery **out, char *err,
                    size_t errlen);

/* ---- helpers (delivery.c) -------------------------------------------------- */

void delivery_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* DELIVERY_TOKEN_HEX lower-case hex digits of 128 bits from /dev/urandom
 * into out (DELIVERY_TOKEN_HEX + 1 bytes). 0 or ERR_IO with err set. */
int delivery_random_token(char *out, char *err, size_t errlen);
/* Whether s is 1..max bytes of [A-Za-z0-9_-] (ids from a remote API that go
 * into a URL path). */
bool delivery_id_valid(const char *s, size_t max);
/* New copy of url without trailing slashes. */
char *delivery_trim_url(const char *url);
/* The option's timeout or the default. */
long delivery_timeout_ms(const struct delivery_options *opts);

#endif
