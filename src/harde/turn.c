/* turn — runs one turn of a session through the agents. See turn.h. */
#include "harde/turn.h"

#include <stdlib.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "harde/agents.h"
#include "harde/fast_flow.h"
#include "harde/router.h"

int harde_turn_run(struct harde_app *app, struct harde_session *session, const char *text,
                   const struct harde_turn_options *options, struct agent_result *result,
                   const char **flow)
{
    struct harde_turn_context ctx = {.app = app, .session = session};
    struct agent_run_options run = {
        .model = app->model,
        .default_model = app->specialist_model,
        .max_turns = (int)app->max_turns,
        .stream = options->stream,
        .on_event = options->on_event,
        .event_user = options->event_user,
        .context = &ctx,
        .cancel = options->cancel,
        .max_history_tokens = app->history_tokens,
    };
    /* Every turn starts at Triage, which sees the whole conversation and
     * routes; a specialist that asked a question gets the answer back the
     * same way. */
    const struct agent *start = harde_agents_triage(app->agents);
    size_t before = session->messages.len;
    struct harde_route route;
    harde_route_message(app, session, text, &route);
    *flow = harde_flow_name(route.flow);
    log_info("turn", "session %s: %s flow (%s, intent %s %.2f)", session->id, *flow, route.reason,
             route.intent ? route.intent : "-", route.confidence);
    int rc = route.flow == HARDE_FLOW_FAST
                 ? harde_fast_flow_run(app, session, text, options, result)
                 : agent_run(start, &session->messages, text, &run, result);
    if (rc != 0) {
        /* Keep the conversation consistent: drop the half-finished turn. */
        llm_messages_truncate(&session->messages, before);
        log_warn("turn", "session %s: turn failed: %s", session->id,
                 result->error ? result->error : "unknown error");
        return rc;
    }
    if (result->last_agent) {
        free(session->active_agent);
        session->active_agent = xstrdup(result->last_agent->name);
    }
    return 0;
}
