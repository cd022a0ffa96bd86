/*  test_codec_writer.c - the msgpack writer and the JSON converter that
    protocol frames and the tools' --json output are built on.
*/
#include "codec_json.h"
#include "codec_reader.h"
#include "codec_writer.h"
#include "meshq.h"

#include <criterion/criterion.h>

Test (codec_writer, writes_what_the_reader_reads)
{
    meshq_buf_t buf;
    meshq_buf_init (&buf);
    meshq_writer_t writer;
    meshq_writer_init (&writer, &buf);
    meshq_writer_map (&writer, 3);
    meshq_writer_str (&writer, "n");
    meshq_writer_uint (&writer, 300);
    meshq_writer_str (&writer, "i");
    meshq_writer_int (&writer, -40000);
    meshq_writer_str (&writer, "b");
    meshq_writer_bin (&writer, "\x01\x02", 2);
    cr_assert_eq (meshq_writer_error (&writer), 0);

    meshq_reader_t reader;
    meshq_reader_init (&reader, buf.data, buf.size);
    uint32_t count;
    cr_assert_eq (meshq_reader_map (&reader, 8, &count), 0);
    cr_assert_eq (count, 3);
    const char *key;
    uint32_t size;
    uint64_t n;
    int64_t i;
    const void *bin;
    cr_assert_eq (meshq_reader_str (&reader, 8, &key, &size), 0);
    cr_assert_eq (meshq_reader_uint (&reader, 1000, &n), 0);
    cr_expect_eq (n, 300);
    cr_assert_eq (meshq_reader_str (&reader, 8, &key, &size), 0);
    cr_assert_eq (meshq_reader_int (&reader, &i), 0);
    cr_expect_eq (i, -40000);
    cr_assert_eq (meshq_reader_str (&reader, 8, &key, &size), 0);
    cr_assert_eq (meshq_reader_bin (&reader, 8, &bin, &size), 0);
    cr_expect_eq (size, 2);
    cr_expect_eq (meshq_reader_left (&reader), 0);
    meshq_buf_fini (&buf);
}

Test (codec_writer, converts_to_json)
{
    meshq_buf_t buf, json;
    meshq_buf_init (&buf);
    meshq_buf_init (&json);
    meshq_writer_t writer;
    meshq_writer_init (&writer, &buf);
    meshq_writer_map (&writer, 2);
    meshq_writer_str (&writer, "peers");
    meshq_writer_array (&writer, 2);
    meshq_writer_map (&writer, 4);
    meshq_writer_str (&writer, "name");
    meshq_writer_str (&writer, "a \"quoted\"\n");
    meshq_writer_str (&writer, "up");
    meshq_writer_bool (&writer, true);
    meshq_writer_str (&writer, "id");
    meshq_writer_bin (&writer, "\xab\x01", 2);
    meshq_writer_str (&writer, "load");
    meshq_writer_double (&writer, 0.5);
    meshq_writer_nil (&writer);
    meshq_writer_str (&writer, "count");
    meshq_writer_int (&writer, -3);
    cr_assert_eq (meshq_writer_error (&writer), 0);
    cr_assert_eq (meshq_codec_json (buf.data, buf.size, &json), 0);
    cr_expect_str_eq ((char *)json.data,
                      "{\"peers\":[{\"name\":\"a \\\"quoted\\\"\\u000a\","
                      "\"up\":true,\"id\":\"ab01\",\"load\":0.5},null],"
                      "\"count\":-3}");
    //  Truncated input is refused, and nothing is left in the output.
    json.size = 0;
    cr_expect_eq (meshq_codec_json (buf.data, buf.size - 1, &json),
                  MESHQ_ETRUNCATED);
    cr_expect_eq (json.size, 0);
    meshq_buf_fini (&buf);
    meshq_buf_fini (&json);
}

//  An empty span with no data is valid UTF-8 (an AMQP client's empty
//  header value comes so); a sanitizer build aborted on NULL + 0.
Test (codec_writer, empty_text_without_data_is_utf8)
{
    cr_expect (meshq_utf8_valid (NULL, 0));
    cr_expect (meshq_utf8_valid ("", 0));
    cr_expect_not (meshq_utf8_valid ("\xff", 1));
}
