/*
 * Batch checks through the C ABI, timed: the C half of `cargo bench -p cisgate-ffi`.
 *   bench INDEX_DIR CODES_FILE KIS_FILE BATCH [BANNED_FILE]
 * Prints "check_batch <codes per second>" and "contains_ki_batch <КИ per second>", the
 * best of three passes over every line of each file. With BANNED_FILE (the banned КИ, one
 * a line) it also measures what a C integrator writes instead of the library: a
 * linear-probing hash set of the banned КИ ("hash_set <КИ per second>" over KIS_FILE),
 * beside `cisgate_check_batch` on the same bare КИ ("check_batch_ki").
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cisgate.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* Reads a file of lines into `*lines` (pointers into one buffer). */
static size_t read_lines(const char *path, cisgate_bytes **lines) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc(size + 1);
  if (fread(buf, 1, size, f) != (size_t)size) { perror("read"); exit(2); }
  fclose(f);
  size_t n = 0, cap = 1024;
  *lines = malloc(cap * sizeof **lines);
  char *p = buf, *end = buf + size;
  while (p < end) {
    char *nl = memchr(p, '\n', end - p);
    if (!nl) nl = end;
    if (n == cap) { cap *= 2; *lines = realloc(*lines, cap * sizeof **lines); }
    (*lines)[n].ptr = (const uint8_t *)p;
    (*lines)[n].len = nl - p;
    n++;
    p = nl + 1;
  }
  return n;
}

/* The hand-written baseline: open addressing, linear probing, FNV-1a, a power-of-two
 * table at most half full. A slot keeps the key's hash beside its index into the banned
 * lines (index 0: empty), so that a probe reads a key only when the hashes match. */
typedef struct {
  uint64_t hash;
  uint64_t index;
} slot;

typedef struct {
  const cisgate_bytes *keys;
  slot *slots;
  size_t mask;
} hash_set;

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
  return h;
}

static hash_set hash_set_build(const cisgate_bytes *keys, size_t n) {
  hash_set set = { keys, NULL, 0 };
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  set.slots = calloc(cap, sizeof *set.slots);
  set.mask = cap - 1;
  for (size_t i = 0; i < n; i++) {
    uint64_t h = fnv1a(keys[i].ptr, keys[i].len);
    size_t at = h & set.mask;
    while (set.slots[at].index) at = (at + 1) & set.mask;
    set.slots[at].hash = h;
    set.slots[at].index = i + 1;
  }
  return set;
}

static int hash_set_contains(const hash_set *set, const uint8_t *p, size_t n) {
  uint64_t h = fnv1a(p, n);
  for (size_t at = h & set->mask; set->slots[at].index; at = (at + 1) & set->mask) {
    if (set->slots[at].hash != h) continue;
    const cisgate_bytes *k = &set->keys[set->slots[at].index - 1];
    if (k->len == n && memcmp(k->ptr, p, n) == 0) return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: bench INDEX CODES KIS BATCH\n"); return 2; }
  size_t batch = strtoul(argv[4], NULL, 10);
  cisgate_error *err = cisgate_error_new();
  cisgate_index *index = NULL;
  cisgate_options options = cisgate_options_default();
  options.max_age_hours = 0;
  if (cisgate_open((const uint8_t *)argv[1], strlen(argv[1]), &options, &index, err) != CISGATE_OK) {
    fprintf(stderr, "open: %s\n", cisgate_error_message(err));
    return 1;
  }
  cisgate_bytes *codes, *kis;
  size_t n = read_lines(argv[2], &codes), m = read_lines(argv[3], &kis);
  cisgate_verdict *verdicts = malloc(batch * sizeof *verdicts);
  uint8_t *found = malloc(batch);
  double best = 1e9;
  size_t blocked = 0;
  for (int round = 0; round < 3; round++) {
    double t = now();
    blocked = 0;
    for (size_t at = 0; at < n; at += batch) {
      size_t count = n - at < batch ? n - at : batch;
      if (cisgate_check_batch(index, codes + at, count, -1, verdicts, err) != CISGATE_OK) {
        fprintf(stderr, "check_batch: %s\n", cisgate_error_message(err));
        return 1;
      }
      for (size_t i = 0; i < count; i++) blocked += verdicts[i].status == CISGATE_STATUS_BLOCKED;
    }
    double took = now() - t;
    if (took < best) best = took;
  }
  printf("check_batch %.0f (%zu blocked of %zu)\n", n / best, blocked, n);
  best = 1e9;
  size_t hits = 0;
  for (int round = 0; round < 3; round++) {
    double t = now();
    hits = 0;
    for (size_t at = 0; at < m; at += batch) {
      size_t count = m - at < batch ? m - at : batch;
      if (cisgate_contains_ki_batch(index, kis + at, count, found, err) != CISGATE_OK) {
        fprintf(stderr, "contains_ki_batch: %s\n", cisgate_error_message(err));
        return 1;
      }
      for (size_t i = 0; i < count; i++) hits += found[i];
    }
    double took = now() - t;
    if (took < best) best = took;
  }
  printf("contains_ki_batch %.0f (%zu found of %zu)\n", m / best, hits, m);
  if (argc > 5) {
    cisgate_bytes *banned;
    size_t b = read_lines(argv[5], &banned);
    hash_set set = hash_set_build(banned, b);
    best = 1e9;
    for (int round = 0; round < 3; round++) {
      double t = now();
      hits = 0;
      for (size_t i = 0; i < m; i++) hits += hash_set_contains(&set, kis[i].ptr, kis[i].len);
      double took = now() - t;
      if (took < best) best = took;
    }
    printf("hash_set %.0f (%zu found of %zu)\n", m / best, hits, m);
    best = 1e9;
    for (int round = 0; round < 3; round++) {
      double t = now();
      blocked = 0;
      for (size_t at = 0; at < m; at += batch) {
        size_t count = m - at < batch ? m - at : batch;
        if (cisgate_check_batch(index, kis + at, count, -1, verdicts, err) != CISGATE_OK) {
          fprintf(stderr, "check_batch: %s\n", cisgate_error_message(err));
          return 1;
        }
        for (size_t i = 0; i < count; i++) blocked += verdicts[i].status == CISGATE_STATUS_BLOCKED;
      }
      double took = now() - t;
      if (took < best) best = took;
    }
    printf("check_batch_ki %.0f (%zu blocked of %zu)\n", m / best, blocked, m);
  }
  cisgate_close(index);
  cisgate_error_free(err);
  return 0;
}
