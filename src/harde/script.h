/* script — personalised video scripts composed without a language model.
 *
 * Offline, the Script agent writes from the job's facts (the homeowner's
 * name, the street and city, the trade, the appointment, the rep) and a bank
 * of homeowner-facing talking points, by templates chosen per kind of video
 * (primer, follow-up, thank-you, review request) and tone. The length is
 * steered to a target in seconds at a speaking pace of 150 words a minute:
 * optional talking points are added or dropped until the script fits.
 * Revisions in plain words ("shorter", "mention the warranty", "more
 * energetic", "drop financing") change the request, and the script is
 * composed again, so a revision never leaves a half-edited text. With a cloud
 * model, the model writes instead and this module only measures. */
#ifndef HARDE_HARDE_SCRIPT_H
#define HARDE_HARDE_SCRIPT_H

#include <stddef.h>

#define SCRIPT_WORDS_PER_MINUTE 150
#define SCRIPT_MIN_SECONDS      60
#define SCRIPT_MAX_SECONDS      120
#define SCRIPT_MAX_POINTS       12

enum script_kind { SCRIPT_PRIMER, SCRIPT_FOLLOW_UP, SCRIPT_THANK_YOU, SCRIPT_REVIEW_REQUEST };

struct script_facts {
    const char *customer_first; /* "Maria" */
    const char *customer_last;  /* "Garcia" */
    const char *street;         /* "1234 Maple Ave" (may be NULL) */
    const char *city;           /* the neighbourhood or city (may be NULL) */
    const char *trade;          /* "roofing", "siding", … */
    const char *appointment;    /* "Tuesday, December 1 at 3:00 PM" (may be NULL) */
    const char *rep_name;       /* "Jake Miller" */
    const char *company;        /* "Summit Ridge Roofing & Exteriors" */
};

struct script_request {
    enum script_kind kind;
    const char *tone;                      /* "friendly" (default), "professional", "energetic" */
    int target_seconds;                    /* 60–120; 0 = 90 */
    const char *points[SCRIPT_MAX_POINTS]; /* topics to mention: "warranty", "financing", … */
    size_t n_points;
};

/* The kind named by s ("primer", "follow-up", "follow up", "thank you", "review"), or -1. */
int script_kind_parse(const char *s);
const char *script_kind_name(enum script_kind kind);
/* The topics script_compose knows, NULL-terminated (static). */
const char *const *script_topics(void);

/* A CRM appointment ("2026-12-01T18:00", local time) in words for a script:
 * "Tuesday, December 1 at 6:00 PM", written to out ("" when unreadable). */
void script_appointment_text(const char *iso, char *out, size_t outlen);

/* A new script for facts and request. */
char *script_compose(const struct script_facts *facts, const struct script_request *request);
/* Spoken length of text in seconds at SCRIPT_WORDS_PER_MINUTE. */
double script_seconds(const char *text);
/* Applies a revision instruction to request. Returns 0 and *change (a new
 * sentence: "made it shorter (about 70 s)") when understood, else
 * ERR_INVALID with *change naming what can be asked. */
int script_revise_request(struct script_request *request, const char *instruction, char **change);

#endif
