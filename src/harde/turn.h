/* turn — one rep message in, one Hard-E answer out, with the session kept.
 *
 * Loads nothing and prints nothing: the caller owns the session and the
 * output. A turn picks the flow and the starting agent, runs the agent
 * runtime with the session's conversation as history and the turn context
 * (app + session) as the run context, and records the agent that answered.
 * A failed or cancelled turn leaves the session as it was before the turn. */
#ifndef HARDE_HARDE_TURN_H
#define HARDE_HARDE_TURN_H

#include <signal.h>
#include <stdbool.h>

#include "agent/agent.h"
#include "harde/app.h"
#include "harde/session.h"

/* What tools and dynamic instructions receive as agent_context.user. */
struct harde_turn_context {
    struct harde_app *app;
    struct harde_session *session;
};

struct harde_turn_options {
    bool stream;
    agent_event_cb *on_event;
    void *event_user;
    volatile sig_atomic_t *cancel;
};

/* Runs one turn. *flow is set to a static name of the flow taken ("fast" or
 * "agent"; see router.h).
 * Returns result->status; the result is filled in either case. */
int harde_turn_run(struct harde_app *app, struct harde_session *session, const char *text,
                   const struct harde_turn_options *options, struct agent_result *result,
                   const char **flow);

#endif
