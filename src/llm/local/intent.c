/* intent — hashed n-gram features + multinomial logistic regression. See intent.h.
 *
 * Owns: the model (laid out in intent_internal.h, which intent_cache.c
 * shares) — label names; a bitmap of the 2^INTENT_FEATURE_BITS hashed buckets
 * training used, with running counts, that maps a bucket to its dense weight
 * row (rows are in bucket order); the rows, n_outputs floats each so one
 * feature's weights are adjacent; biases; which rows labelled data used; and
 * the recipe hash that tells a cached model from another trainer.
 * intent_classify only reads the model and keeps its scratch on the stack
 * (about 40 KiB).
 *
 * Pipeline: text → tokens (normalised words, see tokenize) → sparse vector
 * (hashed ids, merged, L2-normalised) → scores → softmax → the hidden "none"
 * output's mass spread evenly over the labels → shrink toward uniform by
 * coverage. Training reads the files, turns every line into a sparse vector
 * once, gives the buckets in use dense rows (so only rows × outputs floats
 * are touched: 48 KiB for the bitmap and counts plus ~0.4 MiB of weights for
 * the shipped data, and ~20 ms), then runs AdaGrad epochs over a seeded
 * shuffle.
 * Hyper-parameters below were chosen by 5-fold cross-validation on the
 * training files and checked on the held-out file (data/intents/heldout.tsv),
 * which training never reads. */
#define _POSIX_C_SOURCE 200809L
#include "llm/local/intent.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "llm/local/intent_internal.h"

#define N_FEATURES    INTENT_N_FEATURES
#define FEATURE_MASK  (N_FEATURES - 1)
#define TOKEN_MAX     24   /* bytes of one normalised word (longer words are cut) */
#define RAW_TOKEN_MAX 64   /* bytes of one raw token before splitting */
#define MAX_TOKENS    128  /* words looked at per message */
#define MAX_FEATS     4096 /* hashed features per message before merging */
#define FILE_MAX      INTENT_FILE_MAX
#define CHAR_GRAM_MIN 3
#define CHAR_GRAM_MAX 5

/* Hyper-parameters (see the file comment for how they were chosen). */
#define WEIGHT_UNIGRAM  1.0f
#define WEIGHT_BIGRAM   0.7f
#define WEIGHT_CHARGRAM 0.35f
#define WEIGHT_LENGTH   0.5f
#define EPOCHS          12
#define LEARNING_RATE   0.3f
#define L2_PENALTY      1e-5f
#define SHUFFLE_SEED    0x9e3779b97f4a7c15ull
/* Background (*.ood) examples train a hidden "none" output with this weight
 * relative to a labelled example. */
#define BACKGROUND_WEIGHT 1.0

#define BACKGROUND ((uint32_t)-1) /* the "label" of a background example */
/* Probabilities are mixed with the uniform distribution by
 * trust = min(1, coverage / COVERAGE_FULL)^COVERAGE_POWER: a message most of
 * whose features training never saw (gibberish) says little about any label. */
#define COVERAGE_FULL  0.7
#define COVERAGE_POWER 2.0

/* ---- hashing ---------------------------------------------------------- */

#define FNV_OFFSET 2166136261u
#define FNV_PRIME  16777619u

static uint32_t fnv_add(uint32_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* murmur3's finalizer: spreads FNV's weak low bits before masking. */
static uint32_t hash_finish(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h & FEATURE_MASK;
}

/* ---- normalisation ---------------------------------------------------- */

struct tokens {
    size_t n;
    char word[MAX_TOKENS][TOKEN_MAX];
};

/* Rep shorthand and spelling variants → one canonical form (may be two words). */
static const struct {
    const char *from;
    const char *to;
} shorthand[] = {
    {"appt", "appointment"},
    {"appts", "appointment"},
    {"apt", "appointment"},
    {"appointments", "appointment"},
    {"ho", "homeowner"},
    {"hos", "homeowner"},
    {"homeowners", "homeowner"},
    {"sq", "square"},
    {"sqs", "square"},
    {"sqr", "square"},
    {"squares", "square"},
    {"sqft", "square ft"},
    {"sf", "square ft"},
    {"feet", "ft"},
    {"foot", "ft"},
    {"lf", "ft"},
    {"u", "you"},
    {"ya", "you"},
    {"ur", "your"},
    {"r", "are"},
    {"pls", "please"},
    {"plz", "please"},
    {"thx", "thanks"},
    {"thnx", "thanks"},
    {"thanx", "thanks"},
    {"ty", "thanks"},
    {"tysm", "thanks"},
    {"thank", "thanks"},
    {"tks", "thanks"},
    {"vid", "video"},
    {"vids", "video"},
    {"videos", "video"},
    {"msg", "message"},
    {"est", "estimate"},
    {"yr", "year"},
    {"yrs", "year"},
    {"years", "year"},
    {"mo", "month"},
    {"mos", "month"},
    {"months", "month"},
    {"arch", "architectural"},
    {"dimensional", "architectural"},
    {"laminated", "architectural"},
    {"w", "with"},
    {"bc", "because"},
    {"cuz", "because"},
    {"b4", "before"},
    {"tmrw", "tomorrow"},
    {"tmr", "tomorrow"},
    {"2moro", "tomorrow"},
    {"2day", "today"},
    {"diff", "difference"},
    {"vs", "versus"},
    {"info", "information"},
    {"gm", "good morning"},
    {"ok", "okay"},
    {"kk", "okay"},
    {"idk", "i dont know"},
    {"cust", "customer"},
    {"customers", "customer"},
    {"thru", "through"},
    {"wanna", "want to"},
    {"gonna", "going to"},
    {"lemme", "let me"},
    {"tearoff", "tear off"},
    {"sup", "whats up"},
    {"wassup", "whats up"},
    {"wsup", "whats up"},
    {"whatsup", "whats up"},
};

static void push_word(struct tokens *t, const char *w, size_t len)
{
    if (len == 0 || t->n >= MAX_TOKENS)
        return;
    if (len >= TOKEN_MAX)
        len = TOKEN_MAX - 1;
    /* "hard-e" / "hard e" → "harde" */
    if (len == 1 && w[0] == 'e' && t->n > 0 && strcmp(t->word[t->n - 1], "hard") == 0) {
        strcpy(t->word[t->n - 1], "harde");
        return;
    }
    memcpy(t->word[t->n], w, len);
    t->word[t->n][len] = '\0';
    t->n++;
}

/* The canonical form of the len bytes at w, or NULL when w is not shorthand
 * (static). */
static const char *shorthand_lookup(const char *w, size_t len)
{
    for (size_t i = 0; i < sizeof shorthand / sizeof shorthand[0]; i++) {
        const char *from = shorthand[i].from;
        if (from[0] == w[0] && strlen(from) == len && memcmp(from, w, len) == 0)
            return shorthand[i].to;
    }
    return NULL;
}

/* Pushes w after mapping shorthand; a mapping to two words pushes both. */
static void push_mapped(struct tokens *t, const char *w, size_t len)
{
    const char *to = shorthand_lookup(w, len);
    if (!to) {
        push_word(t, w, len);
        return;
    }
    const char *space = strchr(to, ' ');
    if (space) {
        push_word(t, to, (size_t)(space - to));
        push_word(t, space + 1, strlen(space + 1));
    } else {
        push_word(t, to, strlen(to));
    }
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || c >= 0x80 || c == '$';
}

/* Splits a raw lower-case token into runs: digit runs (with inner separators)
 * become "<num>" or "<frac>", letter runs are words; an ordinal suffix after a
 * number (1st, 14th) is dropped. Whole-token shorthand ("b4") is tried first. */
static void push_raw(struct tokens *t, const char *raw, size_t len)
{
    bool has_digit = false;
    for (size_t i = 0; i < len; i++)
        has_digit |= is_digit((unsigned char)raw[i]);
    if (!has_digit || shorthand_lookup(raw, len)) {
        push_mapped(t, raw, len);
        return;
    }
    bool after_number = false;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        if (is_digit((unsigned char)raw[i])) {
            bool frac = false;
            while (j < len && !is_alpha((unsigned char)raw[j])) {
                frac |= raw[j] == '/';
                j++;
            }
            push_word(t, frac ? "<frac>" : "<num>", frac ? 6 : 5);
            after_number = true;
        } else {
            while (j < len && !is_digit((unsigned char)raw[j]))
                j++;
            size_t n = j - i;
            bool ordinal = after_number && n == 2 &&
                           (!memcmp(raw + i, "st", 2) || !memcmp(raw + i, "nd", 2) ||
                            !memcmp(raw + i, "rd", 2) || !memcmp(raw + i, "th", 2));
            if (!ordinal)
                push_mapped(t, raw + i, n);
            after_number = false;
        }
        i = j;
    }
}

static bool is_apostrophe(const unsigned char *s, size_t i, size_t len, size_t *width)
{
    if (s[i] == '\'' || s[i] == '`') {
        *width = 1;
        return true;
    }
    if (s[i] == 0xE2 && i + 2 < len && s[i + 1] == 0x80 && (s[i + 2] == 0x98 || s[i + 2] == 0x99)) {
        *width = 3;
        return true;
    }
    return false;
}

/* A separator that stays inside a number: 7/12, 27,450, 3:30, 555-0198, 2.5. */
static bool is_number_separator(const unsigned char *s, size_t i, size_t len)
{
    return (s[i] == '/' || s[i] == ',' || s[i] == '.' || s[i] == ':' || s[i] == '-') && i > 0 &&
           is_digit(s[i - 1]) && i + 1 < len && is_digit(s[i + 1]);
}

/* Text → normalised words. Letters are ASCII-lower-cased; other UTF-8 bytes
 * are kept as letters; everything else separates words. */
static void tokenize(const char *text, struct tokens *t)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t len = strnlen(text, INTENT_TEXT_MAX);
    t->n = 0;
    size_t i = 0;
    while (i < len && t->n < MAX_TOKENS) {
        char raw[RAW_TOKEN_MAX];
        size_t n = 0, width = 0;
        while (i < len) {
            unsigned char c = s[i];
            if (c >= 'A' && c <= 'Z')
                c = (unsigned char)(c - 'A' + 'a');
            if (is_apostrophe(s, i, len, &width) && n > 0) {
                i += width;
                continue;
            }
            if (!(is_alpha(c) || is_digit(c) || is_number_separator(s, i, len)) ||
                (c >= 0x80 && is_apostrophe(s, i, len, &width)))
                break;
            if (n < sizeof raw)
                raw[n++] = (char)c;
            i++;
        }
        if (n > 0)
            push_raw(t, raw, n);
        else
            i += (i < len && is_apostrophe(s, i, len, &width)) ? width : 1;
    }
}

/* ---- features --------------------------------------------------------- */

struct feature {
    uint32_t id;
    float value;
};

struct features {
    size_t n;
    struct feature f[MAX_FEATS];
};

static void add_feature(struct features *fs, uint32_t id, float value)
{
    if (fs->n < MAX_FEATS)
        fs->f[fs->n++] = (struct feature){id, value};
}

static void add_char_grams(struct features *fs, const char *word)
{
    char padded[TOKEN_MAX + 2];
    size_t len = strlen(word);
    padded[0] = ' ';
    memcpy(padded + 1, word, len);
    padded[len + 1] = ' ';
    size_t plen = len + 2;
    for (size_t n = CHAR_GRAM_MIN; n <= CHAR_GRAM_MAX && n <= plen; n++)
        for (size_t i = 0; i + n <= plen; i++)
            add_feature(fs, hash_finish(fnv_add(FNV_OFFSET ^ 'c', padded + i, n)), WEIGHT_CHARGRAM);
}

static uint32_t length_bucket(size_t n)
{
    static const size_t upper[] = {0, 1, 2, 3, 5, 8, 12};
    for (uint32_t b = 0; b < sizeof upper / sizeof upper[0]; b++)
        if (n <= upper[b])
            return b;
    return 7;
}

static int compare_features(const void *a, const void *b)
{
    uint32_t x = ((const struct feature *)a)->id, y = ((const struct feature *)b)->id;
    return (x > y) - (x < y);
}

/* Text → merged, sorted, L2-normalised sparse vector in fs. */
static void featurize(const char *text, struct features *fs)
{
    struct tokens t;
    tokenize(text, &t);
    fs->n = 0;
    const char *prev = "<s>";
    for (size_t i = 0; i <= t.n; i++) {
        const char *w = i < t.n ? t.word[i] : "</s>";
        uint32_t h = fnv_add(FNV_OFFSET ^ 'b', prev, strlen(prev) + 1);
        add_feature(fs, hash_finish(fnv_add(h, w, strlen(w))), WEIGHT_BIGRAM);
        if (i < t.n) {
            add_feature(fs, hash_finish(fnv_add(FNV_OFFSET ^ 'w', w, strlen(w))), WEIGHT_UNIGRAM);
            if (w[0] != '<')
                add_char_grams(fs, w);
        }
        prev = w;
    }
    uint32_t bucket = length_bucket(t.n);
    add_feature(fs, hash_finish(fnv_add(FNV_OFFSET ^ 'l', &bucket, sizeof bucket)), WEIGHT_LENGTH);

    qsort(fs->f, fs->n, sizeof fs->f[0], compare_features);
    size_t out = 0;
    for (size_t i = 0; i < fs->n; i++) {
        if (out > 0 && fs->f[out - 1].id == fs->f[i].id)
            fs->f[out - 1].value += fs->f[i].value;
        else
            fs->f[out++] = fs->f[i];
    }
    fs->n = out;
    double norm = 0;
    for (size_t i = 0; i < fs->n; i++)
        norm += (double)fs->f[i].value * fs->f[i].value;
    norm = sqrt(norm);
    for (size_t i = 0; i < fs->n && norm > 0; i++)
        fs->f[i].value = (float)(fs->f[i].value / norm);
}

/* ---- bucket → row ----------------------------------------------------- */

/* Set bits in x (SWAR: portable C, and a few instructions). */
static uint32_t popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (uint32_t)((x * 0x0101010101010101ull) >> 56);
}

size_t intent_model_index(struct intent_model *model)
{
    if (!model->below)
        model->below = xmalloc(INTENT_BITMAP_WORDS * sizeof *model->below);
    size_t rows = 0;
    for (size_t w = 0; w < INTENT_BITMAP_WORDS; w++) {
        model->below[w] = (uint32_t)rows;
        rows += popcount64(model->used[w]);
    }
    return rows;
}

/* 1 + the weight row of bucket, or 0 when training never used it. */
static uint32_t row_of(const struct intent_model *m, uint32_t bucket)
{
    uint64_t word = m->used[bucket / 64], bit = (uint64_t)1 << (bucket % 64);
    if (!(word & bit))
        return 0;
    return m->below[bucket / 64] + popcount64(word & (bit - 1)) + 1;
}

/* ---- scoring ---------------------------------------------------------- */

static void scores(const struct intent_model *m, const struct features *fs, double *out)
{
    size_t k = m->n_outputs;
    for (size_t c = 0; c < k; c++)
        out[c] = m->bias[c];
    for (size_t i = 0; i < fs->n; i++) {
        uint32_t row = row_of(m, fs->f[i].id);
        if (row == 0)
            continue;
        const float *w = m->weights + (size_t)(row - 1) * k;
        double v = fs->f[i].value;
        for (size_t c = 0; c < k; c++)
            out[c] += v * w[c];
    }
}

static void softmax(double *p, size_t k)
{
    double max = p[0], sum = 0;
    for (size_t c = 1; c < k; c++)
        if (p[c] > max)
            max = p[c];
    for (size_t c = 0; c < k; c++) {
        p[c] = exp(p[c] - max);
        sum += p[c];
    }
    for (size_t c = 0; c < k; c++)
        p[c] /= sum;
}

/* ---- training --------------------------------------------------------- */

/* Training examples as sparse vectors in shared pools. */
struct dataset {
    size_t n, cap;
    uint32_t *label;
    size_t *start; /* n + 1 offsets into ids / values */
    uint32_t *ids; /* hashed buckets; rows of the model's weights once train has mapped them */
    float *values;
    size_t pool_len, pool_cap;
};

static void dataset_free(struct dataset *d)
{
    free(d->label);
    free(d->start);
    free(d->ids);
    free(d->values);
    memset(d, 0, sizeof *d);
}

static void dataset_add(struct dataset *d, uint32_t label, const struct features *fs)
{
    if (d->n + 1 >= d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->label = xrealloc(d->label, d->cap * sizeof *d->label);
        d->start = xrealloc(d->start, (d->cap + 1) * sizeof *d->start);
    }
    if (d->pool_len + fs->n > d->pool_cap) {
        d->pool_cap = (d->pool_cap ? d->pool_cap * 2 : 65536) + fs->n;
        d->ids = xrealloc(d->ids, d->pool_cap * sizeof *d->ids);
        d->values = xrealloc(d->values, d->pool_cap * sizeof *d->values);
    }
    if (d->n == 0)
        d->start[0] = 0;
    for (size_t i = 0; i < fs->n; i++) {
        d->ids[d->pool_len + i] = fs->f[i].id;
        d->values[d->pool_len + i] = fs->f[i].value;
    }
    d->pool_len += fs->n;
    d->label[d->n++] = label;
    d->start[d->n] = d->pool_len;
}

static uint64_t xorshift(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

/* One AdaGrad step on example e (its ids are weight rows): gradient of the
 * cross-entropy plus L2. */
static void train_step(struct intent_model *m, const struct dataset *d, size_t e, float *accum,
                       float *bias_accum)
{
    size_t k = m->n_outputs;
    double g[INTENT_MAX_LABELS + 1];
    for (size_t c = 0; c < k; c++)
        g[c] = m->bias[c];
    for (size_t i = d->start[e]; i < d->start[e + 1]; i++) {
        const float *w = m->weights + (size_t)d->ids[i] * k;
        for (size_t c = 0; c < k; c++)
            g[c] += d->values[i] * w[c];
    }
    softmax(g, k);
    if (d->label[e] == BACKGROUND) {
        g[m->n_labels] -= 1.0;
        for (size_t c = 0; c < k; c++)
            g[c] *= BACKGROUND_WEIGHT;
    } else {
        g[d->label[e]] -= 1.0;
    }
    for (size_t c = 0; c < k; c++) {
        bias_accum[c] += (float)(g[c] * g[c]);
        m->bias[c] -= LEARNING_RATE * (float)g[c] / (sqrtf(bias_accum[c]) + 1e-6f);
    }
    for (size_t i = d->start[e]; i < d->start[e + 1]; i++) {
        size_t row = (size_t)d->ids[i] * k;
        float x = d->values[i];
        for (size_t c = 0; c < k; c++) {
            float grad = (float)g[c] * x + L2_PENALTY * m->weights[row + c];
            accum[row + c] += grad * grad;
            m->weights[row + c] -= LEARNING_RATE * grad / (sqrtf(accum[row + c]) + 1e-6f);
        }
    }
}

/* Gives every bucket the dataset uses a dense row (in bucket order) and
 * rewrites the dataset's ids from buckets to rows, so training touches
 * rows × outputs floats instead of the whole hashed space. (Which row a
 * bucket gets changes no arithmetic: each weight is updated on its own.) */
static void assign_rows(struct intent_model *m, struct dataset *d)
{
    m->used = xcalloc(INTENT_BITMAP_WORDS, sizeof *m->used);
    for (size_t i = 0; i < d->pool_len; i++)
        m->used[d->ids[i] / 64] |= (uint64_t)1 << (d->ids[i] % 64);
    m->n_rows = intent_model_index(m);
    for (size_t i = 0; i < d->pool_len; i++)
        d->ids[i] = row_of(m, d->ids[i]) - 1;
    m->labelled = xcalloc(m->n_rows ? m->n_rows : 1, 1);
    for (size_t e = 0; e < d->n; e++)
        for (size_t i = d->start[e]; i < d->start[e + 1] && d->label[e] != BACKGROUND; i++)
            m->labelled[d->ids[i]] = 1;
}

static void train(struct intent_model *m, struct dataset *d)
{
    bool background = false;
    for (size_t e = 0; e < d->n; e++)
        background |= d->label[e] == BACKGROUND;
    m->n_outputs = m->n_labels + background;
    size_t k = m->n_outputs;
    assign_rows(m, d);
    m->weights = xcalloc(m->n_rows * k + 1, sizeof *m->weights);
    float *accum = xcalloc(m->n_rows * k + 1, sizeof *accum);
    float bias_accum[INTENT_MAX_LABELS + 1] = {0};
    size_t *order = xmalloc(d->n * sizeof *order);
    for (size_t i = 0; i < d->n; i++)
        order[i] = i;
    uint64_t rng = SHUFFLE_SEED;
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        for (size_t i = d->n; i > 1; i--) {
            size_t j = (size_t)(xorshift(&rng) % i);
            size_t tmp = order[i - 1];
            order[i - 1] = order[j];
            order[j] = tmp;
        }
        for (size_t i = 0; i < d->n; i++)
            train_step(m, d, order[i], accum, bias_accum);
    }
    free(order);
    free(accum);
    m->n_examples = 0;
    for (size_t e = 0; e < d->n; e++)
        m->n_examples += d->label[e] != BACKGROUND;
}

/* ---- the recipe -------------------------------------------------------- */

/* Bump when tokenize, featurize or train change in a way the constants
 * hashed by intent_recipe do not show (a new feature kind, another length
 * bucket table, a different update rule): cached models become stale. */
#define TRAINER_REVISION 1

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME  0x100000001b3ull

static uint64_t fnv64_add(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV64_PRIME;
    }
    return h;
}

uint64_t intent_recipe(void)
{
    const double constants[] = {
        TRAINER_REVISION, INTENT_FEATURE_BITS, INTENT_LABEL_MAX, INTENT_LINE_MAX,  INTENT_TEXT_MAX,
        TOKEN_MAX,        RAW_TOKEN_MAX,       MAX_TOKENS,       MAX_FEATS,        CHAR_GRAM_MIN,
        CHAR_GRAM_MAX,    WEIGHT_UNIGRAM,      WEIGHT_BIGRAM,    WEIGHT_CHARGRAM,  WEIGHT_LENGTH,
        EPOCHS,           LEARNING_RATE,       L2_PENALTY,       BACKGROUND_WEIGHT};
    const uint64_t seed = SHUFFLE_SEED;
    uint64_t h = fnv64_add(FNV64_OFFSET, constants, sizeof constants);
    h = fnv64_add(h, &seed, sizeof seed);
    for (size_t i = 0; i < sizeof shorthand / sizeof shorthand[0]; i++) {
        h = fnv64_add(h, shorthand[i].from, strlen(shorthand[i].from) + 1);
        h = fnv64_add(h, shorthand[i].to, strlen(shorthand[i].to) + 1);
    }
    return h;
}

/* ---- reading files ---------------------------------------------------- */

/* Reads a whole file of at most FILE_MAX bytes. New string (NUL-terminated,
 * *len set), or NULL with err set. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    char *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    data = xmalloc(FILE_MAX + 1);
    *len = fread(data, 1, FILE_MAX + 1, f);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto fail;
    }
    if (*len > FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %u bytes", path, FILE_MAX);
        goto fail;
    }
    fclose(f);
    data[*len] = '\0';
    return xrealloc(data, *len + 1);
fail:
    fclose(f);
    free(data);
    return NULL;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            if (c == 0)
                return false;
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t j = 1; j <= n; j++) {
            if (i + j >= len || (s[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        static const uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

/* Walks the lines of a file's text: calls fn for every line that is not
 * blank or a `#` comment, with the line trimmed and NUL-terminated in place.
 * Checks length and UTF-8 first. Returns 0, ERR_PARSE (err set) or fn's
 * non-zero result. */
typedef int line_fn(void *user, char *line, size_t line_no, char *err, size_t errlen);

static int for_each_line(const char *path, char *text, size_t len, line_fn *fn, void *user,
                         char *err, size_t errlen)
{
    size_t line_no = 0;
    char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        line_no++;
        size_t n = (size_t)(line_end - p);
        if (n > INTENT_LINE_MAX) {
            snprintf(err, errlen, "%s:%zu: line longer than %d bytes", path, line_no,
                     INTENT_LINE_MAX);
            return ERR_PARSE;
        }
        if (!utf8_valid((const unsigned char *)p, n)) {
            snprintf(err, errlen, "%s:%zu: not valid UTF-8 text", path, line_no);
            return ERR_PARSE;
        }
        *line_end = '\0';
        while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
            p[--n] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '\0' && *p != '#') {
            int rc = fn(user, p, line_no, err, errlen);
            if (rc != 0)
                return rc;
        }
        p = line_end + 1;
    }
    return 0;
}

struct label_file {
    struct dataset *data;
    uint32_t label;
    size_t count;
    const char *path;
};

static int add_training_line(void *user, char *line, size_t line_no, char *err, size_t errlen)
{
    struct label_file *lf = user;
    if (lf->data->n >= INTENT_MAX_EXAMPLES) {
        snprintf(err, errlen, "%s:%zu: more than %d training examples in all", lf->path, line_no,
                 INTENT_MAX_EXAMPLES);
        return ERR_LIMIT;
    }
    struct features *fs = xmalloc(sizeof *fs);
    featurize(line, fs);
    dataset_add(lf->data, lf->label, fs);
    free(fs);
    lf->count++;
    return 0;
}

static bool label_name_valid(const char *name, size_t len)
{
    if (len == 0 || len >= INTENT_LABEL_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* See intent_internal.h. */
char **intent_list_files(const char *dir, const char *ext, size_t max, size_t *count, char *err,
                         size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot open directory: %s", dir, strerror(errno));
        return NULL;
    }
    char **names = xmalloc((max + 1) * sizeof *names);
    size_t n = 0, ext_len = strlen(ext);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len <= ext_len || strcmp(de->d_name + len - ext_len, ext) != 0)
            continue;
        if (n == max) {
            snprintf(err, errlen, "%s: more than %zu *%s files", dir, max, ext);
            goto fail;
        }
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    *count = n;
    return names;
fail:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return NULL;
}

void intent_free_names(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* Adds the examples of dir/name to data: as the model's next label when
 * background is false (the name must be a valid label + ".txt"), else as
 * background examples. 0 or ERR_* with err set. */
static int load_file(struct intent_model *m, struct dataset *data, const char *dir,
                     const char *name, bool background, char *err, size_t errlen)
{
    size_t name_len = strlen(name) - 4;
    char *path = xasprintf("%s/%s", dir, name);
    char *text = NULL;
    size_t len;
    int rc = ERR_PARSE;
    if (!background && !label_name_valid(name, name_len)) {
        snprintf(err, errlen, "%s: a label name must be 1-%d characters of a-z 0-9 _ -", path,
                 INTENT_LABEL_MAX - 1);
        goto out;
    }
    text = read_file(path, &len, err, errlen);
    if (!text) {
        rc = ERR_IO;
        goto out;
    }
    struct label_file lf = {
        .data = data, .label = background ? BACKGROUND : (uint32_t)m->n_labels, .path = path};
    rc = for_each_line(path, text, len, add_training_line, &lf, err, errlen);
    if (rc != 0 || background)
        goto out;
    if (lf.count < INTENT_MIN_EXAMPLES) {
        snprintf(err, errlen, "%s: only %zu examples; a label needs at least %d", path, lf.count,
                 INTENT_MIN_EXAMPLES);
        rc = ERR_PARSE;
        goto out;
    }
    memcpy(m->labels[m->n_labels], name, name_len);
    m->labels[m->n_labels][name_len] = '\0';
    m->n_labels++;
out:
    free(text);
    free(path);
    return rc;
}

struct intent_model *intent_model_train_dir(const char *dir, char *err, size_t errlen)
{
    struct intent_model *m = NULL;
    struct dataset data = {0};
    size_t n_labels = 0, n_background = 0;
    char **labels = NULL, **background = NULL;
    if (!dir || !err) {
        if (err)
            snprintf(err, errlen, "intent: no data directory given");
        return NULL;
    }
    labels = intent_list_files(dir, INTENT_LABEL_EXT, INTENT_MAX_LABELS, &n_labels, err, errlen);
    if (labels)
        background =
            intent_list_files(dir, INTENT_OOD_EXT, INTENT_MAX_LABELS, &n_background, err, errlen);
    if (!labels || !background)
        goto out;
    if (n_labels < 2) {
        snprintf(err, errlen, "%s: found %zu label files (*.txt); need at least 2", dir, n_labels);
        goto out;
    }
    m = xcalloc(1, sizeof *m);
    for (size_t i = 0; i < n_labels; i++)
        if (load_file(m, &data, dir, labels[i], false, err, errlen) != 0)
            goto fail;
    for (size_t i = 0; i < n_background; i++)
        if (load_file(m, &data, dir, background[i], true, err, errlen) != 0)
            goto fail;
    train(m, &data);
    goto out;
fail:
    intent_model_free(m);
    m = NULL;
out:
    dataset_free(&data);
    intent_free_names(labels, n_labels);
    intent_free_names(background, n_background);
    return m;
}

void intent_model_free(struct intent_model *model)
{
    if (!model)
        return;
    free(model->below);
    if (model->storage) {
        free(model->storage); /* used, weights and labelled point into it */
    } else {
        free(model->used);
        free(model->weights);
        free(model->labelled);
    }
    free(model);
}

size_t intent_model_label_count(const struct intent_model *model)
{
    return model ? model->n_labels : 0;
}

const char *intent_model_label(const struct intent_model *model, size_t index)
{
    return model && index < model->n_labels ? model->labels[index] : NULL;
}

size_t intent_model_example_count(const struct intent_model *model)
{
    return model ? model->n_examples : 0;
}

/* ---- classifying ------------------------------------------------------ */

static double coverage_of(const struct intent_model *m, const struct features *fs)
{
    double seen = 0;
    for (size_t i = 0; i < fs->n; i++) {
        uint32_t row = row_of(m, fs->f[i].id);
        if (row != 0 && m->labelled[row - 1])
            seen += (double)fs->f[i].value * fs->f[i].value;
    }
    return seen > 1 ? 1 : seen;
}

int intent_classify(const struct intent_model *model, const char *text,
                    struct intent_prediction *out)
{
    if (!model || !text || !out)
        return ERR_INVALID;
    struct features fs;
    double p[INTENT_MAX_LABELS + 1];
    size_t k = model->n_labels;
    featurize(text, &fs);
    scores(model, &fs, p);
    softmax(p, model->n_outputs);
    if (model->n_outputs > k)
        for (size_t c = 0; c < k; c++)
            p[c] += p[k] / (double)k;
    double coverage = coverage_of(model, &fs);
    double trust = pow(fmin(1.0, coverage / COVERAGE_FULL), COVERAGE_POWER);
    for (size_t c = 0; c < k; c++)
        p[c] = trust * p[c] + (1 - trust) / (double)k;

    memset(out, 0, sizeof *out);
    out->n_top = k < INTENT_TOP_K ? k : INTENT_TOP_K;
    bool taken[INTENT_MAX_LABELS] = {false};
    double second = 0;
    for (size_t r = 0; r < out->n_top || r < 2; r++) {
        size_t best = k;
        for (size_t c = 0; c < k; c++)
            if (!taken[c] && (best == k || p[c] > p[best]))
                best = c;
        if (best == k)
            break;
        taken[best] = true;
        if (r < out->n_top)
            out->top[r] = (struct intent_candidate){model->labels[best], p[best]};
        if (r == 1)
            second = p[best];
    }
    out->label = out->top[0].label;
    out->probability = out->top[0].probability;
    out->margin = out->probability - second;
    out->coverage = coverage;
    out->confident = out->probability >= INTENT_CONFIDENCE_THRESHOLD;
    return 0;
}

/* ---- evaluation ------------------------------------------------------- */

struct eval {
    const struct intent_model *model;
    const char *path;
    FILE *out;
    size_t confusion[INTENT_MAX_LABELS][INTENT_MAX_LABELS]; /* [expected][predicted] */
    size_t total, correct, unconfident, unconfident_correct;
};

static int label_index(const struct intent_model *m, const char *label)
{
    for (size_t c = 0; c < m->n_labels; c++)
        if (strcmp(m->labels[c], label) == 0)
            return (int)c;
    return -1;
}

static int eval_line(void *user, char *line, size_t line_no, char *err, size_t errlen)
{
    struct eval *ev = user;
    char *tab = strchr(line, '\t');
    if (!tab) {
        snprintf(err, errlen, "%s:%zu: expected label<TAB>utterance", ev->path, line_no);
        return ERR_PARSE;
    }
    *tab = '\0';
    int expected = label_index(ev->model, line);
    if (expected < 0) {
        snprintf(err, errlen, "%s:%zu: label \"%s\" is not one the model knows", ev->path, line_no,
                 line);
        return ERR_PARSE;
    }
    const char *text = tab + 1;
    struct intent_prediction pred;
    intent_classify(ev->model, text, &pred);
    int got = label_index(ev->model, pred.label);
    ev->confusion[expected][got]++;
    ev->total++;
    if (got == expected)
        ev->correct++;
    if (!pred.confident) {
        ev->unconfident++;
        ev->unconfident_correct += got == expected;
    }
    if (got != expected)
        fprintf(ev->out, "miss  line %-4zu expected %-13s got %-13s p=%.2f  %s\n", line_no,
                ev->model->labels[expected], pred.label, pred.probability, text);
    return 0;
}

static double ratio(size_t a, size_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static void eval_report(const struct eval *ev)
{
    const struct intent_model *m = ev->model;
    size_t k = m->n_labels;
    fprintf(ev->out, "examples %zu  labels %zu  correct %zu  accuracy %.4f\n", ev->total, k,
            ev->correct, ratio(ev->correct, ev->total));
    fprintf(ev->out, "below threshold %.2f: %zu (of which correct %zu)\n",
            INTENT_CONFIDENCE_THRESHOLD, ev->unconfident, ev->unconfident_correct);
    fprintf(ev->out, "%-14s %9s %9s %9s %8s\n", "label", "precision", "recall", "f1", "support");
    for (size_t c = 0; c < k; c++) {
        size_t tp = ev->confusion[c][c], predicted = 0, support = 0;
        for (size_t o = 0; o < k; o++) {
            predicted += ev->confusion[o][c];
            support += ev->confusion[c][o];
        }
        double precision = ratio(tp, predicted), recall = ratio(tp, support);
        double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
        fprintf(ev->out, "%-14s %9.4f %9.4f %9.4f %8zu\n", m->labels[c], precision, recall, f1,
                support);
    }
    fprintf(ev->out, "confusion (rows: expected, columns: predicted)\n%-14s", "");
    for (size_t c = 0; c < k; c++)
        fprintf(ev->out, " %7.7s", m->labels[c]);
    fputc('\n', ev->out);
    for (size_t r = 0; r < k; r++) {
        fprintf(ev->out, "%-14s", m->labels[r]);
        for (size_t c = 0; c < k; c++)
            fprintf(ev->out, " %7zu", ev->confusion[r][c]);
        fputc('\n', ev->out);
    }
}

int intent_eval_file(const struct intent_model *model, const char *path, FILE *out,
                     double *accuracy)
{
    if (!model || !path || !out)
        return ERR_INVALID;
    char err[512];
    size_t len;
    int rc;
    struct eval *ev = xcalloc(1, sizeof *ev);
    ev->model = model;
    ev->path = path;
    ev->out = out;
    char *text = read_file(path, &len, err, sizeof err);
    if (!text) {
        rc = ERR_IO;
        goto fail;
    }
    fprintf(out, "intent eval: %s\n", path);
    rc = for_each_line(path, text, len, eval_line, ev, err, sizeof err);
    if (rc == 0 && ev->total == 0) {
        snprintf(err, sizeof err, "%s:0: no examples", path);
        rc = ERR_PARSE;
    }
    if (rc != 0)
        goto fail;
    eval_report(ev);
    if (accuracy)
        *accuracy = ratio(ev->correct, ev->total);
    goto out;
fail:
    fprintf(out, "error: %s\n", err);
out:
    free(text);
    free(ev);
    return rc;
}
