/* log — structured, leveled logging with secret redaction.
 *
 * One line per record: `ts level component: message`. Output goes to stderr
 * (or the file from log_open). Any string registered with log_add_secret —
 * API keys, tokens, passwords — is replaced by "[REDACTED]" in every record
 * before it is written, so a secret that slips into a message (a URL, an
 * error body) never reaches a log. */
#ifndef HARDE_BASE_LOG_H
#define HARDE_BASE_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

void log_set_level(enum log_level level);
/* "debug", "info", "warn", "error", "off"; returns 0 or ERR_INVALID. */
int log_set_level_name(const char *name);
enum log_level log_get_level(void);
/* Appends records to path instead of stderr; 0 or ERR_IO. */
int log_open(const char *path);
void log_close(void);
/* Registers a secret to redact (copied; strings shorter than 4 bytes are
 * ignored because redacting them would mangle ordinary text). */
void log_add_secret(const char *secret);
/* Replaces every registered secret in text; returns a new string. */
char *log_redact(const char *text);
void log_write(enum log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Forgets all secrets and closes the file (for tests and exit). */
void log_reset(void);

#define log_debug(component, ...) log_write(LOG_DEBUG, component, __VA_ARGS__)
#define log_info(component, ...)  log_write(LOG_INFO, component, __VA_ARGS__)
#define log_warn(component, ...)  log_write(LOG_WARN, component, __VA_ARGS__)
#define log_error(component, ...) log_write(LOG_ERROR, component, __VA_ARGS__)

#endif
