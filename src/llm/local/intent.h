/* intent — the local model's intent classifier: which agent a rep's message is for.
 *
 * With no OpenAI key, the embedded model routes each message by intent
 * (greeting, thanks, help, sales_coach, pricing, crm, script, primer_video —
 * an intent named like an agent routes to it). The model is trained at
 * start-up from a directory of `<label>.txt` files, one utterance per line
 * (`#` comments and blank lines ignored), in a few milliseconds.
 *
 * Design: text is normalised (ASCII lower case, apostrophes dropped, any
 * number → "<num>", a pitch or fraction like 7/12 → "<frac>", rep shorthand
 * such as "sq", "appt", "HO", "thx", "arch" → one canonical word), then
 * turned into word unigrams, word bigrams (with start/end markers) and
 * character 3–5-grams inside word boundaries, all hashed into a fixed space of
 * INTENT_FEATURE_BITS bits (memory is bounded whatever the vocabulary) and
 * L2-normalised. The classifier is multinomial logistic regression trained by
 * AdaGrad SGD over a fixed number of shuffled epochs with a fixed seed, so
 * training is deterministic.
 *
 * Off-topic text: optional `*.ood` files in the same directory hold
 * background lines that are none of the labels (chit-chat, trivia). They are
 * not labels; they train one hidden "none" output whose probability is spread
 * evenly over the real labels, so phrases every sentence uses ("who is the",
 * "how do i") stop counting as evidence. Probabilities are then shrunk toward
 * uniform by coverage (how much of the message training ever saw), so
 * gibberish comes out near 1/labels. Both are heuristics: an off-topic
 * message in a domain frame ("how much does a tesla cost") can still score
 * high. */
#ifndef HARDE_LLM_LOCAL_INTENT_H
#define HARDE_LLM_LOCAL_INTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define INTENT_FEATURE_BITS 18    /* hashed feature space: 2^18 buckets */
#define INTENT_MAX_LABELS   32    /* label files per directory */
#define INTENT_LABEL_MAX    32    /* bytes of a label name, NUL included */
#define INTENT_MIN_EXAMPLES 5     /* a label file with fewer examples is rejected */
#define INTENT_MAX_EXAMPLES 20000 /* examples per model */
#define INTENT_LINE_MAX     1024  /* bytes of one training or evaluation line */
#define INTENT_TEXT_MAX     2048  /* bytes of a message looked at by intent_classify */
#define INTENT_TOP_K        3
/* A prediction at or above this probability may be acted on; below it the
 * caller should fall back (ask the model / Triage, or ask the rep). */
#define INTENT_CONFIDENCE_THRESHOLD 0.5

struct intent_model;

struct intent_candidate {
    const char *label;  /* borrowed from the model */
    double probability; /* 0..1 */
};

struct intent_prediction {
    const char *label;  /* the best label (borrowed from the model) */
    double probability; /* its probability, 0..1 */
    double margin;      /* probability of the best minus that of the second */
    double coverage;    /* 0..1: share of the message's features seen in training */
    bool confident;     /* probability >= INTENT_CONFIDENCE_THRESHOLD */
    size_t n_top;       /* entries in top, min(INTENT_TOP_K, labels) */
    struct intent_candidate top[INTENT_TOP_K]; /* best first */
};

/* Trains a model from every `*.txt` file in dir (sorted by name; the label is
 * the file name without .txt and must be [a-z0-9_-]) plus any `*.ood`
 * background files. A label file with fewer than INTENT_MIN_EXAMPLES
 * examples, a line that is not UTF-8 or longer than INTENT_LINE_MAX, or fewer
 * than two label files is an error: NULL is returned and err holds a sentence
 * naming the file (and line). Takes ~20 ms for the shipped data (see
 * intent_model_open_cached for the fast path). New; free
 * with intent_model_free. */
struct intent_model *intent_model_train_dir(const char *dir, char *err, size_t errlen);
void intent_model_free(struct intent_model *model);

size_t intent_model_label_count(const struct intent_model *model);
/* The label at index (sorted by name), or NULL when out of range. Borrowed. */
const char *intent_model_label(const struct intent_model *model, size_t index);
/* The number of labelled training examples (background lines not counted). */
size_t intent_model_example_count(const struct intent_model *model);

/* Classifies text (at most INTENT_TEXT_MAX bytes are looked at; any bytes are
 * accepted) into *out, whose strings are borrowed from the model. Returns 0,
 * or ERR_INVALID for NULL arguments. Thread-safe: the model is read-only.
 * A few microseconds per message; uses about 40 KiB of stack. */
int intent_classify(const struct intent_model *model, const char *text,
                    struct intent_prediction *out);

/* Evaluates the model on a file of `label<TAB>utterance` lines (`#` comments
 * and blank lines ignored): writes accuracy, per-label precision / recall /
 * F1, a confusion table and every miss to out, and sets *accuracy (may be
 * NULL). Returns 0; ERR_IO when the file cannot be read; ERR_PARSE for a line
 * without a tab, a label the model does not know, a line that is not UTF-8 or
 * a file with no examples — in those cases one line "error: FILE:LINE: ..."
 * is written to out. */
int intent_eval_file(const struct intent_model *model, const char *path, FILE *out,
                     double *accuracy);

/* ---- the model cache ----------------------------------------------------
 *
 * Training takes ~20 ms and `harde ask` has 5 ms to reach its first model
 * request, so a trained model is kept in a binary cache file and loaded in
 * well under a millisecond. A cache is used only for the exact training data
 * it was trained on (the fingerprint of the files) and the exact trainer (a
 * hash of the features and hyper-parameters stored beside it); anything
 * else — missing, stale, another format version, another byte order,
 * truncated, corrupted, a foreign file — is rejected with a reason, never
 * trusted, and the model is trained again.
 *
 * The file starts with the 8 bytes INTENT_CACHE_MAGIC, then the format
 * version as a 32-bit integer; numbers are in the writing machine's byte
 * order (the cache is local to one machine), and a 64-bit checksum covers
 * every byte. A loaded model classifies exactly as the trained one did:
 * the same probabilities, bit for bit. */
#define INTENT_CACHE_MAGIC   "HRDEINTM" /* the first 8 bytes of a cache file */
#define INTENT_CACHE_VERSION 1          /* uint32 at offset 8; bumped when the layout changes */
#define INTENT_CACHE_MAX     (64u * 1024 * 1024) /* bytes of a cache file */

/* A 64-bit hash of the training files intent_model_train_dir would read in
 * dir (the *.txt and *.ood files): their names, sizes and contents — not
 * their times, which a fresh clone changes. Never 0; returns 0 when dir or
 * one of the files cannot be read. Reads every file: ~35 KB for the
 * shipped data, tens of microseconds. */
uint64_t intent_dir_fingerprint(const char *dir);

/* Writes model to path atomically (a temporary file beside it, fsync,
 * rename, fsync of the directory; missing parent directories are created
 * with mode 0700), recording fingerprint (intent_dir_fingerprint of the data
 * the model was trained on). Returns 0, ERR_INVALID for NULL arguments, or
 * ERR_IO with err naming the path and the failure; the previous file, if
 * any, is then left as it was. */
int intent_model_save(const struct intent_model *model, const char *path, uint64_t fingerprint,
                      char *err, size_t errlen);

/* Reads a model saved by intent_model_save (the file in one read). Returns
 * NULL with err naming the path and the reason when the file is missing or
 * unreadable, is not a cache (bad magic), has another format version or
 * byte order, is truncated or has trailing bytes, fails its checksum, was
 * made by another trainer, or was saved with another fingerprint ("stale").
 * New; free with intent_model_free. */
struct intent_model *intent_model_load(const char *path, uint64_t fingerprint, char *err,
                                       size_t errlen);

/* The model for the training data in dir, through the cache at cache_path:
 * loads the cache when it is valid for dir's current files, else trains from
 * dir and saves the cache for next time. Failing to save is not an error
 * (a warning is logged); a cache that is missing or stale is logged at info
 * level, a corrupt one at warn. cache_path may be NULL: just trains. Returns
 * NULL with err set only when training fails. New; free with
 * intent_model_free. */
struct intent_model *intent_model_open_cached(const char *dir, const char *cache_path, char *err,
                                              size_t errlen);

#endif
