/*  parts.c - one multipart message into zmq_msg_t parts. See parts.h.
*/
#include "parts.h"

#include <stdbool.h>

int
meshq_parts_recv (void *handle, zmq_msg_t *parts, int max, int *total)
{
    int count = 0;
    int flags = ZMQ_DONTWAIT;
    *total = 0;
    while (true) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, handle, flags) < 0) {
            zmq_msg_close (&part);
            break;
        }
        flags = 0;  //  The rest of a message is there already.
        bool more = zmq_msg_more (&part);
        if (count < max)
            parts[count++] = part;
        else
            zmq_msg_close (&part);
        (*total)++;
        if (!more)
            break;
    }
    return count;
}
