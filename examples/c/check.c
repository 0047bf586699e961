/*
 * cisgate from C: open an index, check codes one by one and in a batch, sell and return,
 * and meet the errors a till must handle.
 *
 *   cc -I ffi/include examples/c/check.c -L target/release -lcisgate_ffi -o check
 *   ./check target/demo-index
 *
 * Exits 0 when every answer is the expected one (the index is built from data/sample).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cisgate.h"

static int failures = 0;

#define EXPECT(cond, ...)                                 \
  do {                                                    \
    if (!(cond)) {                                        \
      fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                       \
      fprintf(stderr, "\n");                              \
      failures++;                                         \
    }                                                     \
  } while (0)

static const uint8_t *u8(const char *s) { return (const uint8_t *)s; }

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s INDEX_DIR\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  EXPECT(cisgate_abi_version() == CISGATE_ABI_VERSION, "ABI %u", cisgate_abi_version());
  printf("cisgate %s, ABI %u\n", cisgate_version(), cisgate_abi_version());

  cisgate_error *err = cisgate_error_new();
  cisgate_index *index = NULL;

  /* The sample data is days old: with the default 72-hour rule a check is refused. */
  int32_t rc = cisgate_open(u8(dir), strlen(dir), NULL, &index, err);
  EXPECT(rc == CISGATE_OK, "open: %s", cisgate_error_message(err));
  cisgate_verdict v;
  const char *blocked = "0104600439931256215abcdEFGH1234\x1d" "93dGVz";
  rc = cisgate_check(index, u8(blocked), strlen(blocked), -1, &v, err);
  EXPECT(rc == CISGATE_ERR_STALE && v.status == CISGATE_STATUS_REFUSED,
         "stale data must be refused, got %d", rc);
  printf("stale data: %s\n", cisgate_error_message(err));
  cisgate_close(index);

  /* Freshness off for the rest (an operator's decision for old data). */
  cisgate_options options = cisgate_options_default();
  options.max_age_hours = 0;
  rc = cisgate_open(u8(dir), strlen(dir), &options, &index, err);
  EXPECT(rc == CISGATE_OK, "open: %s", cisgate_error_message(err));

  cisgate_info info;
  rc = cisgate_get_info(index, &info, err);
  EXPECT(rc == CISGATE_OK && info.blocked_cis > 0, "info");
  printf("index %s: generation %llu, %llu banned КИ\n", info.version,
         (unsigned long long)info.generation, (unsigned long long)info.blocked_cis);

  /* One by one: a banned code (full КМ with its crypto tail), an allowed one, garbage. */
  rc = cisgate_check(index, u8(blocked), strlen(blocked), -1, &v, err);
  EXPECT(rc == CISGATE_OK && v.status == CISGATE_STATUS_BLOCKED &&
             (v.reasons & CISGATE_REASON_CIS) &&
             strcmp(v.ki, "0104600439931256215abcdEFGH1234") == 0,
         "blocked: rc %d status %d ki %s", rc, v.status, v.ki);
  const char *allowed = "0104600439931256215zzzzzzzzzzzz";
  rc = cisgate_check(index, u8(allowed), strlen(allowed), -1, &v, err);
  EXPECT(rc == CISGATE_OK && v.status == CISGATE_STATUS_ALLOWED && v.reasons == 0,
         "allowed: status %d", v.status);
  /* A tobacco pack carries its max retail price: 146.30 RUB; selling at 150 is refused. */
  const char *pack = "04647297654361!%C5UGbACW.abcd";
  rc = cisgate_check(index, u8(pack), strlen(pack), 15000, &v, err);
  EXPECT(rc == CISGATE_OK && v.max_retail_price_kopecks == 14630 &&
             (v.reasons & CISGATE_REASON_ABOVE_MAX_PRICE),
         "pack: mrp %lld reasons %u", (long long)v.max_retail_price_kopecks, v.reasons);
  rc = cisgate_check(index, u8("garbage"), 7, -1, &v, err);
  EXPECT(rc == CISGATE_OK && v.status == CISGATE_STATUS_INVALID, "garbage: %d", v.status);

  /* A batch into caller-owned arrays. */
  const char *codes[] = {blocked, allowed, "garbage", pack};
  cisgate_bytes batch[4];
  for (int i = 0; i < 4; i++) {
    batch[i].ptr = u8(codes[i]);
    batch[i].len = strlen(codes[i]);
  }
  cisgate_verdict out[4];
  rc = cisgate_check_batch(index, batch, 4, -1, out, err);
  EXPECT(rc == CISGATE_OK, "batch: %s", cisgate_error_message(err));
  EXPECT(out[0].status == CISGATE_STATUS_BLOCKED && out[1].status == CISGATE_STATUS_ALLOWED &&
             out[2].status == CISGATE_STATUS_INVALID && out[3].status == CISGATE_STATUS_BLOCKED,
         "batch statuses %d %d %d %d", out[0].status, out[1].status, out[2].status,
         out[3].status);
  uint8_t found[2];
  cisgate_bytes kis[2] = {{u8("0104600439931256215abcdEFGH1234"), 31}, {u8(allowed), 31}};
  rc = cisgate_contains_ki_batch(index, kis, 2, found, err);
  EXPECT(rc == CISGATE_OK && found[0] == 1 && found[1] == 0, "contains_ki_batch");

  /* A sale, durable before it returns; the second one is refused; then the return. */
  char ki[CISGATE_KI_SIZE];
  rc = cisgate_sell(index, u8(allowed), strlen(allowed), ki, sizeof ki, err);
  EXPECT(rc == CISGATE_OK && strcmp(ki, allowed) == 0, "sell: %s", cisgate_error_message(err));
  rc = cisgate_check(index, u8(allowed), strlen(allowed), -1, &v, err);
  EXPECT(v.status == CISGATE_STATUS_BLOCKED && (v.reasons & CISGATE_REASON_SOLD), "sold");
  rc = cisgate_sell(index, u8(allowed), strlen(allowed), NULL, 0, err);
  EXPECT(rc == CISGATE_ERR_ALREADY_SOLD, "second sale: %d", rc);
  printf("second sale: %s\n", cisgate_error_message(err));
  rc = cisgate_return(index, u8(allowed), strlen(allowed), NULL, 0, err);
  EXPECT(rc == CISGATE_OK, "return: %s", cisgate_error_message(err));

  /* Errors a caller can make: clear codes and messages, never a crash. */
  rc = cisgate_check(NULL, u8(allowed), strlen(allowed), -1, &v, err);
  EXPECT(rc == CISGATE_ERR_ARGUMENT, "null index: %d", rc);
  rc = cisgate_check(index, NULL, 5, -1, &v, err);
  EXPECT(rc == CISGATE_ERR_ARGUMENT, "null code: %d", rc);
  rc = cisgate_sell(index, u8("\xff\xfe"), 2, NULL, 0, err);
  EXPECT(rc == CISGATE_ERR_ARGUMENT, "bad UTF-8: %d", rc);
  printf("bad UTF-8: %s\n", cisgate_error_message(err));
  cisgate_index *none = NULL;
  rc = cisgate_open(u8("/nonexistent/index"), 18, NULL, &none, err);
  EXPECT(rc == CISGATE_ERR_INDEX && none == NULL, "missing index: %d", rc);
  printf("missing index: %s\n", cisgate_error_message(err));

  cisgate_close(index);
  cisgate_error_free(err);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("all checks passed\n");
  return 0;
}
