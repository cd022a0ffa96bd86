/*  discovery.h - discovery as an actor of its own.

    meshq_discovery hosts a meshq_peers module in its own zloop, for
    programs that have no loop of their own to lend it (tests, small
    tools). The agent's engine hosts the module in its own loop instead.

        meshq_peers_config_t config = {.name = "a", .mesh = "m"};
        zactor_t *node = zactor_new (meshq_discovery, &config);
        zstr_send (node, "START");
        int rc;
        char *why;
        zsock_recv (node, "si", NULL, &rc, &why);  //  "START", 0, ""
        ...
        zactor_destroy (&node);  //  says BYE to the peers that are up

    The config is copied before zactor_new returns. Every message on the
    pipe starts with a verb; replies carry the verb of their command, so
    that they can be told from events, which come whenever they happen:

    Events (actor to owner):
        PEER_UP   id (16 bytes), name, endpoint, incarnation (uint64)
        PEER_DOWN id, name, endpoint, incarnation, reason
        MESSAGE   id, then the frames an up peer sent (command first)
    Commands (owner to actor) and their replies:
        START              -> START rc (int), why (string, "" if none)
        INFO               -> INFO id (16 bytes), endpoint, incarnation
        SEND id + frames   -> SEND rc (meshq_peers_send's code)
        WANT id            -> WANT (meshq_peers_want)
        STATS              -> STATS, then one "name=value" frame per
                              counter (beacons_dropped.size=3, ...)
        KILL               -> KILL; stops without BYE, as a node that
                              dies would (for tests)
        FREEZE             -> FREEZE; then reads nothing, beacons and
                              answers nothing, until THAW (for tests:
                              a node that hangs)
        THAW               -> THAW
        $TERM              stops with BYE; the actor ends
*/
#ifndef MESHQ_DISCOVERY_H_INCLUDED
#define MESHQ_DISCOVERY_H_INCLUDED

#include "peers.h"

#include <czmq.h>

//  The actor. args is a meshq_peers_config_t *, copied at once.
void meshq_discovery (zsock_t *pipe, void *args);

#endif
