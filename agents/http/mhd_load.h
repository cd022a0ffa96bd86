/*  mhd_load.h - libmicrohttpd, loaded by the first listener that serves.

    Nothing links libmicrohttpd: it and GnuTLS, which it pulls in, cost
    every process start about 160 page faults, and most processes that
    link libmeshq never serve HTTP (a client, the meshq tool, an agent
    given --http '' --metrics ''). The first HTTP listener to start
    loads it with dlopen; every later call returns the same functions
    (docs/decisions/0045-the-http-library-loads-when-it-serves.md).

        char why[512];
        const meshq_mhd_t *mhd = meshq_mhd_load (why, sizeof why);
        if (!mhd)
            return MESHQ_ENOTSUP;           //  why: what dlopen said
        mhd->stop_daemon (daemon);

    The library stays loaded until the process ends: its listeners'
    threads run its code.
*/
#ifndef MESHQ_MHD_LOAD_H_INCLUDED
#define MESHQ_MHD_LOAD_H_INCLUDED

#include <microhttpd.h>
#include <stddef.h>

//  libmicrohttpd's functions that the listener calls, each as
//  <microhttpd.h> declares it, so that a call through the table is
//  checked as a direct call is.
typedef struct {
    __typeof__ (MHD_start_daemon) *start_daemon;
    __typeof__ (MHD_stop_daemon) *stop_daemon;
    __typeof__ (MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__ (MHD_create_response_from_buffer_with_free_callback_cls)
        *create_response_from_buffer_with_free_callback_cls;
    __typeof__ (MHD_add_response_header) *add_response_header;
    __typeof__ (MHD_queue_response) *queue_response;
    __typeof__ (MHD_destroy_response) *destroy_response;
    __typeof__ (MHD_lookup_connection_value) *lookup_connection_value;
    __typeof__ (MHD_basic_auth_get_username_password)
        *basic_auth_get_username_password;
    __typeof__ (MHD_get_connection_info) *get_connection_info;
    __typeof__ (MHD_free) *free;
} meshq_mhd_t;

//  Opens the shared library soname (found as dlopen finds it) and
//  fills *mhd with its functions. Returns 0, or MESHQ_ENOTSUP with why
//  naming the library and what dlopen or dlsym said; *mhd is then
//  untouched. A library opened is never closed.
int meshq_mhd_open (const char *soname, meshq_mhd_t *mhd, char *why,
                    size_t size);

//  The functions of libmicrohttpd (the soname of the library the build
//  found), opened on the first call in this process. Borrowed, valid
//  until the process ends. NULL if it cannot be loaded, with why
//  filled in; then every later call fails the same way. Safe to call
//  from any thread.
const meshq_mhd_t *meshq_mhd_load (char *why, size_t size);

#endif
