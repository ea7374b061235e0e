/* intent_cache — the trained intent model in a binary file. See intent.h.
 *
 * Owns: the cache file format, the data directory's fingerprint, and the
 * load-or-train-and-save policy of intent_model_open_cached.
 *
 * Format (native byte order, every section starting on an 8-byte boundary):
 *
 *   header      struct cache_header: magic, format version, byte-order mark,
 *               checksum, fingerprint of the data, recipe of the trainer,
 *               feature bits, label size, and the counts below
 *   labels      n_labels × INTENT_LABEL_MAX bytes, NUL-padded names
 *   bias        n_outputs floats
 *   used        INTENT_BITMAP_WORDS uint64: the bitmap of buckets with a row
 *   weights     n_rows × n_outputs floats, exactly the model's array
 *   labelled    n_rows bytes
 *
 * The checksum is a 64-bit hash of the whole file with the checksum field
 * zeroed; the hash reads 8-byte words in four independent lanes, so it costs
 * tens of microseconds for the ~0.5 MB file, and any change confined to one
 * word is always caught (each step is a bijection of the lane state and of
 * the word). A load reads the file in one read() into one buffer that the
 * model keeps: the bitmap, weights and labelled point into it, so nothing is
 * copied; only the 16 KiB of running row counts are computed (and their
 * total must equal the header's row count, so no bitmap can send a lookup
 * past the weights). Checks run in this order, each with its own message:
 * magic, byte order, version, sizes, checksum, recipe, fingerprint, then the
 * labels and the bitmap themselves.
 *
 * The fingerprint must be taken before training reads the files: if they
 * change in between, the cache then carries the old fingerprint and is
 * rejected next time, rather than a new fingerprint on an old model. */
#define _POSIX_C_SOURCE 200809L
#include "llm/local/intent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "llm/local/intent_internal.h"

#define BYTE_ORDER_MARK 0x01020304u
#define LOG_COMPONENT   "intent"

struct cache_header {
    char magic[8];
    uint32_t version;
    uint32_t byte_order; /* BYTE_ORDER_MARK as written */
    uint64_t checksum;
    uint64_t fingerprint;
    uint64_t recipe;
    uint32_t feature_bits;
    uint32_t label_max;
    uint32_t n_labels;
    uint32_t n_outputs;
    uint32_t n_rows;
    uint32_t reserved; /* 0 */
    uint64_t n_examples;
};

_Static_assert(sizeof(struct cache_header) == 72, "the header has no hidden padding");
_Static_assert(sizeof(float) == 4, "weights are 32-bit floats");
_Static_assert(sizeof INTENT_CACHE_MAGIC - 1 == 8, "the magic is 8 bytes");

/* Bytes enough to tell a cache of any version: magic, version, byte order. */
#define PREFIX_SIZE 16

/* Offsets of the sections and the file's size, from the header's counts. */
struct layout {
    size_t labels, bias, used, weights, labelled, total;
};

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* The counts must be in range already (at most INTENT_MAX_LABELS + 1
 * outputs, INTENT_N_FEATURES rows), so nothing overflows. */
static struct layout layout_of(size_t n_labels, size_t n_outputs, size_t n_rows)
{
    struct layout l;
    l.labels = sizeof(struct cache_header);
    l.bias = l.labels + align8(n_labels * INTENT_LABEL_MAX);
    l.used = l.bias + align8(n_outputs * sizeof(float));
    l.weights = l.used + INTENT_BITMAP_WORDS * sizeof(uint64_t);
    l.labelled = l.weights + align8(n_rows * n_outputs * sizeof(float));
    l.total = l.labelled + align8(n_rows);
    return l;
}

/* ---- hashing ---------------------------------------------------------- */

#define K1 0x9e3779b97f4a7c15ull
#define K2 0xbf58476d1ce4e5b9ull
#define K3 0x94d049bb133111ebull

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t lane_step(uint64_t lane, uint64_t word)
{
    return rotl(lane + word * K1, 31) * K2;
}

static uint64_t load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* A 64-bit hash of len bytes (see the file comment); seed separates uses. */
static uint64_t hash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data, *end = p + len;
    uint64_t lane[4] = {seed + K1, seed + K2, seed + K3, seed - K1};
    for (; end - p >= 32; p += 32)
        for (int i = 0; i < 4; i++)
            lane[i] = lane_step(lane[i], load64(p + 8 * i));
    uint64_t h = (uint64_t)len * K3;
    for (int i = 0; i < 4; i++)
        h = lane_step(h, lane[i]);
    for (; end - p >= 8; p += 8)
        h = lane_step(h, load64(p));
    for (; p < end; p++)
        h = (h ^ *p) * K2;
    h ^= h >> 30; /* splitmix64's finaliser: a bijection that mixes all bits */
    h *= K2;
    h ^= h >> 27;
    h *= K3;
    return h ^ (h >> 31);
}

/* ---- reading a whole file --------------------------------------------- */

/* Reads path (at most max bytes) into *data, which is grown as needed
 * (xrealloc; the caller frees it), and sets *len. 0, ERR_NOT_FOUND (missing),
 * ERR_LIMIT (too large) or ERR_IO, with err set. */
static int read_whole(const char *path, size_t max, unsigned char **data, size_t *cap, size_t *len,
                      char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO;
    }
    int rc = ERR_IO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        goto out;
    }
    if ((uintmax_t)st.st_size > max) {
        snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
        rc = ERR_LIMIT;
        goto out;
    }
    size_t size = (size_t)st.st_size;
    if (*cap < size || !*data) {
        *data = xrealloc(*data, size ? size : 1);
        *cap = size;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, *data + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break; /* shrank since fstat: the caller sees the short length */
        got += (size_t)n;
    }
    *len = got;
    rc = 0;
out:
    close(fd);
    return rc;
}

/* ---- fingerprint ------------------------------------------------------ */

#define FINGERPRINT_SEED 0x696e74656e742d64ull /* "intent-d" */

/* Mixes the names, sizes and content hashes of dir's files ending in ext
 * into *h. 0, or -1 when the directory or a file cannot be read. */
static int fingerprint_files(const char *dir, const char *ext, uint64_t *h, unsigned char **buf,
                             size_t *cap)
{
    char err[512];
    size_t n = 0;
    char **names = intent_list_files(dir, ext, INTENT_MAX_LABELS, &n, err, sizeof err);
    if (!names)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *path = xasprintf("%s/%s", dir, names[i]);
        size_t len = 0;
        rc = read_whole(path, INTENT_FILE_MAX, buf, cap, &len, err, sizeof err) == 0 ? 0 : -1;
        if (rc == 0) {
            uint64_t record[2] = {(uint64_t)len, hash64(*buf, len, FINGERPRINT_SEED)};
            *h = hash64(names[i], strlen(names[i]) + 1, *h);
            *h = hash64(record, sizeof record, *h);
        }
        free(path);
    }
    intent_free_names(names, n);
    return rc;
}

uint64_t intent_dir_fingerprint(const char *dir)
{
    if (!dir)
        return 0;
    uint64_t h = FINGERPRINT_SEED;
    unsigned char *buf = NULL;
    size_t cap = 0;
    int rc = fingerprint_files(dir, INTENT_LABEL_EXT, &h, &buf, &cap);
    h = hash64(INTENT_OOD_EXT, sizeof INTENT_OOD_EXT, h); /* "a.txt" differs from "a.ood" */
    if (rc == 0)
        rc = fingerprint_files(dir, INTENT_OOD_EXT, &h, &buf, &cap);
    free(buf);
    if (rc != 0)
        return 0;
    return h ? h : 1;
}

/* ---- saving ----------------------------------------------------------- */

/* The whole file for model, checksum included. New buffer of *len bytes. */
static unsigned char *serialize(const struct intent_model *m, uint64_t fingerprint, size_t *len)
{
    struct layout l = layout_of(m->n_labels, m->n_outputs, m->n_rows);
    unsigned char *buf = xcalloc(1, l.total);
    struct cache_header h = {
        .version = INTENT_CACHE_VERSION,
        .byte_order = BYTE_ORDER_MARK,
        .fingerprint = fingerprint,
        .recipe = intent_recipe(),
        .feature_bits = INTENT_FEATURE_BITS,
        .label_max = INTENT_LABEL_MAX,
        .n_labels = (uint32_t)m->n_labels,
        .n_outputs = (uint32_t)m->n_outputs,
        .n_rows = (uint32_t)m->n_rows,
        .n_examples = m->n_examples,
    };
    memcpy(h.magic, INTENT_CACHE_MAGIC, sizeof h.magic);
    memcpy(buf + l.labels, m->labels, m->n_labels * INTENT_LABEL_MAX);
    memcpy(buf + l.bias, m->bias, m->n_outputs * sizeof(float));
    memcpy(buf + l.used, m->used, INTENT_BITMAP_WORDS * sizeof(uint64_t));
    memcpy(buf + l.weights, m->weights, m->n_rows * m->n_outputs * sizeof(float));
    memcpy(buf + l.labelled, m->labelled, m->n_rows);
    memcpy(buf, &h, sizeof h);
    h.checksum = hash64(buf, l.total, 0);
    memcpy(buf, &h, sizeof h);
    *len = l.total;
    return buf;
}

static int write_all(int fd, const unsigned char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Makes a rename in the directory of path durable; failures are ignored
 * (the file itself is already complete and in place). */
static void sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Creates the directory path is in (with parents) when it is missing. */
static int make_parent(const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char *dir = xstrndup(path, (size_t)(slash - path));
    int rc = 0;
    if (access(dir, F_OK) != 0 && config_mkdirs(dir, 0700) != 0) {
        snprintf(err, errlen, "%s: cannot create directory: %s", dir, strerror(errno));
        rc = ERR_IO;
    }
    free(dir);
    return rc;
}

/* Writes len bytes to path through a temporary file beside it. 0 or ERR_IO. */
static int write_atomically(const char *path, const unsigned char *data, size_t len, char *err,
                            size_t errlen)
{
    int rc = make_parent(path, err, errlen);
    if (rc != 0)
        return rc;
    char *tmp = xasprintf("%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return ERR_IO;
    }
    const char *failed = NULL;
    if (write_all(fd, data, len) != 0)
        failed = "write";
    else if (fsync(fd) != 0)
        failed = "fsync";
    if (close(fd) != 0 && !failed)
        failed = "close";
    if (!failed && rename(tmp, path) != 0)
        failed = "rename";
    if (failed) {
        snprintf(err, errlen, "%s: %s failed: %s", path, failed, strerror(errno));
        unlink(tmp);
        rc = ERR_IO;
    } else {
        sync_parent(path);
    }
    free(tmp);
    return rc;
}

int intent_model_save(const struct intent_model *model, const char *path, uint64_t fingerprint,
                      char *err, size_t errlen)
{
    if (!model || !path || !err) {
        if (err)
            snprintf(err, errlen, "intent cache: no model or path given");
        return ERR_INVALID;
    }
    size_t len;
    unsigned char *data = serialize(model, fingerprint, &len);
    int rc = write_atomically(path, data, len, err, errlen);
    free(data);
    return rc;
}

/* ---- loading ---------------------------------------------------------- */

/* Why a load failed, for the log level intent_model_open_cached picks. */
enum load_status { LOAD_OK, LOAD_MISSING, LOAD_STALE, LOAD_BAD };

/* Checks the counts of h and that the file is exactly as long as they say. */
static enum load_status check_sizes(const struct cache_header *h, size_t size, const char *path,
                                    char *err, size_t errlen)
{
    if (h->feature_bits != INTENT_FEATURE_BITS || h->label_max != INTENT_LABEL_MAX) {
        snprintf(err, errlen, "%s: made for %u feature bits and %u-byte labels, not %d and %d",
                 path, h->feature_bits, h->label_max, INTENT_FEATURE_BITS, INTENT_LABEL_MAX);
        return LOAD_STALE;
    }
    if (h->n_labels < 2 || h->n_labels > INTENT_MAX_LABELS ||
        (h->n_outputs != h->n_labels && h->n_outputs != h->n_labels + 1) ||
        h->n_rows > INTENT_N_FEATURES || h->reserved != 0) {
        snprintf(err, errlen, "%s: corrupt header (%u labels, %u outputs, %u rows)", path,
                 h->n_labels, h->n_outputs, h->n_rows);
        return LOAD_BAD;
    }
    size_t want = layout_of(h->n_labels, h->n_outputs, h->n_rows).total;
    if (size != want) {
        snprintf(err, errlen, "%s: %s: %zu bytes where the header describes %zu", path,
                 size < want ? "truncated" : "trailing bytes", size, want);
        return LOAD_BAD;
    }
    return LOAD_OK;
}

/* Checks magic, byte order, version, sizes, checksum (zeroing the stored
 * one in data), recipe and fingerprint, in that order. */
static enum load_status check_file(unsigned char *data, size_t size, uint64_t fingerprint,
                                   const char *path, char *err, size_t errlen)
{
    struct cache_header h = {0};
    if (size < PREFIX_SIZE || memcmp(data, INTENT_CACHE_MAGIC, 8) != 0) {
        if (size < PREFIX_SIZE && memcmp(data, INTENT_CACHE_MAGIC, size < 8 ? size : 8) == 0)
            snprintf(err, errlen, "%s: truncated: %zu bytes", path, size);
        else
            snprintf(err, errlen, "%s: not an intent model cache (bad magic number)", path);
        return LOAD_BAD;
    }
    memcpy(&h, data, size < sizeof h ? size : sizeof h);
    if (h.byte_order != BYTE_ORDER_MARK) {
        snprintf(err, errlen, "%s: written on a machine with another byte order", path);
        return LOAD_BAD;
    }
    if (h.version != INTENT_CACHE_VERSION) {
        snprintf(err, errlen, "%s: cache format version %u; this build reads version %d", path,
                 h.version, INTENT_CACHE_VERSION);
        return LOAD_STALE;
    }
    if (size < sizeof h) {
        snprintf(err, errlen, "%s: truncated: %zu bytes, shorter than the %zu-byte header", path,
                 size, sizeof h);
        return LOAD_BAD;
    }
    enum load_status st = check_sizes(&h, size, path, err, errlen);
    if (st != LOAD_OK)
        return st;
    memset(data + offsetof(struct cache_header, checksum), 0, sizeof h.checksum);
    if (hash64(data, size, 0) != h.checksum) {
        snprintf(err, errlen, "%s: checksum mismatch: the file is corrupt", path);
        return LOAD_BAD;
    }
    if (h.recipe != intent_recipe()) {
        snprintf(err, errlen, "%s: stale: made by a trainer with other features or settings", path);
        return LOAD_STALE;
    }
    if (h.fingerprint != fingerprint) {
        snprintf(err, errlen,
                 "%s: stale: the training data changed (fingerprint %016llx, the cache's "
                 "%016llx)",
                 path, (unsigned long long)fingerprint, (unsigned long long)h.fingerprint);
        return LOAD_STALE;
    }
    return LOAD_OK;
}

static bool label_valid(const char *label)
{
    size_t len = strnlen(label, INTENT_LABEL_MAX);
    if (len == 0 || len == INTENT_LABEL_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = label[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Fills m from a checked file in data, which m takes ownership of. */
static enum load_status build_model(struct intent_model *m, unsigned char *data, const char *path,
                                    char *err, size_t errlen)
{
    struct cache_header h;
    memcpy(&h, data, sizeof h);
    struct layout l = layout_of(h.n_labels, h.n_outputs, h.n_rows);
    m->storage = data;
    m->n_labels = h.n_labels;
    m->n_outputs = h.n_outputs;
    m->n_rows = h.n_rows;
    m->n_examples = (size_t)h.n_examples;
    memcpy(m->labels, data + l.labels, h.n_labels * INTENT_LABEL_MAX);
    for (size_t c = 0; c < m->n_labels; c++)
        if (!label_valid(m->labels[c]) || (c > 0 && strcmp(m->labels[c - 1], m->labels[c]) >= 0)) {
            snprintf(err, errlen, "%s: corrupt: label %zu is not a valid name in order", path, c);
            return LOAD_BAD;
        }
    memcpy(m->bias, data + l.bias, h.n_outputs * sizeof(float));
    m->used = (uint64_t *)(void *)(data + l.used);
    m->weights = (float *)(void *)(data + l.weights);
    m->labelled = data + l.labelled;
    size_t rows = intent_model_index(m);
    if (rows != m->n_rows) {
        snprintf(err, errlen, "%s: corrupt: the bitmap has %zu rows, the header %zu", path, rows,
                 m->n_rows);
        return LOAD_BAD;
    }
    return LOAD_OK;
}

static struct intent_model *load(const char *path, uint64_t fingerprint, enum load_status *status,
                                 char *err, size_t errlen)
{
    unsigned char *data = NULL;
    size_t cap = 0, size = 0;
    struct intent_model *m = NULL;
    int rc = read_whole(path, INTENT_CACHE_MAX, &data, &cap, &size, err, errlen);
    if (rc != 0) {
        *status = rc == ERR_NOT_FOUND ? LOAD_MISSING : LOAD_BAD;
        free(data);
        return NULL;
    }
    *status = check_file(data, size, fingerprint, path, err, errlen);
    if (*status != LOAD_OK) {
        free(data);
        return NULL;
    }
    m = xcalloc(1, sizeof *m);
    *status = build_model(m, data, path, err, errlen);
    if (*status != LOAD_OK) {
        intent_model_free(m); /* frees data too */
        return NULL;
    }
    return m;
}

struct intent_model *intent_model_load(const char *path, uint64_t fingerprint, char *err,
                                       size_t errlen)
{
    if (!path || !err) {
        if (err)
            snprintf(err, errlen, "intent cache: no path given");
        return NULL;
    }
    enum load_status status;
    return load(path, fingerprint, &status, err, errlen);
}

/* ---- load or train ---------------------------------------------------- */

struct intent_model *intent_model_open_cached(const char *dir, const char *cache_path, char *err,
                                              size_t errlen)
{
    char why[512];
    uint64_t fingerprint = cache_path ? intent_dir_fingerprint(dir) : 0;
    if (fingerprint != 0) {
        enum load_status status;
        struct intent_model *m = load(cache_path, fingerprint, &status, why, sizeof why);
        if (m)
            return m;
        if (status == LOAD_BAD)
            log_warn(LOG_COMPONENT, "ignoring the intent model cache: %s", why);
        else
            log_info(LOG_COMPONENT, "training the intent model: %s", why);
    }
    struct intent_model *m = intent_model_train_dir(dir, err, errlen);
    if (m && fingerprint != 0 && intent_model_save(m, cache_path, fingerprint, why, sizeof why))
        log_warn(LOG_COMPONENT, "cannot save the intent model cache: %s", why);
    return m;
}
