/*  codec_writer.c - writes msgpack values into a buffer. See
    codec_writer.h. A thin layer over msgpack-c's packer.
*/
#include "codec_writer.h"
#include "meshq.h"

#include <msgpack.h>
#include <string.h>

static int
s_write (void *data, const char *buf, size_t len)
{
    return meshq_buf_append ((meshq_buf_t *)data, buf, len) ? -1 : 0;
}

//  A packer over the writer's buffer; msgpack_packer is two pointers.
static msgpack_packer
s_packer (meshq_writer_t *self)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, self->out, s_write);
    return pk;
}

static void
s_check (meshq_writer_t *self, int rc)
{
    if (rc && !self->error)
        self->error = MESHQ_ENOMEM;
}

void
meshq_writer_init (meshq_writer_t *self, meshq_buf_t *out)
{
    self->out = out;
    self->error = 0;
}

void
meshq_writer_map (meshq_writer_t *self, uint32_t count)
{
    msgpack_packer pk = s_packer (self);
    s_check (self, msgpack_pack_map (&pk, count));
}

void
meshq_writer_array (meshq_writer_t *self, uint32_t count)
{
    msgpack_packer pk = s_packer (self);
    s_check (self, msgpack_pack_array (&pk, count));
}

void
meshq_writer_str (meshq_writer_t *self, const char *string)
{
    meshq_writer_strn (self, string, strlen (string));
}

void
meshq_writer_strn (meshq_writer_t *self, const char *data, size_t size)
{
    msgpack_packer pk = s_packer (self);
    s_check (self, msgpack_pack_str_with_body (&pk, data, size));
}

void
meshq_writer_bin (meshq_writer_t *self, const void *data, size_t size)
{
    msgpack_packer pk = s_packer (self);
    s_check (self, msgpack_pack_bin_with_body (&pk, data, size));
}

void
meshq_writer_uint (meshq_writer_t *self, uint64_t value)
{
    msgpack_packer pk = s_packer (self);
    s_check (self, msgpack_pack_uint64 (&pk, value));
}

void
meshq_writer_int (meshq_writer_t *self, int64_t value)
{
    msgpack_packer pk = s_packer (self);
    s_check (self, msgpack_pack_int64 (&pk, value));
}

void
meshq_writer_bool (meshq_writer_t *self, bool value)
{
    msgpack_packer pk = s_packer (self);
    s_check (self, value ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk));
}

void
meshq_writer_double (meshq_writer_t *self, double value)
{
    msgpack_packer pk = s_packer (self);
    s_check (self, msgpack_pack_double (&pk, value));
}

void
meshq_writer_nil (meshq_writer_t *self)
{
    msgpack_packer pk = s_packer (self);
    s_check (self, msgpack_pack_nil (&pk));
}

void
meshq_writer_raw (meshq_writer_t *self, const void *data, size_t size)
{
    s_check (self, meshq_buf_append (self->out, data, size));
}

int
meshq_writer_error (const meshq_writer_t *self)
{
    return self->error;
}
