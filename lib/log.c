/*  log.c - the process's log level. See meshq_log.h.

    The level is process-wide, like CZMQ's own zsys settings: the owner
    of the process (the daemon's main, an application) chooses it once.
    It is read from MESHQ_LOG on first use; an atomic keeps threads
    (agent, clients) from racing on that first read.

    CZMQ formats its log lines with a fixed local "YY-MM-DD HH:MM:SS";
    meshq_log_to gives CZMQ a stream of ours (fopencookie) that takes
    each line as CZMQ writes it, and writes it on with an ISO 8601 UTC
    timestamp taken then, in place of CZMQ's. CZMQ writes a line and
    flushes it under the stream's lock, so lines from several threads
    neither mix nor wait for another thread.
*/
#include "meshq_log.h"

#include <czmq.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  -1 until read from the environment or set.
static atomic_int s_level = -1;

void
meshq_log_set_level (meshq_log_level_t level)
{
    atomic_store (&s_level, (int)level);
}

meshq_log_level_t
meshq_log_level (void)
{
    int level = atomic_load (&s_level);
    if (level >= 0)
        return (meshq_log_level_t)level;
    static const char *names[] = {"error", "warning", "notice", "info",
                                  "debug"};
    const char *env = getenv ("MESHQ_LOG");
    level = MESHQ_LOG_NOTICE;
    for (int i = 0; env && i < 5; i++)
        if (strcmp (env, names[i]) == 0)
            level = i;
    atomic_store (&s_level, level);
    return (meshq_log_level_t)level;
}

//  The stream CZMQ writes to: a line being assembled, and where to.
typedef struct {
    FILE *out;        //  Where stamped lines go.
    char line[2048];  //  The line so far.
    size_t size;      //  Bytes in line.
} s_stamper_t;

//  Skips CZMQ's "L: (ident) YY-MM-DD HH:MM:SS " prefix in line, giving
//  the level and identity part in *head (*head_size bytes); returns the
//  rest, or line itself if it is not of that form.
static const char *
s_skip_czmq_prefix (const char *line, const char **head, size_t *head_size)
{
    *head = "";
    *head_size = 0;
    if (!line[0] || line[1] != ':' || line[2] != ' ')
        return line;
    const char *at = line + 3;
    if (*at == '(') {
        const char *close = strstr (at, ") ");
        if (!close)
            return line;
        at = close + 2;
    }
    //  "YY-MM-DD HH:MM:SS ": digits where CZMQ puts them.
    static const char shape[] = "99-99-99 99:99:99 ";
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] == '9' ? at[i] < '0' || at[i] > '9' : at[i] != shape[i])
            return line;
    *head = line;
    *head_size = (size_t)(at - line);
    return at + sizeof shape - 1;
}

//  Writes the assembled line, stamped, and starts a new one.
static void
s_stamp_line (s_stamper_t *self)
{
    self->line[self->size] = 0;
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    struct tm utc;
    gmtime_r (&now.tv_sec, &utc);
    char stamp[40];
    size_t length = strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf (stamp + length, sizeof stamp - length, ".%03ldZ",
              now.tv_nsec / 1000000);
    const char *head;
    size_t head_size;
    const char *rest = s_skip_czmq_prefix (self->line, &head, &head_size);
    //  The level and identity come first after the time; CZMQ ends them
    //  with a space after the identity, or none.
    fprintf (self->out, "%s %.*s%s\n", stamp, (int)head_size, head, rest);
    fflush (self->out);
    self->size = 0;
}

static ssize_t
s_stamper_write (void *cookie, const char *data, size_t size)
{
    s_stamper_t *self = cookie;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == '\n')
            s_stamp_line (self);
        else {
            if (self->size == sizeof self->line - 1)
                s_stamp_line (self);  //  An overlong line, in pieces.
            self->line[self->size++] = data[i];
        }
    }
    return (ssize_t)size;
}

int
meshq_log_to (FILE *stream)
{
    //  One stamper for the process, as CZMQ has one log stream; it
    //  lives as long as the process, since CZMQ may log at exit.
    static s_stamper_t *stamper;
    static FILE *file;
    if (!stamper) {
        stamper = calloc (1, sizeof *stamper);
        if (!stamper)
            return MESHQ_ENOMEM;
        cookie_io_functions_t functions = {.write = s_stamper_write};
        file = fopencookie (stamper, "w", functions);
        if (!file) {
            free (stamper);
            stamper = NULL;
            return MESHQ_ENOMEM;
        }
    }
    stamper->out = stream;
    zsys_set_logstream (file);
    return 0;
}
