/*
 * Unit tests of the schedule's decision (provisioner/schedule.c): given a
 * schedule, what the state records about it and the time now, what is due.
 * Hibernate and wake in Europe/Berlin across the end of summer time
 * (2026-10-25) and the start of it (2026-03-29), once per transition, a
 * transition made by hand kept until the next firing, delete_after counted
 * from creation, expires_at, and the state record's round trip. Then the
 * schedules: block read from a description, with its errors at their
 * places. Instants are UTC epoch seconds worked out with date(1).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "schedule.h"
#include "util.h"

/* 2026 instants (UTC). */
enum {
    FRI23_1800 = 1792778400, /* 20:00 CEST, a hibernate */
    SAT24_1200 = 1792843200,
    MON26_0700 = 1792998000, /* 08:00 CET, a wake */
    MON26_1900 = 1793041200, /* 20:00 CET, a hibernate */
    MON26_1930 = 1793043000,
    MON26_2100 = 1793048400,
    MON26_2300 = 1793055600,
    TUE27_0700 = 1793084400,
    TUE27_1900 = 1793127600,
    OCT01_0000 = 1790812800,
    OCT15_0000 = 1792022400,
    MAR29_0100 = 1774746000, /* 03:00 CEST: the end of the spring gap */
    MAR29_0059 = 1774745999,
};

static struct sf_diags diags;

static void setup(void)
{
    sf_diags_init(&diags);
}

static void teardown(void)
{
    sf_diags_free(&diags);
}

static struct sf_schedule *sched(const char *hib, const char *wake, const char *zone)
{
    struct sf_schedule *s = sf_xcalloc(1, sizeof(*s));
    if (hib) {
        s->hibernate = sf_cron_parse(hib, NULL, &diags);
        s->wake = sf_cron_parse(wake, NULL, &diags);
        ck_assert(s->hibernate && s->wake);
        s->hibernate_zone = sf_xstrdup(zone);
        s->wake_zone = sf_xstrdup(zone);
    }
    return s;
}

static struct sf_sched_decision decide(const struct sf_schedule *s, const struct sf_sched_record *rec,
                                       time_t now)
{
    struct sf_sched_decision d;
    ck_assert_int_eq(sf_schedule_decide(s, rec, now, &d, &diags), 0);
    return d;
}

static const struct sf_sched_record none = {.last = SF_SCHED_NONE};

START_TEST(test_windows_across_fall_back)
{
    struct sf_schedule *s = sched("0 20 * * 1-5", "0 8 * * 1-5", "Europe/Berlin");
    /* Friday 20:00 CEST: due at that very instant. */
    struct sf_sched_decision d = decide(s, &none, FRI23_1800);
    ck_assert_int_eq(d.action, SF_SCHED_HIBERNATE);
    ck_assert_int_eq(d.due, FRI23_1800);
    /* The weekend, once it acted: nothing; the next wake is Monday 08:00
     * CET, an hour later in UTC than the hibernate before the change. */
    struct sf_sched_record rec = {.last = SF_SCHED_HIBERNATE, .last_due = FRI23_1800};
    d = decide(s, &rec, SAT24_1200);
    ck_assert_int_eq(d.action, SF_SCHED_NONE);
    ck_assert_int_eq(d.window, SF_SCHED_HIBERNATE);
    ck_assert_int_eq(d.next_wake, MON26_0700);
    ck_assert_int_eq(d.next_hibernate, MON26_1900);
    ck_assert_int_eq(d.expires, 0);
    /* Monday 08:00 CET wakes, 20:00 CET (19:00 UTC) hibernates. */
    d = decide(s, &rec, MON26_0700);
    ck_assert_int_eq(d.action, SF_SCHED_WAKE);
    ck_assert_int_eq(d.due, MON26_0700);
    rec = (struct sf_sched_record){.last = SF_SCHED_WAKE, .last_due = MON26_0700};
    d = decide(s, &rec, MON26_1900 - 1);
    ck_assert_int_eq(d.action, SF_SCHED_NONE);
    ck_assert_int_eq(d.window, SF_SCHED_WAKE);
    d = decide(s, &rec, MON26_1930);
    ck_assert_int_eq(d.action, SF_SCHED_HIBERNATE);
    ck_assert_int_eq(d.due, MON26_1900);
    /* Once per transition: acted on, the same window asks nothing more. */
    rec = (struct sf_sched_record){.last = SF_SCHED_HIBERNATE, .last_due = MON26_1900};
    ck_assert_int_eq(decide(s, &rec, MON26_1930).action, SF_SCHED_NONE);
    ck_assert_int_eq(decide(s, &rec, MON26_2300).action, SF_SCHED_NONE);
    sf_schedule_free(s);
}
END_TEST

START_TEST(test_by_hand)
{
    struct sf_schedule *s = sched("0 20 * * 1-5", "0 8 * * 1-5", "Europe/Berlin");
    /* Woken by hand at 22:00 inside the hibernate window: kept... */
    struct sf_sched_record rec = {.last = SF_SCHED_WAKE, .last_due = MON26_2100, .by_hand = true};
    struct sf_sched_decision d = decide(s, &rec, MON26_2300);
    ck_assert_int_eq(d.action, SF_SCHED_NONE);
    ck_assert_int_eq(d.window, SF_SCHED_HIBERNATE);
    /* ...through the next wake (which finds it awake)... */
    d = decide(s, &rec, TUE27_0700);
    ck_assert_int_eq(d.action, SF_SCHED_WAKE);
    ck_assert_int_eq(d.due, TUE27_0700);
    /* ...and the schedule's next hibernate applies again. */
    rec = (struct sf_sched_record){.last = SF_SCHED_WAKE, .last_due = TUE27_0700};
    d = decide(s, &rec, TUE27_1900);
    ck_assert_int_eq(d.action, SF_SCHED_HIBERNATE);
    /* Hibernated by hand in a wake window: the schedule wakes it only at
     * the next wake, not at once. */
    rec = (struct sf_sched_record){.last = SF_SCHED_HIBERNATE, .last_due = MON26_0700 + 3600, .by_hand = true};
    ck_assert_int_eq(decide(s, &rec, MON26_0700 + 7200).action, SF_SCHED_NONE);
    ck_assert_int_eq(decide(s, &rec, MON26_1930).action, SF_SCHED_HIBERNATE);
    sf_schedule_free(s);
}
END_TEST

START_TEST(test_spring_forward)
{
    /* 02:30 does not exist in Berlin on 2026-03-29: it fires at 03:00 CEST. */
    struct sf_schedule *s = sched("30 2 * * *", "0 9 * * *", "Europe/Berlin");
    struct sf_sched_record rec = {.last = SF_SCHED_WAKE, .last_due = MAR29_0100 - 16 * 3600};
    struct sf_sched_decision d = decide(s, &rec, MAR29_0059);
    ck_assert_int_eq(d.action, SF_SCHED_NONE);
    ck_assert_int_eq(d.next_hibernate, MAR29_0100);
    d = decide(s, &rec, MAR29_0100);
    ck_assert_int_eq(d.action, SF_SCHED_HIBERNATE);
    ck_assert_int_eq(d.due, MAR29_0100);
    sf_schedule_free(s);
}
END_TEST

START_TEST(test_expiry)
{
    struct sf_schedule *s = sched("0 20 * * 1-5", "0 8 * * 1-5", "Europe/Berlin");
    s->delete_after = 14 * 86400;
    /* Not known when the stack was made: nothing expires. */
    struct sf_sched_decision d = decide(s, &none, OCT15_0000);
    ck_assert_int_eq(d.expires, 0);
    ck_assert_int_ne(d.action, SF_SCHED_EXPIRE);
    struct sf_sched_record rec = {.created = OCT01_0000, .last = SF_SCHED_WAKE, .last_due = OCT15_0000};
    d = decide(s, &rec, OCT15_0000 - 1);
    ck_assert_int_eq(d.expires, OCT15_0000);
    ck_assert_int_eq(d.action, SF_SCHED_NONE);
    /* Expiry wins over a transition due at the same time. */
    d = decide(s, &rec, OCT15_0000 + 86400 * 4);
    ck_assert_int_eq(d.action, SF_SCHED_EXPIRE);
    ck_assert_int_eq(d.due, OCT15_0000);
    sf_schedule_free(s);

    /* expires_at alone, no windows. */
    s = sched(NULL, NULL, NULL);
    s->has_expires_at = true;
    s->expires_at = MON26_1900;
    d = decide(s, &none, MON26_1900 - 1);
    ck_assert_int_eq(d.action, SF_SCHED_NONE);
    ck_assert_int_eq(d.window, SF_SCHED_NONE);
    d = decide(s, &none, MON26_1900);
    ck_assert_int_eq(d.action, SF_SCHED_EXPIRE);
    ck_assert_int_eq(d.due, MON26_1900);
    sf_schedule_free(s);
}
END_TEST

START_TEST(test_record)
{
    struct sf_sched_record rec = {.created = OCT01_0000, .last = SF_SCHED_HIBERNATE,
                                  .last_due = MON26_1900, .by_hand = true};
    json_t *j = sf_sched_record_json(&rec);
    ck_assert_str_eq(json_string_value(json_object_get(j, "created")), "2026-10-01T00:00:00Z");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "last"), "due")),
                     "2026-10-26T19:00:00Z");
    struct sf_sched_record back;
    sf_sched_record_read(j, &back);
    ck_assert_int_eq(back.created, OCT01_0000);
    ck_assert_int_eq(back.last, SF_SCHED_HIBERNATE);
    ck_assert_int_eq(back.last_due, MON26_1900);
    ck_assert(back.by_hand);
    json_decref(j);
    /* Garbage reads as nothing recorded. */
    j = json_pack("{s:s, s:{s:s}}", "created", "yesterday", "last", "kind", "dance");
    sf_sched_record_read(j, &back);
    ck_assert_int_eq(back.created, 0);
    ck_assert_int_eq(back.last, SF_SCHED_NONE);
    json_decref(j);
    char *when = sf_schedule_when(MON26_1900, "Europe/Berlin");
    ck_assert_str_eq(when, "2026-10-26 20:00 CET (19:00 UTC)");
    free(when);
    when = sf_schedule_when(FRI23_1800, "Europe/Berlin");
    ck_assert_str_eq(when, "2026-10-23 20:00 CEST (18:00 UTC)");
    free(when);
}
END_TEST

static const char *stack_head =
    "apiVersion: sparkform/v1\n"
    "kind: Stack\n"
    "metadata: {name: t}\n"
    "resources:\n"
    "  - type: cloud_k8s_cluster\n"
    "    name: k8s\n"
    "    with: {name: k, version: \"1.31\", network_id: n, subnet_id: s, master_flavor: f}\n"
    "  - {type: cloud_network, name: net, with: {name: n}}\n";

/* Loads the stack with the schedules: text appended; the schedule or NULL. */
static struct sf_schedule *load(const char *block, struct sf_config **cfg)
{
    char *text = sf_asprintf("%s%s", stack_head, block);
    struct sf_schedule *s = NULL;
    ck_assert_int_eq(sf_config_load_text("s.yaml", text, cfg, &diags), 0);
    sf_schedule_load(*cfg, &s, &diags);
    free(text);
    return s;
}

static void expect_error(const char *block, const char *want)
{
    struct sf_config *cfg = NULL;
    sf_diags_free(&diags);
    sf_diags_init(&diags);
    struct sf_schedule *s = load(block, &cfg);
    ck_assert_ptr_null(s);
    char *all = NULL;
    for (size_t i = 0; i < diags.n; i++) {
        char *line = sf_asprintf("%s%s:%d:%d: %s\n", all ? all : "", diags.items[i].file ? diags.items[i].file : "",
                                 diags.items[i].line, diags.items[i].col, diags.items[i].summary);
        free(all);
        all = line;
    }
    ck_assert_msg(all && strstr(all, want), "want \"%s\", got:\n%s", want, all ? all : "(nothing)");
    free(all);
    sf_config_free(cfg);
}

START_TEST(test_block)
{
    struct sf_config *cfg = NULL;
    struct sf_schedule *s = load("schedules:\n"
                                 "  hibernate: {cron: \"0 20 * * 1-5\", timezone: Europe/Berlin}\n"
                                 "  wake: {cron: \"@daily\"}\n"
                                 "  delete_after: 14d\n"
                                 "  resources: [cloud_k8s_cluster.k8s]\n",
                                 &cfg);
    ck_assert_msg(s != NULL, "%s", diags.n ? diags.items[0].summary : "?");
    ck_assert_str_eq(s->wake_zone, "UTC");
    ck_assert_int_eq(s->delete_after, 14 * 86400);
    ck_assert_int_eq(s->n_resources, 1);
    ck_assert(sf_schedule_owns(s, "cloud_k8s_cluster.k8s"));
    ck_assert(!sf_schedule_owns(s, "cloud_network.net"));
    sf_schedule_free(s);
    sf_config_free(cfg);

    /* Line 10 is the hibernate line; its expression starts at column 22. */
    expect_error("schedules:\n"
                 "  hibernate: {cron: \"0 25 * * 1-5\", timezone: Europe/Berlin}\n"
                 "  wake: {cron: \"0 8 * * *\", timezone: Europe/Berlin}\n"
                 "  resources: [cloud_k8s_cluster.k8s]\n",
                 "s.yaml:10:24: schedules.hibernate.cron: hour");
    expect_error("schedules:\n"
                 "  hibernate: {cron: \"0 20 * * *\", timezone: Europe/Nowhere}\n"
                 "  wake: {cron: \"0 8 * * *\", timezone: Europe/Berlin}\n"
                 "  resources: [cloud_k8s_cluster.k8s]\n",
                 "s.yaml:10:45: schedules.hibernate.timezone: unknown time zone \"Europe/Nowhere\"");
    expect_error("schedules:\n"
                 "  wake: {cron: \"0 8 * * *\"}\n"
                 "  resources: [cloud_k8s_cluster.k8s]\n",
                 "schedules: wake needs a hibernate too");
    expect_error("schedules:\n"
                 "  delete_after: 14d\n"
                 "  expires_at: \"2026-11-01T00:00:00Z\"\n",
                 "s.yaml:11:15: schedules: delete_after and expires_at both");
    expect_error("schedules:\n"
                 "  expires_at: \"2026-11-31T00:00:00Z\"\n",
                 "s.yaml:10:16: schedules.expires_at: \"2026-11-31T00:00:00Z\" is not an RFC 3339 time");
    expect_error("schedules:\n"
                 "  hibernate: {cron: \"0 20 * * *\"}\n"
                 "  wake: {cron: \"0 8 * * *\"}\n"
                 "  resources: [cloud_network.net]\n",
                 "s.yaml:12:15: schedules.resources: cloud_network.net (cloud_network) has no power state");
    expect_error("schedules:\n"
                 "  hibernate: {cron: \"0 20 * * *\"}\n"
                 "  wake: {cron: \"0 8 * * *\"}\n",
                 "schedules: hibernate and wake need resources");
    expect_error("schedules:\n"
                 "  hibernate: {cron: \"0 20 * * *\", zone: UTC}\n"
                 "  wake: {cron: \"0 8 * * *\"}\n"
                 "  resources: [cloud_k8s_cluster.k8s]\n",
                 "s.yaml:10:35: schedules.hibernate: unknown key \"zone\"");
}
END_TEST

START_TEST(test_spark_service)
{
    /* The SparkService's module fills the block from spec.schedules. */
    const char *text = "apiVersion: sparkform/v1\n"
                       "kind: SparkService\n"
                       "metadata: {name: t}\n"
                       "spec:\n"
                       "  cluster: {version: \"1.31\"}\n"
                       "  registry: {password: pw}\n"
                       "  storage: {bucket: t-bucket}\n"
                       "  schedules:\n"
                       "    hibernate: {cron: \"0 20 * * 1-5\", timezone: Europe/Moscow}\n"
                       "    wake: {cron: \"0 8 * * 1-5\", timezone: Europe/Moscow}\n"
                       "    delete_after: 36h\n"
                       "    stop_registry: %s\n";
    for (int stop = 0; stop < 2; stop++) {
        char *t = sf_asprintf(text, stop ? "true" : "false");
        struct sf_config *cfg = NULL;
        struct sf_schedule *s = NULL;
        ck_assert_int_eq(sf_config_load_text("svc.yaml", t, &cfg, &diags), 0);
        ck_assert_int_eq(sf_config_bind_vars(cfg, NULL, 0, NULL, 0, &diags), 0);
        ck_assert_int_eq(sf_schedule_load(cfg, &s, &diags), 0);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s->hibernate_zone, "Europe/Moscow");
        ck_assert_int_eq(s->delete_after, 36 * 3600);
        ck_assert(sf_schedule_owns(s, "cloud_k8s_cluster.cluster"));
        ck_assert_int_eq(sf_schedule_owns(s, "cloud_server.registry"), stop == 1);
        ck_assert_int_eq(s->n_resources, (size_t)(1 + stop));
        sf_schedule_free(s);
        sf_config_free(cfg);
        free(t);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("schedule");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_windows_across_fall_back);
    tcase_add_test(tc, test_by_hand);
    tcase_add_test(tc, test_spring_forward);
    tcase_add_test(tc, test_expiry);
    tcase_add_test(tc, test_record);
    tcase_add_test(tc, test_block);
    tcase_add_test(tc, test_spark_service);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
