/*  test_mhd_load.c - libmicrohttpd loaded at run time (agents/http/
    mhd_load.h): every function found, one load for all threads, and a
    library that is missing or is not libmicrohttpd refused with a
    reason, never a crash.
*/
#include "meshq.h"
#include "mhd_load.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

static void *
s_load (void *arg)
{
    (void)arg;
    char why[512] = "";
    const meshq_mhd_t *mhd = meshq_mhd_load (why, sizeof why);
    cr_expect_not_null (mhd, "%s", why);
    return (void *)mhd;
}

Test (mhd_load, loads_every_function_once_for_all_threads)
{
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        pthread_create (&threads[i], NULL, s_load, NULL);
    void *loaded[2];
    for (int i = 0; i < 2; i++)
        pthread_join (threads[i], &loaded[i]);
    cr_assert_not_null (loaded[0]);
    cr_expect_eq (loaded[0], loaded[1]);
    cr_expect_eq (s_load (NULL), loaded[0]);
    const meshq_mhd_t *mhd = loaded[0];
    cr_expect (mhd->start_daemon && mhd->stop_daemon &&
               mhd->create_response_from_buffer &&
               mhd->create_response_from_buffer_with_free_callback_cls &&
               mhd->add_response_header && mhd->queue_response &&
               mhd->destroy_response && mhd->lookup_connection_value &&
               mhd->basic_auth_get_username_password &&
               mhd->get_connection_info && mhd->free);
}

Test (mhd_load, a_missing_library_is_refused_with_what_dlopen_said)
{
    meshq_mhd_t mhd = {0};
    char why[512] = "";
    cr_expect_eq (
        meshq_mhd_open ("libmeshq-no-such.so.0", &mhd, why, sizeof why),
        MESHQ_ENOTSUP);
    cr_expect (strstr (why, "libmeshq-no-such.so.0 cannot be loaded: "), "%s",
               why);
    cr_expect (strstr (why, "No such file"), "%s", why);
    cr_expect_null (mhd.start_daemon);
}

Test (mhd_load, a_library_without_its_functions_is_refused)
{
    meshq_mhd_t mhd = {0};
    char why[512] = "";
    cr_expect_eq (meshq_mhd_open ("libc.so.6", &mhd, why, sizeof why),
                  MESHQ_ENOTSUP);
    cr_expect (strstr (why, "libc.so.6 cannot be loaded: "), "%s", why);
    cr_expect (strstr (why, "MHD_start_daemon"), "%s", why);
    cr_expect_null (mhd.start_daemon);
}
