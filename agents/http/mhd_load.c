/*  mhd_load.c - libmicrohttpd, loaded by the first listener that serves.
    See mhd_load.h.

    MESHQ_MHD_SONAME comes from the build: the soname of the library
    that pkg-config found, whose header this file is compiled with, so
    that the functions loaded are those the header describes.
*/
#include "mhd_load.h"
#include "meshq.h"

#include <assert.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#ifndef MESHQ_MHD_SONAME
#error "MESHQ_MHD_SONAME: the build names libmicrohttpd's soname"
#endif

//  Each function by its name in the library and its place in the table.
static const struct {
    const char *name;  //  The symbol.
    size_t offset;     //  Its field in meshq_mhd_t.
} s_functions[] = {
    {"MHD_start_daemon", offsetof (meshq_mhd_t, start_daemon)},
    {"MHD_stop_daemon", offsetof (meshq_mhd_t, stop_daemon)},
    {"MHD_create_response_from_buffer",
     offsetof (meshq_mhd_t, create_response_from_buffer)},
    {"MHD_create_response_from_buffer_with_free_callback_cls",
     offsetof (meshq_mhd_t,
               create_response_from_buffer_with_free_callback_cls)},
    {"MHD_add_response_header", offsetof (meshq_mhd_t, add_response_header)},
    {"MHD_queue_response", offsetof (meshq_mhd_t, queue_response)},
    {"MHD_destroy_response", offsetof (meshq_mhd_t, destroy_response)},
    {"MHD_lookup_connection_value",
     offsetof (meshq_mhd_t, lookup_connection_value)},
    {"MHD_basic_auth_get_username_password",
     offsetof (meshq_mhd_t, basic_auth_get_username_password)},
    {"MHD_get_connection_info", offsetof (meshq_mhd_t, get_connection_info)},
    {"MHD_free", offsetof (meshq_mhd_t, free)},
};
static_assert (sizeof s_functions / sizeof s_functions[0] * sizeof (void *) ==
                   sizeof (meshq_mhd_t),
               "every field of meshq_mhd_t has its line in s_functions");

int
meshq_mhd_open (const char *soname, meshq_mhd_t *mhd, char *why, size_t size)
{
    assert (soname);
    assert (mhd);
    //  RTLD_LOCAL: its symbols (and GnuTLS's) stay out of the process's
    //  namespace; RTLD_NOW: a missing symbol fails here, not mid-request.
    void *library = dlopen (soname, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf (why, size, "%s cannot be loaded: %s", soname, dlerror ());
        return MESHQ_ENOTSUP;
    }
    meshq_mhd_t loaded;
    for (size_t i = 0; i < sizeof s_functions / sizeof s_functions[0]; i++) {
        dlerror ();
        void *function = dlsym (library, s_functions[i].name);
        if (!function) {
            const char *error = dlerror ();
            snprintf (why, size, "%s cannot be loaded: %s", soname,
                      error ? error : s_functions[i].name);
            dlclose (library);
            return MESHQ_ENOTSUP;
        }
        //  POSIX: a function's address fits a void *, bit for bit.
        memcpy ((char *)&loaded + s_functions[i].offset, &function,
                sizeof function);
    }
    *mhd = loaded;
    return 0;
}

//  The process's one load: written once under s_once, which also makes
//  the writes visible to every thread that calls pthread_once after.
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static meshq_mhd_t s_mhd;  //  The functions, if loaded.
static int s_rc;           //  0, or MESHQ_ENOTSUP.
static char s_why[512];    //  Why, if it failed.

static void
s_load (void)
{
    s_rc = meshq_mhd_open (MESHQ_MHD_SONAME, &s_mhd, s_why, sizeof s_why);
}

const meshq_mhd_t *
meshq_mhd_load (char *why, size_t size)
{
    pthread_once (&s_once, s_load);
    if (s_rc == 0)
        return &s_mhd;
    snprintf (why, size, "%s", s_why);
    return NULL;
}
