/*  error.c - names of the error codes. See meshq.h. */
#include "meshq.h"

const char *
meshq_strerror (int code)
{
    switch ((meshq_error_t)code) {
        case MESHQ_OK:
            return "success";
        case MESHQ_EINVAL:
            return "invalid argument";
        case MESHQ_ENOMEM:
            return "out of memory";
        case MESHQ_ETRUNCATED:
            return "truncated input";
        case MESHQ_ETOOBIG:
            return "count or length above its limit";
        case MESHQ_ETYPE:
            return "value of the wrong type";
        case MESHQ_ERANGE:
            return "value out of range";
        case MESHQ_EDUPKEY:
            return "duplicate key";
        case MESHQ_EDEPTH:
            return "nested too deep";
        case MESHQ_EMSGSIZE:
            return "message above the maximum size";
        case MESHQ_EVERSION:
            return "unsupported format version";
        case MESHQ_EMALFORMED:
            return "malformed input";
        case MESHQ_EIO:
            return "I/O error";
        case MESHQ_EFULL:
            return "quota reached";
        case MESHQ_ECORRUPT:
            return "stored data is corrupt";
        case MESHQ_ENOTFOUND:
            return "not found";
        case MESHQ_EPRECONDITION:
            return "precondition failed";
        case MESHQ_EACCESS:
            return "access refused";
        case MESHQ_ELIMIT:
            return "resource limit reached";
        case MESHQ_ECONNLOST:
            return "connection lost";
        case MESHQ_ETIMEOUT:
            return "timed out";
        case MESHQ_EEXIST:
            return "already exists";
        case MESHQ_ENOTSUP:
            return "not supported";
        case MESHQ_EAGAIN:
            return "try again";
        case MESHQ_EUNROUTABLE:
            return "no route";
        case MESHQ_ESTATE:
            return "not possible in this state";
        case MESHQ_EINTR:
            return "interrupted by a signal";
    }
    return "unknown error";
}

int
meshq_version (void)
{
    return MESHQ_VERSION_MAJOR * 10000 + MESHQ_VERSION_MINOR * 100 +
           MESHQ_VERSION_PATCH;
}
