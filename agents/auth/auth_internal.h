/*  auth_internal.h - the state of meshq_auth_t, shared by auth.c (users
    and permissions) and auth_login.c (logins, ZAP, the verifier).
*/
#ifndef MESHQ_AUTH_INTERNAL_H_INCLUDED
#define MESHQ_AUTH_INTERNAL_H_INCLUDED

#include "auth.h"

#include <regex.h>

//  A permission: three patterns and their compiled forms.
typedef struct {
    char *pattern[3];  //  Sources, by meshq_perm_kind_t.
    regex_t regex[3];  //  Compiled.
} meshq_perm_t;

struct _meshq_auth_t {
    char zap_domain[128];      //  Of the agent's client sockets.
    zhashx_t *users;           //  Name -> meshq_user_t.
    zhashx_t *perms;           //  "VHOST\x1fUSER" -> meshq_perm_t.
    uint64_t generation;       //  Bumped at every permission change.
    zloop_t *loop;             //  Reads the sockets below.
    meshq_auth_login_fn *fn;   //  Gets the answers to logins.
    void *arg;                 //  Its argument.
    zactor_t *verifier;        //  Checks passwords off the loop.
    zsock_t *zap;              //  ZAP handler, if this agent has it.
    zhashx_t *pending;         //  Token (hex) -> check waiting for it.
    uint64_t token;            //  Last token given.
    zhashx_t *cache;           //  Checks that passed, by hash.
    zhashx_t *sources;         //  Source -> its failure budget.
    size_t pending_max;        //  Most checks queued at once.
    uint32_t failure_burst;    //  Tokens of a source.
    int64_t refill_ms;         //  Time for a token to come back.
    int64_t warn_second;       //  Second of the refusals logged.
    int warned;                //  Refusals logged in it.
    meshq_auth_stats_t stats;  //  Counters.
};

//  auth_login.c
void meshq_auth_login_fini (meshq_auth_t *self);

#endif
