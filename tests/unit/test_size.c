/*  test_size.c - sizes as people write them (size.h), and the settings
    that take one.
*/
#include "agent.h"
#include "meshq.h"
#include "size.h"

#include <criterion/criterion.h>

Test (size, suffixes_are_powers_of_1024_and_with_b_of_1000)
{
    const struct {
        const char *text;  //  As written.
        uint64_t bytes;    //  What it means.
    } cases[] = {
        {"0", 0},
        {"4096", 4096},
        {"1K", 1024},
        {"1k", 1024},
        {"1KiB", 1024},
        {"1kB", 1000},
        {"512M", 512ull << 20},
        {"512MiB", 512ull << 20},
        {"1G", 1ull << 30},
        {"1GiB", 1ull << 30},
        {"1GB", 1000000000ull},
        {"2T", 2ull << 40},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t bytes = 7;
        cr_expect_eq (meshq_size_parse (cases[i].text, &bytes), 0, "%s",
                      cases[i].text);
        cr_expect_eq (bytes, cases[i].bytes, "%s is %llu", cases[i].text,
                      (unsigned long long)bytes);
    }
}

Test (size, anything_else_is_refused)
{
    const char *bad[] = {"",    "1X", "G",   "-1",    "1.5G", " 1G",
                         "1G ", "1B", "1Gi", "1GiBs", "0x10", "+1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t bytes = 7;
        cr_expect_eq (meshq_size_parse (bad[i], &bytes), MESHQ_EINVAL, "'%s'",
                      bad[i]);
        cr_expect_eq (bytes, 7);
    }
    uint64_t bytes;
    cr_expect_eq (meshq_size_parse ("18446744073709551616", &bytes),
                  MESHQ_ERANGE);
    cr_expect_eq (meshq_size_parse ("16777216T", &bytes), MESHQ_ERANGE);
}

Test (size, the_agents_size_settings_take_suffixes)
{
    meshq_agent_config_t config;
    meshq_agent_config_init (&config);
    char why[256] = "";
    cr_assert_eq (
        meshq_agent_config_set (&config, "quota", "1G", why, sizeof why), 0,
        "%s", why);
    cr_expect_eq (config.store.quota, 1ull << 30);
    cr_assert_eq (
        meshq_agent_config_set (&config, "max_memory", "512M", why, sizeof why),
        0, "%s", why);
    cr_expect_eq (config.max_memory, 512ull << 20);
    cr_assert_eq (meshq_agent_config_set (&config, "max_message", "1MiB", why,
                                          sizeof why),
                  0, "%s", why);
    cr_expect_eq (config.max_message, 1u << 20);
    cr_assert_eq (meshq_agent_config_set (&config, "segment_size", "64M", why,
                                          sizeof why),
                  0, "%s", why);
    cr_expect_eq (config.store.segment_size, 64ull << 20);
    cr_expect_eq (
        meshq_agent_config_set (&config, "quota", "1X", why, sizeof why),
        MESHQ_EINVAL);
    cr_expect_str_eq (why, "quota '1X': " MESHQ_SIZE_HINT);
    cr_expect_eq (
        meshq_agent_config_set (&config, "max_message", "5G", why, sizeof why),
        MESHQ_EINVAL);
    cr_expect (strstr (why, "max_message '5G': out of range"), "%s", why);
}
