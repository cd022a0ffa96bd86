/*  meshq.h - the public API of meshq, brokerless messaging over ZeroMQ.

    Include this one header. It declares the error codes, the message
    (meshq_msg, an envelope with AMQP-like properties and a body) and,
    as they arrive, the client and the embedded agent. Every function
    that can fail returns 0 or a negative MESHQ_E* code; meshq_strerror
    names the code.

    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
*/
#ifndef MESHQ_H_INCLUDED
#define MESHQ_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MESHQ_EXPORT __attribute__ ((visibility ("default")))

#define MESHQ_VERSION_MAJOR 0
#define MESHQ_VERSION_MINOR 1
#define MESHQ_VERSION_PATCH 0

//  Error codes. Every public function returns 0 or one of these.
typedef enum {
    MESHQ_OK = 0,
    MESHQ_EINVAL = -1,          //  An argument is not valid.
    MESHQ_ENOMEM = -2,          //  Out of memory.
    MESHQ_ETRUNCATED = -3,      //  Input ends before the frame does.
    MESHQ_ETOOBIG = -4,         //  A count or length is above its cap.
    MESHQ_ETYPE = -5,           //  A value has the wrong type.
    MESHQ_ERANGE = -6,          //  A value is outside its range.
    MESHQ_EDUPKEY = -7,         //  A map holds the same key twice.
    MESHQ_EDEPTH = -8,          //  Nesting is deeper than allowed.
    MESHQ_EMSGSIZE = -9,        //  A body is above the configured maximum.
    MESHQ_EVERSION = -10,       //  A format version we do not speak.
    MESHQ_EMALFORMED = -11,     //  Not a well-formed frame.
    MESHQ_EIO = -12,            //  The operating system refused I/O.
    MESHQ_EFULL = -13,          //  A disk or memory quota is reached.
    MESHQ_ECORRUPT = -14,       //  Stored data failed a check.
    MESHQ_ENOTFOUND = -15,      //  No such queue, exchange, user or vhost.
    MESHQ_EPRECONDITION = -16,  //  Exists with other arguments.
    MESHQ_EACCESS = -17,        //  Access refused.
    MESHQ_ELIMIT = -18,         //  A resource limit refused the request.
    MESHQ_ECONNLOST = -19,      //  The connection to the agent is lost.
    MESHQ_ETIMEOUT = -20,       //  No answer in time.
    MESHQ_EEXIST = -21,         //  Already exists.
    MESHQ_ENOTSUP = -22,        //  Not supported.
    MESHQ_EAGAIN = -23,         //  Try again later.
    MESHQ_EUNROUTABLE = -24,    //  No queue is bound for a mandatory message.
    MESHQ_ESTATE = -25,         //  Not possible in the current state.
    MESHQ_EINTR = -26,          //  A signal interrupted the wait.
} meshq_error_t;

//  Returns a static, human-readable name for an error code.
MESHQ_EXPORT const char *meshq_strerror (int code);

//  Returns the library version as MAJOR * 10000 + MINOR * 100 + PATCH.
MESHQ_EXPORT int meshq_version (void);

#ifdef __cplusplus
}
#endif

#include "meshq_msg.h"
#include "meshq_client.h"
#include "meshq_agent.h"
#include "meshq_admin.h"
#include "meshq_log.h"

#endif
