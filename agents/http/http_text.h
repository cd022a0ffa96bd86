/*  http_text.h - writing the text the HTTP listeners serve: numbers,
    JSON strings and Prometheus label values, appended to a meshq_buf_t.
    Fast enough for a scrape of ten thousand queues: no printf on the
    paths taken per queue.
*/
#ifndef MESHQ_HTTP_TEXT_H_INCLUDED
#define MESHQ_HTTP_TEXT_H_INCLUDED

#include "buf.h"

#include <stdbool.h>
#include <stdint.h>

//  Appends a NUL-terminated string, as is.
void meshq_text_str (meshq_buf_t *out, const char *text);
//  Appends a number in decimal.
void meshq_text_u64 (meshq_buf_t *out, uint64_t number);
//  Appends size bytes as a JSON string, quotes included; bytes under
//  0x20, '"' and '\\' escaped (other bytes are passed on: names are
//  UTF-8 already).
void meshq_text_json (meshq_buf_t *out, const char *data, size_t size);
//  The same for a NUL-terminated string.
void meshq_text_json_str (meshq_buf_t *out, const char *text);
//  Appends a Prometheus label value, without quotes: '\\', '"' and
//  newline escaped.
void meshq_text_label (meshq_buf_t *out, const char *data, size_t size);
//  Appends printf-formatted text (at most 1 KiB).
void meshq_text_printf (meshq_buf_t *out, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
//  Appends microseconds as seconds ("0.000125").
void meshq_text_seconds (meshq_buf_t *out, uint64_t us);

//  Appends a JSON object's key: `"key":`, after a comma unless first;
//  the caller writes the value.
void meshq_text_key (meshq_buf_t *out, const char *key, bool first);
//  Appends `,"key":value` for a number, a string and a boolean.
void meshq_text_key_u64 (meshq_buf_t *out, const char *key, uint64_t value);
void meshq_text_key_str (meshq_buf_t *out, const char *key, const char *value);
void meshq_text_key_bool (meshq_buf_t *out, const char *key, bool value);

#endif
