/*  control.h - the replies an agent gives about discovery.

    An agent serves clients on one ROUTER (its client endpoint). The
    requests discovery can answer, STATUS, LIST_PEERS and STATS
    (docs/PROTOCOL.md sections 2.2 and 2.3), are built here from the
    peers module, so that whatever owns that ROUTER (the agent skeleton
    today, the engine next) can dispatch those verbs here:

        zmsg_t *reply = meshq_control_handle (peers, &info, request);
        //  NULL: a verb this module does not know; answer it elsewhere.

    Replies are [OK][map] or [ERROR][map]: the caller puts the client's
    routing id in front and sends them.
*/
#ifndef MESHQ_CONTROL_H_INCLUDED
#define MESHQ_CONTROL_H_INCLUDED

#include "codec_control.h"
#include "peers.h"

#include <czmq.h>

//  What STATUS reports beyond the peers module.
typedef struct {
    const char *version;  //  Software version.
    int64_t started_ms;   //  zclock_mono () when the agent started.
} meshq_control_info_t;

//  STATUS: node, name, mesh, vhost, version, endpoint, uptime, peers up.
zmsg_t *meshq_control_status (meshq_peers_t *peers,
                              const meshq_control_info_t *info, uint64_t rid);

//  LIST_PEERS: every peer that has been up, sorted by name, then id.
zmsg_t *meshq_control_list_peers (meshq_peers_t *peers, uint64_t rid);

//  STATS: discovery's counters, and count more from the caller.
zmsg_t *meshq_control_stats (meshq_peers_t *peers, uint64_t rid,
                             const meshq_counter_t *more, uint32_t count);

//  ERROR {rid, code, why}.
zmsg_t *meshq_control_error (uint64_t rid, int code, const char *why);

//  Answers request ([VERB][map], the routing id removed) if its verb is
//  one of the above, or if it is malformed (an ERROR). Returns NULL for
//  any other well-formed verb, for the caller to answer. The request
//  stays the caller's.
zmsg_t *meshq_control_handle (meshq_peers_t *peers,
                              const meshq_control_info_t *info,
                              zmsg_t *request);

#endif
