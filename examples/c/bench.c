/*
 * Batch checks through the C ABI, timed: the C half of `cargo bench -p cisgate-ffi`.
 *   bench INDEX_DIR CODES_FILE KIS_FILE BATCH
 * Prints "check_batch <codes per second>" and "contains_ki_batch <КИ per second>", the
 * best of three passes over every line of each file.
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
  cisgate_close(index);
  cisgate_error_free(err);
  return 0;
}
