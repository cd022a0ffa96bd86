/*  test_beacon.c - the beacon record: its bytes, the mesh id, and every
    way a datagram on the beacon port is refused.
*/
#include "beacon.h"
#include "meshq.h"
#include "testutil.h"

#include <criterion/criterion.h>

static meshq_beacon_t
s_beacon (void)
{
    meshq_beacon_t beacon = {.port = 41234, .incarnation = 0x0102030405060708};
    for (int i = 0; i < MESHQ_ID_SIZE; i++)
        beacon.node[i] = (uint8_t)(0xa0 + i);
    meshq_beacon_mesh_id ("default", "/", beacon.mesh);
    return beacon;
}

//  The example of docs/PROTOCOL.md section 5.1, byte for byte.
static const char *s_example = "4d534851 01 00 a112"
                               "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
                               "0102030405060708"
                               "79f300d0eb334788c5a1a30e2584eadd";

Test (beacon, encodes_the_documented_bytes)
{
    meshq_beacon_t beacon = s_beacon ();
    uint8_t out[MESHQ_BEACON_SIZE];
    meshq_beacon_encode (&beacon, out);
    uint8_t expected[64];
    cr_assert_eq (testutil_unhex (s_example, expected, sizeof expected),
                  MESHQ_BEACON_SIZE);
    cr_assert_arr_eq (out, expected, MESHQ_BEACON_SIZE);
}

Test (beacon, round_trips)
{
    meshq_beacon_t beacon = s_beacon (), back;
    uint8_t out[MESHQ_BEACON_SIZE];
    meshq_beacon_encode (&beacon, out);
    cr_assert_eq (meshq_beacon_decode (out, sizeof out, &back, NULL, NULL), 0);
    cr_expect_arr_eq (back.node, beacon.node, MESHQ_ID_SIZE);
    cr_expect_arr_eq (back.mesh, beacon.mesh, MESHQ_ID_SIZE);
    cr_expect_eq (back.port, 41234);
    cr_expect_eq (back.incarnation, 0x0102030405060708);
    cr_expect_eq (back.flags, 0);
}

Test (beacon, mesh_id_separates_meshes_and_vhosts)
{
    uint8_t a[MESHQ_ID_SIZE], b[MESHQ_ID_SIZE], c[MESHQ_ID_SIZE],
        d[MESHQ_ID_SIZE];
    meshq_beacon_mesh_id ("m1", "/", a);
    meshq_beacon_mesh_id ("m2", "/", b);
    meshq_beacon_mesh_id ("m1", "/prod", c);
    cr_expect (memcmp (a, b, MESHQ_ID_SIZE) != 0);
    cr_expect (memcmp (a, c, MESHQ_ID_SIZE) != 0);
    //  The zero byte between the names keeps "ab"+"c" apart from "a"+"bc".
    meshq_beacon_mesh_id ("ab", "c", a);
    meshq_beacon_mesh_id ("a", "bc", d);
    cr_expect (memcmp (a, d, MESHQ_ID_SIZE) != 0);
    //  And the same names always give the same id.
    meshq_beacon_mesh_id ("m1", "/", a);
    meshq_beacon_mesh_id ("m1", "/", b);
    cr_expect_arr_eq (a, b, MESHQ_ID_SIZE);
}

Test (beacon, refuses_every_other_length)
{
    uint8_t data[256] = {0};
    meshq_beacon_t beacon = s_beacon (), back;
    meshq_beacon_encode (&beacon, data);
    for (size_t size = 0; size < sizeof data; size++) {
        if (size == MESHQ_BEACON_SIZE)
            continue;
        meshq_beacon_drop_t reason = MESHQ_BEACON_DROP_COUNT;
        const char *why = NULL;
        cr_assert_eq (meshq_beacon_decode (data, size, &back, &reason, &why),
                      MESHQ_EMALFORMED, "size %zu", size);
        cr_expect_eq (reason, MESHQ_BEACON_DROP_SIZE);
        cr_expect_str_eq (why, "beacon: not 48 bytes");
    }
}

//  One damaged field per row: offset, byte written there, the code and
//  the reason expected.
typedef struct {
    size_t offset;
    uint8_t byte;
    int code;
    meshq_beacon_drop_t reason;
} s_damage_t;

Test (beacon, refuses_damaged_fields)
{
    static const s_damage_t rows[] = {
        {0, 'Z', MESHQ_EMALFORMED, MESHQ_BEACON_DROP_SIGNATURE},
        {3, 'R', MESHQ_EMALFORMED, MESHQ_BEACON_DROP_SIGNATURE},
        {4, 0, MESHQ_EVERSION, MESHQ_BEACON_DROP_VERSION},
        {4, 2, MESHQ_EVERSION, MESHQ_BEACON_DROP_VERSION},
        {4, 0xff, MESHQ_EVERSION, MESHQ_BEACON_DROP_VERSION},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        meshq_beacon_t beacon = s_beacon (), back;
        uint8_t data[MESHQ_BEACON_SIZE];
        meshq_beacon_encode (&beacon, data);
        data[rows[i].offset] = rows[i].byte;
        meshq_beacon_drop_t reason = MESHQ_BEACON_DROP_COUNT;
        cr_expect_eq (
            meshq_beacon_decode (data, sizeof data, &back, &reason, NULL),
            rows[i].code, "row %zu", i);
        cr_expect_eq (reason, rows[i].reason, "row %zu", i);
    }
}

Test (beacon, refuses_zero_port_node_and_incarnation)
{
    meshq_beacon_t beacon = s_beacon (), back;
    uint8_t data[MESHQ_BEACON_SIZE];
    const char *why;
    meshq_beacon_drop_t reason;

    beacon.port = 0;
    meshq_beacon_encode (&beacon, data);
    cr_expect_eq (meshq_beacon_decode (data, sizeof data, &back, &reason, &why),
                  MESHQ_ERANGE);
    cr_expect_str_eq (why, "beacon: port is 0");
    cr_expect_eq (reason, MESHQ_BEACON_DROP_MALFORMED);

    beacon = s_beacon ();
    memset (beacon.node, 0, sizeof beacon.node);
    meshq_beacon_encode (&beacon, data);
    cr_expect_eq (meshq_beacon_decode (data, sizeof data, &back, &reason, &why),
                  MESHQ_ERANGE);
    cr_expect_str_eq (why, "beacon: node id is all zero");

    beacon = s_beacon ();
    beacon.incarnation = 0;
    meshq_beacon_encode (&beacon, data);
    cr_expect_eq (meshq_beacon_decode (data, sizeof data, &back, &reason, &why),
                  MESHQ_ERANGE);
    cr_expect_str_eq (why, "beacon: incarnation is 0");
}

Test (beacon, ignores_reserved_flags)
{
    //  A newer writer may set flags; version 1 readers accept and ignore.
    meshq_beacon_t beacon = s_beacon (), back;
    uint8_t data[MESHQ_BEACON_SIZE];
    meshq_beacon_encode (&beacon, data);
    data[5] = 0x80;
    cr_expect_eq (meshq_beacon_decode (data, sizeof data, &back, NULL, NULL),
                  0);
    cr_expect_eq (back.flags, 0x80);
}

Test (beacon, random_records_never_pass_without_the_signature)
{
    uint64_t state = testutil_seed ("beacon");
    uint8_t data[MESHQ_BEACON_SIZE];
    meshq_beacon_t back;
    for (int round = 0; round < 100000; round++) {
        for (size_t i = 0; i < sizeof data; i++)
            data[i] = (uint8_t)testutil_random (&state);
        if (memcmp (data, "MSHQ", 4) == 0)
            continue;
        meshq_beacon_drop_t reason;
        cr_assert_eq (
            meshq_beacon_decode (data, sizeof data, &back, &reason, NULL),
            MESHQ_EMALFORMED);
        cr_assert_eq (reason, MESHQ_BEACON_DROP_SIGNATURE);
    }
}

Test (beacon, names_every_drop_reason)
{
    for (int reason = 0; reason < MESHQ_BEACON_DROP_COUNT; reason++) {
        const char *name = meshq_beacon_drop_name (reason);
        cr_assert (name && *name);
        for (int other = 0; other < reason; other++)
            cr_expect_str_neq (name, meshq_beacon_drop_name (other));
    }
}

Test (beacon, sealed_ones_open_only_under_their_key_and_intact)
{
    meshq_beacon_t beacon = s_beacon (), back;
    uint8_t key[MESHQ_BEACON_KEY_SIZE], other[MESHQ_BEACON_KEY_SIZE];
    meshq_beacon_key ("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", key);
    meshq_beacon_key ("JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6", other);
    cr_assert_neq (memcmp (key, other, sizeof key), 0);
    uint8_t sealed[MESHQ_BEACON_SEALED_SIZE];
    meshq_beacon_seal (&beacon, key, sealed);
    meshq_beacon_drop_t reason = MESHQ_BEACON_DROP_COUNT;
    cr_assert_eq (
        meshq_beacon_open (sealed, sizeof sealed, key, &back, &reason, NULL),
        0);
    cr_expect_eq (back.incarnation, beacon.incarnation);
    cr_expect_arr_eq (back.node, beacon.node, MESHQ_ID_SIZE);
    cr_expect (back.flags & MESHQ_BEACON_SEALED);
    //  Another key.
    cr_expect_eq (
        meshq_beacon_open (sealed, sizeof sealed, other, &back, &reason, NULL),
        MESHQ_EACCESS);
    cr_expect_eq (reason, MESHQ_BEACON_DROP_AUTH);
    //  Any byte changed.
    for (size_t i = 0; i < sizeof sealed; i++) {
        sealed[i] ^= 0x01;
        reason = MESHQ_BEACON_DROP_COUNT;
        cr_assert_neq (meshq_beacon_open (sealed, sizeof sealed, key, &back,
                                          &reason, NULL),
                       0, "byte %zu", i);
        cr_assert_eq (reason, MESHQ_BEACON_DROP_AUTH, "byte %zu", i);
        sealed[i] ^= 0x01;
    }
    //  A plain beacon, and other sizes.
    uint8_t plain[MESHQ_BEACON_SIZE];
    meshq_beacon_encode (&beacon, plain);
    cr_expect_eq (
        meshq_beacon_open (plain, sizeof plain, key, &back, &reason, NULL),
        MESHQ_EACCESS);
    cr_expect_eq (reason, MESHQ_BEACON_DROP_AUTH);
    cr_expect_eq (meshq_beacon_open (sealed, sizeof sealed - 1, key, &back,
                                     &reason, NULL),
                  MESHQ_EMALFORMED);
    cr_expect_eq (reason, MESHQ_BEACON_DROP_SIZE);
}
