/*  http_text.c - text for the HTTP listeners. See http_text.h. */
#include "http_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
meshq_text_str (meshq_buf_t *out, const char *text)
{
    meshq_buf_append (out, text, strlen (text));
}

void
meshq_text_u64 (meshq_buf_t *out, uint64_t number)
{
    char digits[24];
    int at = sizeof digits;
    do {
        digits[--at] = (char)('0' + number % 10);
        number /= 10;
    } while (number);
    meshq_buf_append (out, digits + at, sizeof digits - (size_t)at);
}

void
meshq_text_json (meshq_buf_t *out, const char *data, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    meshq_buf_append (out, "\"", 1);
    size_t plain = 0;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        meshq_buf_append (out, data + plain, i - plain);
        plain = i + 1;
        if (c == '"' || c == '\\') {
            char escaped[2] = {'\\', (char)c};
            meshq_buf_append (out, escaped, 2);
        } else {
            char escaped[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            meshq_buf_append (out, escaped, 6);
        }
    }
    meshq_buf_append (out, data + plain, size - plain);
    meshq_buf_append (out, "\"", 1);
}

void
meshq_text_json_str (meshq_buf_t *out, const char *text)
{
    meshq_text_json (out, text, strlen (text));
}

void
meshq_text_label (meshq_buf_t *out, const char *data, size_t size)
{
    size_t plain = 0;
    for (size_t i = 0; i < size; i++) {
        char c = data[i];
        if (c != '\\' && c != '"' && c != '\n')
            continue;
        meshq_buf_append (out, data + plain, i - plain);
        plain = i + 1;
        char escaped[2] = {'\\', c == '\n' ? 'n' : c};
        meshq_buf_append (out, escaped, 2);
    }
    meshq_buf_append (out, data + plain, size - plain);
}

void
meshq_text_printf (meshq_buf_t *out, const char *format, ...)
{
    char line[1024];
    va_list list;
    va_start (list, format);
    int size = vsnprintf (line, sizeof line, format, list);
    va_end (list);
    if (size > 0)
        meshq_buf_append (out, line,
                          (size_t)size < sizeof line ? (size_t)size
                                                     : sizeof line - 1);
}

void
meshq_text_seconds (meshq_buf_t *out, uint64_t us)
{
    char fraction[8];
    snprintf (fraction, sizeof fraction, ".%06u", (unsigned)(us % 1000000));
    meshq_text_u64 (out, us / 1000000);
    meshq_text_str (out, fraction);
}

void
meshq_text_key (meshq_buf_t *out, const char *key, bool first)
{
    if (!first)
        meshq_text_str (out, ",");
    meshq_text_json_str (out, key);
    meshq_text_str (out, ":");
}

void
meshq_text_key_u64 (meshq_buf_t *out, const char *key, uint64_t value)
{
    meshq_text_key (out, key, false);
    meshq_text_u64 (out, value);
}

void
meshq_text_key_str (meshq_buf_t *out, const char *key, const char *value)
{
    meshq_text_key (out, key, false);
    meshq_text_json_str (out, value);
}

void
meshq_text_key_bool (meshq_buf_t *out, const char *key, bool value)
{
    meshq_text_key (out, key, false);
    meshq_text_str (out, value ? "true" : "false");
}
