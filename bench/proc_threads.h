/*  proc_threads.h - where a set of processes spends its CPU, thread by
    thread: each thread's time on a CPU and its turns there, from
    /proc/PID/task/TID/schedstat, summed by the thread's name.

    A window's figures are its end less its start: add the processes'
    threads at the start with sign -1 and at the end with sign +1. A
    thread that ends within the window takes back what it had at the
    start; a thread of a name past the cap is not counted.
*/
#ifndef MESHQ_BENCH_PROC_THREADS_H_INCLUDED
#define MESHQ_BENCH_PROC_THREADS_H_INCLUDED

#include <stdio.h>
#include <sys/types.h>

#define MESHQ_BENCH_THREAD_NAMES 16

typedef struct {
    char name[16];  //  As in /proc/PID/task/TID/comm.
    double run_ns;  //  Time on a CPU.
    double turns;   //  Times it was given a CPU: wakeups and preemptions.
} meshq_bench_thread_name_t;

typedef struct {
    meshq_bench_thread_name_t names[MESHQ_BENCH_THREAD_NAMES];
    int count;
    double seconds;  //  Window lengths added (meshq_bench_threads_window).
    double agents;   //  Processes, times seconds, over those windows.
} meshq_bench_threads_t;

//  Adds sign times each thread of the count processes to self.
void meshq_bench_threads_add (meshq_bench_threads_t *self, const pid_t *pids,
                              int count, int sign);

//  Notes a window of seconds over count processes.
void meshq_bench_threads_window (meshq_bench_threads_t *self, double seconds,
                                 int count);

//  Prints one table line a thread name, as "| label | name | cores |
//  turns a second a process | us a turn |", to out.
void meshq_bench_threads_print (const meshq_bench_threads_t *self,
                                const char *label, FILE *out);

#endif
