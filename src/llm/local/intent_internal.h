/* intent_internal — what intent.c (training, classifying) and intent_cache.c
 * (the model file) share.
 *
 * Not a contract for anyone outside src/llm/local/intent*.c: the model's
 * layout, the listing of a data directory's training files (both files must
 * agree on which files training reads), and the recipe hash that says which
 * trainer produced a model. */
#ifndef HARDE_LLM_LOCAL_INTENT_INTERNAL_H
#define HARDE_LLM_LOCAL_INTENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "llm/local/intent.h"

#define INTENT_N_FEATURES ((uint32_t)1 << INTENT_FEATURE_BITS)
#define INTENT_FILE_MAX   (8u * 1024 * 1024) /* bytes of one training or evaluation file */
#define INTENT_LABEL_EXT  ".txt"             /* label files */
#define INTENT_OOD_EXT    ".ood"             /* background (off-topic) files */

#define INTENT_BITMAP_WORDS (INTENT_N_FEATURES / 64)

/* Which hashed buckets have weights, and where: the rows of weights are in
 * bucket order, so a bucket's row is the number of used buckets before it —
 * a bitmap and a running count per 64-bit word (48 KiB in all, instead of a
 * 1 MiB bucket → row table that a fresh process pays page faults to fill). */
struct intent_model {
    size_t n_labels;
    size_t n_outputs; /* n_labels, plus one hidden "none" output when trained with background */
    char labels[INTENT_MAX_LABELS][INTENT_LABEL_MAX];
    size_t n_examples;
    uint64_t
        *used; /* [INTENT_BITMAP_WORDS]: bit b % 64 of word b / 64 set when bucket b has a row */
    uint32_t *below; /* [INTENT_BITMAP_WORDS]: rows of the buckets in the words before this one */
    size_t n_rows;
    float *weights;    /* [n_rows][n_outputs] */
    uint8_t *labelled; /* [n_rows]: 1 when some labelled (not background) example used it */
    float bias[INTENT_MAX_LABELS + 1];
    /* A model loaded from a cache file keeps the file's bytes here, and used,
     * weights and labelled point into them (one allocation, no copy); NULL for
     * a trained model, whose arrays are allocations of their own. */
    void *storage;
};

/* Fills model->below from model->used (allocating it when NULL) and returns
 * the number of buckets in use, which must equal model->n_rows. */
size_t intent_model_index(struct intent_model *model);

/* The sorted names of the files in dir ending in ext (hidden files skipped),
 * at most max of them. New array of new strings (free with
 * intent_free_names), or NULL with err set. */
char **intent_list_files(const char *dir, const char *ext, size_t max, size_t *count, char *err,
                         size_t errlen);
void intent_free_names(char **names, size_t n);

/* A hash of everything besides the data that decides a trained model's
 * weights: feature space, normalisation table, feature weights,
 * hyper-parameters, seed, and a revision number bumped by hand when the
 * featurising or training code changes. A cached model made with another
 * recipe is stale even when its data is not. */
uint64_t intent_recipe(void);

#endif
