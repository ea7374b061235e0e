/* router — picks the flow for each rep message (the blueprint's hybrid model).
 *
 *   fast flow  — a plain sales question: retrieve from the playbook and give
 *                one streamed answer; no runner, no tool loop.
 *   agent flow — anything that needs tools or state: Triage → specialist →
 *                tools through the runner.
 *
 * The decision uses the local intent classifier (microseconds, even when the
 * answers come from a cloud model), its confidence, and the session: a
 * message that answers a question a specialist just asked stays in the agent
 * flow whatever it looks like. */
#ifndef HARDE_HARDE_ROUTER_H
#define HARDE_HARDE_ROUTER_H

#include "harde/app.h"
#include "harde/session.h"

enum harde_flow { HARDE_FLOW_AGENT, HARDE_FLOW_FAST };

struct harde_route {
    enum harde_flow flow;
    const char *intent; /* best intent label (borrowed), or NULL */
    double confidence;
    const char *reason; /* static: why this flow */
};

/* Decides the flow for text in session. */
void harde_route_message(const struct harde_app *app, const struct harde_session *session,
                         const char *text, struct harde_route *out);
/* "fast" or "agent". */
const char *harde_flow_name(enum harde_flow flow);

#endif
