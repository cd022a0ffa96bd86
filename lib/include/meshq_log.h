/*  meshq_log.h - how much meshq logs.

    meshq logs through CZMQ (zsys_*), one line per event. Errors and
    warnings are always logged; notices (peers, lifecycle) by default;
    info and debug only when asked. The level comes from the environment
    variable MESHQ_LOG (error, warning, notice, info, debug) or from
    meshq_log_set_level, which wins.

    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
*/
#ifndef MESHQ_LOG_H_INCLUDED
#define MESHQ_LOG_H_INCLUDED

#include "meshq.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MESHQ_LOG_ERROR,    //  Cannot do its job.
    MESHQ_LOG_WARNING,  //  Rejected input, degraded.
    MESHQ_LOG_NOTICE,   //  Peers and lifecycle (the default).
    MESHQ_LOG_INFO,     //  Declarations, sessions.
    MESHQ_LOG_DEBUG,    //  Everything.
} meshq_log_level_t;

//  Sets the level for the whole process.
MESHQ_EXPORT void meshq_log_set_level (meshq_log_level_t level);

//  The level in force.
MESHQ_EXPORT meshq_log_level_t meshq_log_level (void);

//  Sends the process's log (meshq's lines and CZMQ's own) to stream,
//  each line stamped with the time it was logged in ISO 8601, UTC, to
//  the millisecond, then CZMQ's level letter and identity:
//  "2026-12-06T07:40:01.123Z N: (meshq-agent) agent: started name=a".
//  Replaces CZMQ's "YY-MM-DD HH:MM:SS" local time. Returns 0, or
//  MESHQ_ENOMEM.
MESHQ_EXPORT int meshq_log_to (FILE *stream);

#ifdef __cplusplus
}
#endif

//  Logs through CZMQ when the level allows it.
#define meshq_log(level, zsys_fn, ...)                                         \
    do {                                                                       \
        if (meshq_log_level () >= (level))                                     \
            zsys_fn (__VA_ARGS__);                                             \
    } while (0)
#define meshq_notice(...) meshq_log (MESHQ_LOG_NOTICE, zsys_notice, __VA_ARGS__)
#define meshq_info(...)   meshq_log (MESHQ_LOG_INFO, zsys_info, __VA_ARGS__)
#define meshq_debug(...)  meshq_log (MESHQ_LOG_DEBUG, zsys_debug, __VA_ARGS__)

#endif
