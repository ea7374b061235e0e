/* crm_internal — what the files of services/crm share and the unit tests
 * reach: the backends' constructors, the search ranking, the Leap client's
 * token bucket and wire helpers, and small string helpers. Not for callers
 * outside services/crm (they use crm.h). */
#ifndef HARDE_SERVICES_CRM_CRM_INTERNAL_H
#define HARDE_SERVICES_CRM_CRM_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include "base/buf.h"
#include "services/crm/crm.h"

/* ---- backends ---------------------------------------------------------------- */

/* The SQLite CRM at db_path (WAL, foreign keys, migrations); seeded from
 * seed_path (may be NULL) when the database is new. New, or NULL with err. */
struct crm *crm_local_open(const char *db_path, const char *seed_path, char *err, size_t errlen);
/* The Leap client (opts->leap_*). New, or NULL with err. */
struct crm *crm_leap_open(const struct crm_options *opts, char *err, size_t errlen);

/* ---- helpers ------------------------------------------------------------------ */

void crm_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* New copy of s without leading/trailing white space; NULL for NULL or blank. */
char *crm_dup_trimmed(const char *s);
/* True when s is NULL or only white space. */
bool crm_blank(const char *s);
/* The current UTC time as "2026-11-25T16:08:42Z" into out (21+ bytes). */
void crm_now_iso(char *out, size_t outlen);
/* True for a local appointment time "YYYY-MM-DDTHH:MM" with sane ranges. */
bool crm_appointment_valid(const char *s);
/* "First Last" (new). */
char *crm_full_name(const char *first, const char *last);
/* "street, city, ST zip" from the parts that are set (new; "" when none). */
char *crm_address_line(const char *street, const char *city, const char *state, const char *zip);

/* ---- search ranking ------------------------------------------------------------- */

/* How well customer c matches query, 0 = not at all. A query with four or
 * more digits and no letters is a phone (or ZIP / house number) query: the
 * whole number scores 100, its last digits 80, digits inside 60, a ZIP 70, a
 * house number 50. Otherwise every word of the query must match some field,
 * and the words' best scores add up: last name 40 exact / 25 prefix, first
 * name 30 / 20, inside the name 12, email 45 exact / 15 prefix of its local
 * part / 10 inside, ZIP 20, a street word 12 / inside 10, city 10 / 6 prefix,
 * state 3; "first last" equal to the query adds 30. *matched gets the field
 * of the best word (static). Case-insensitive (ASCII). */
int crm_match(const struct crm_customer *c, const char *query, const char **matched);
/* Sorts hits best first (score, then last name, first name, id) and keeps
 * the first limit. */
void crm_hits_rank(struct crm_hits *hits, size_t limit);

/* ---- the Leap client's budget --------------------------------------------------- */

/* A token bucket: `capacity` requests at once, refilled at `refill_per_minute`.
 * With capacity B and refill N - B per minute, no 60-second window ever sees
 * more than N requests. Pure: the caller passes the time. */
struct crm_bucket {
    double tokens;
    double capacity;
    double per_ns; /* tokens gained per nanosecond */
    int64_t last_ns;
};

void crm_bucket_init(struct crm_bucket *b, double capacity, double refill_per_minute,
                     int64_t now_ns);
/* 0 when a token was available (and is now taken); otherwise the
 * nanoseconds to wait before asking again (nothing taken). */
int64_t crm_bucket_take(struct crm_bucket *b, int64_t now_ns);

/* ---- Leap wire helpers (crm_leap_wire.c) ------------------------------------------ */

/* Appends "key=value" (with '&' when b is not empty), both percent-encoded
 * as application/x-www-form-urlencoded (RFC 3986 unreserved bytes kept).
 * 0 or ERR_LIMIT. */
int crm_form_add(struct buf *b, const char *key, const char *value);
/* A multipart/form-data body with one text field; *content_type gets the
 * header value with its boundary (new). 0 or ERR_LIMIT. */
int crm_multipart_one(struct buf *b, const char *name, const char *value, char **content_type);

/* json_t helpers that see through Leap's {"data": …} wrapping of included
 * relations. All borrowed. */
json_t *crm_leap_unwrap(json_t *value);
/* The string at key (or NULL); numbers are not strings. */
const char *crm_leap_str(json_t *obj, const char *key);
/* The integer at key, also when sent as a string of digits; 0 when absent. */
int64_t crm_leap_int(json_t *obj, const char *key);
/* Fills a customer from a Leap customer object (phones, address, lead source). */
void crm_leap_customer(json_t *obj, struct crm_customer *out);
/* Fills a job from a Leap job object (with its includes, if any). */
void crm_leap_job(json_t *obj, struct crm_job *out);
/* The message of a Leap error body (JSON error.message / message, or the text
 * of an HTML page) into out. */
void crm_leap_error_text(const char *body, char *out, size_t outlen);
/* Leap "2026-12-01 18:00:00" as our "2026-12-01T18:00" (new), NULL for NULL. */
char *crm_leap_time(const char *text);

#endif
