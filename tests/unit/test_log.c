/*  test_log.c - log lines stamped in ISO 8601 (meshq_log_to).
*/
#include "meshq_log.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <regex.h>

//  Logs through CZMQ into a temporary file via meshq_log_to, as ident
//  (NULL: none); returns what reached it.
static char *
s_logged (const char *ident, void (*log) (void))
{
    FILE *file = tmpfile ();
    cr_assert_not_null (file);
    if (ident)
        zsys_set_logident (ident);  //  Each test runs in a process of its own.
    cr_assert_eq (meshq_log_to (file), 0);
    log ();
    zsys_set_logstream (NULL);
    long size = ftell (file);
    char *text = calloc (1, (size_t)size + 1);
    rewind (file);
    cr_assert_eq (fread (text, 1, (size_t)size, file), (size_t)size);
    fclose (file);
    return text;
}

static void
s_two_lines (void)
{
    zsys_notice ("agent: started name=%s", "a");
    zsys_warning ("peers: bad beacon from=%s", "10.0.0.1");
}

static void
s_long_line (void)
{
    char text[3000];
    memset (text, 'x', sizeof text - 1);
    text[sizeof text - 1] = 0;
    zsys_error ("store: %s", text);
}

static void
s_expect_match (const char *text, const char *pattern)
{
    regex_t regex;
    cr_assert_eq (regcomp (&regex, pattern, REG_EXTENDED | REG_NOSUB), 0);
    cr_expect_eq (regexec (&regex, text, 0, NULL, 0), 0, "'%s' !~ /%s/", text,
                  pattern);
    regfree (&regex);
}

#define S_STAMP                                                                \
    "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

Test (log, lines_carry_an_iso_8601_utc_stamp_then_level_and_identity)
{
    char *text = s_logged ("meshq-agent", s_two_lines);
    s_expect_match (text, "^" S_STAMP " N: \\(meshq-agent\\) agent: started "
                          "name=a\n" S_STAMP " W: \\(meshq-agent\\) peers: bad "
                          "beacon from=10\\.0\\.0\\.1\n$");
    free (text);
}

Test (log, without_an_identity_the_level_alone)
{
    char *text = s_logged (NULL, s_two_lines);
    s_expect_match (text, "^" S_STAMP " N: agent: started name=a\n" S_STAMP
                          " W: peers: bad beacon from=10\\.0\\.0\\.1\n$");
    free (text);
}

Test (log, a_long_line_is_stamped_and_nothing_is_lost)
{
    char *text = s_logged (NULL, s_long_line);
    s_expect_match (text, "^" S_STAMP " E: store: x+\n");
    //  CZMQ cuts its lines at 1023 characters; what it writes arrives.
    size_t xs = 0;
    for (const char *c = text; *c; c++)
        xs += *c == 'x';
    cr_expect_gt (xs, 900u);
    free (text);
}
