/* config — harde.ini plus environment overrides.
 *
 * The file is plain INI: `[section]` headers, `key = value` lines, `#` or `;`
 * comments. Every key can be overridden by the environment variable
 * HARDE_<SECTION>_<KEY> (upper case, '-' and '.' become '_'), which wins over
 * the file. Secrets never live here: they come from the environment only. */
#ifndef HARDE_BASE_CONFIG_H
#define HARDE_BASE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct config;

/* Loads path (NULL = no file: an empty config). On error returns NULL and
 * writes "FILE:LINE: problem" into err. New; free with config_free. */
struct config *config_load(const char *path, char *err, size_t errlen);
/* Parses INI text (name is used in messages). New, or NULL with err set. */
struct config *config_parse(const char *text, const char *name, char *err, size_t errlen);
void config_free(struct config *cfg);

/* The value of section.key: environment first, then the file, then def.
 * Borrowed (valid until config_free / the environment changes). */
const char *config_get(const struct config *cfg, const char *section, const char *key,
                       const char *def);
/* Typed getters: 0 and *out set, or ERR_CONFIG with a message in err naming
 * the key and the bad value. A missing key yields def. */
int config_get_long(const struct config *cfg, const char *section, const char *key, long def,
                    long *out, char *err, size_t errlen);
int config_get_double(const struct config *cfg, const char *section, const char *key, double def,
                      double *out, char *err, size_t errlen);
int config_get_bool(const struct config *cfg, const char *section, const char *key, bool def,
                    bool *out, char *err, size_t errlen);
/* The environment variable name that overrides section.key, written to out. */
void config_env_name(const char *section, const char *key, char *out, size_t outlen);

/* The data directory: $HARDE_DATA_DIR, else [harde] data_dir, else
 * $XDG_DATA_HOME/harde, else ~/.local/share/harde; created (with parents,
 * mode 0700) if missing. New string, or NULL with err set. */
char *config_data_dir(const struct config *cfg, char *err, size_t errlen);

/* mkdir -p with mode; 0 or ERR_IO (errno kept). */
int config_mkdirs(const char *path, unsigned mode);

#endif
