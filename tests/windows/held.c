/*
 * The Windows half of the FFI tests, run under Wine by tests/windows/wine.sh against the
 * DLL of each target: what Windows does differently from Linux.
 *
 *   held.exe INDEX_DIR CISGATE_EXE DELTA ADDED_KI REMOVED_KI
 *
 * - arguments arrive as UTF-16 (wmain) and go to cisgate_open as UTF-8, as an integrator
 *   must do for a folder under a Cyrillic user name (the ANSI argv cannot hold it);
 * - four threads check one handle in batches while cisgate.exe applies DELTA and then
 *   compacts the index this process holds open (Windows refuses to delete or replace a
 *   file any process maps: both must still succeed); every batch answers from one
 *   generation, the old one or the new one, never a mix;
 * - a refresh moves the handle to each new generation: ADDED_KI (added by DELTA) turns
 *   blocked, REMOVED_KI (removed by it) allowed;
 * - a sale and a return, and hostile calls: nulls, absurd lengths, bad UTF-8.
 * Exits 0 when every answer is the expected one.
 */
#include <process.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>

#include "cisgate.h"

static volatile LONG failures = 0;

#define EXPECT(cond, ...)                                       \
  do {                                                          \
    if (!(cond)) {                                              \
      fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__);    \
      fprintf(stderr, __VA_ARGS__);                             \
      fprintf(stderr, "\n");                                    \
      InterlockedIncrement(&failures);                          \
    }                                                           \
  } while (0)

static const uint8_t *u8(const char *s) { return (const uint8_t *)s; }

/* UTF-16 to a malloc'ed UTF-8 string. */
static char *utf8(const wchar_t *w) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
  char *s = malloc(n);
  WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
  return s;
}

/* Runs `"exe" verb --index "dir" [extra]` and returns its exit code. Quotes every path:
 * a folder name with a space must reach the child as one argument. */
static DWORD run(const wchar_t *exe, const wchar_t *verb, const wchar_t *dir,
                 const wchar_t *extra) {
  wchar_t line[4096];
  swprintf(line, 4096, L"\"%ls\" %ls --index \"%ls\"%ls%ls%ls", exe, verb, dir,
           extra ? L" \"" : L"", extra ? extra : L"", extra ? L"\"" : L"");
  STARTUPINFOW si = {sizeof si};
  PROCESS_INFORMATION pi;
  if (!CreateProcessW(exe, line, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
    fprintf(stderr, "CreateProcess failed: %lu\n", GetLastError());
    return 999;
  }
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = 999;
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  return code;
}

typedef struct {
  const cisgate_index *index;
  const char *added, *removed;
  volatile LONG *stop;
  long batches, old_answers, new_answers;
} worker;

static unsigned __stdcall check_loop(void *arg) {
  worker *w = arg;
  cisgate_error *err = cisgate_error_new();
  cisgate_bytes batch[3] = {{u8(w->added), strlen(w->added)},
                            {u8(w->removed), strlen(w->removed)},
                            {u8("garbage"), 7}};
  cisgate_verdict out[3];
  while (!*w->stop) {
    int32_t rc = cisgate_check_batch(w->index, batch, 3, -1, out, err);
    EXPECT(rc == CISGATE_OK, "batch: %s", cisgate_error_message(err));
    int old_gen = out[0].status == CISGATE_STATUS_ALLOWED &&
                  out[1].status == CISGATE_STATUS_BLOCKED;
    int new_gen = out[0].status == CISGATE_STATUS_BLOCKED &&
                  out[1].status == CISGATE_STATUS_ALLOWED;
    EXPECT(old_gen || new_gen, "a batch mixed generations: %d %d", out[0].status,
           out[1].status);
    EXPECT(out[2].status == CISGATE_STATUS_INVALID, "garbage: %d", out[2].status);
    w->batches++;
    w->old_answers += old_gen;
    w->new_answers += new_gen;
  }
  cisgate_error_free(err);
  return 0;
}

static uint64_t generation(const cisgate_index *index, cisgate_error *err) {
  cisgate_info info;
  int32_t rc = cisgate_get_info(index, &info, err);
  EXPECT(rc == CISGATE_OK, "info: %s", cisgate_error_message(err));
  return info.generation;
}

static void hostile(cisgate_index *index, cisgate_error *err) {
  cisgate_verdict v;
  const char *code = "0104600439931256215abcdEFGH1234";
  EXPECT(cisgate_check(NULL, NULL, 0, -1, &v, err) == CISGATE_ERR_ARGUMENT, "null index");
  EXPECT(cisgate_check(NULL, NULL, 0, -1, &v, NULL) == CISGATE_ERR_ARGUMENT,
         "no error object");
  EXPECT(cisgate_check(index, NULL, 31, -1, &v, err) == CISGATE_ERR_ARGUMENT, "null code");
  EXPECT(cisgate_check(index, u8(code), SIZE_MAX, -1, &v, err) == CISGATE_ERR_ARGUMENT,
         "absurd length");
  EXPECT(strstr(cisgate_error_message(err), "at most") != NULL, "message: %s",
         cisgate_error_message(err));
  EXPECT(cisgate_check(index, u8(code), 31, -1, NULL, err) == CISGATE_ERR_ARGUMENT,
         "null output");
  EXPECT(cisgate_check(index, u8(code), 31, -2, &v, err) == CISGATE_ERR_ARGUMENT,
         "price below -1");
  EXPECT(cisgate_check_batch(index, NULL, SIZE_MAX, -1, &v, err) == CISGATE_ERR_ARGUMENT,
         "absurd batch");
  EXPECT(cisgate_check_batch(index, NULL, 0, -1, NULL, err) == CISGATE_OK, "empty batch");
  const uint8_t bad[] = {0xff, 0xfe, 0x30};
  EXPECT(cisgate_check(index, bad, 3, -1, &v, err) == CISGATE_OK &&
             v.status == CISGATE_STATUS_INVALID,
         "bad UTF-8 in a check is an invalid code");
  EXPECT(cisgate_sell(index, bad, 3, NULL, 0, err) == CISGATE_ERR_ARGUMENT,
         "bad UTF-8 in a sale is a bad argument");
  EXPECT(cisgate_error_code(NULL) == CISGATE_ERR_ARGUMENT, "error code of null");
  EXPECT(strcmp(cisgate_error_message(NULL), "") == 0, "message of null");
  cisgate_index *none = NULL;
  const char *missing = "C:\\нет такой папки\\index";
  EXPECT(cisgate_open(u8(missing), strlen(missing), NULL, &none, err) == CISGATE_ERR_INDEX &&
             none == NULL,
         "missing index");
  EXPECT(strstr(cisgate_error_message(err), "нет такой папки") != NULL,
         "the message names the folder: %s", cisgate_error_message(err));
  cisgate_error_free(NULL);
  cisgate_close(NULL);
}

int wmain(int argc, wchar_t **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: held INDEX_DIR CISGATE_EXE DELTA ADDED_KI REMOVED_KI\n");
    return 2;
  }
  const wchar_t *dir_w = argv[1], *exe = argv[2], *delta = argv[3];
  char *dir = utf8(dir_w), *added = utf8(argv[4]), *removed = utf8(argv[5]);
  cisgate_error *err = cisgate_error_new();
  cisgate_index *index = NULL;
  int32_t rc = cisgate_open(u8(dir), strlen(dir), NULL, &index, err);
  if (rc != CISGATE_OK) {
    fprintf(stderr, "open %s: %s\n", dir, cisgate_error_message(err));
    return 1;
  }
  uint64_t first = generation(index, err);

  volatile LONG stop = 0;
  worker workers[4];
  HANDLE threads[4];
  for (int i = 0; i < 4; i++) {
    workers[i] = (worker){index, added, removed, &stop, 0, 0, 0};
    threads[i] = (HANDLE)_beginthreadex(NULL, 0, check_loop, &workers[i], 0, NULL);
  }
  Sleep(200);

  /* Another process writes while this one maps the index and reads it on four threads. */
  DWORD code = run(exe, L"apply", dir_w, delta);
  EXPECT(code == 0, "cisgate.exe apply while the index is held: exit %lu", code);
  Sleep(100);
  bool changed = false;
  rc = cisgate_refresh(index, &changed, err);
  EXPECT(rc == CISGATE_OK && changed, "refresh after apply: %s", cisgate_error_message(err));
  uint64_t applied = generation(index, err);
  EXPECT(applied > first, "generation %llu after %llu", (unsigned long long)applied,
         (unsigned long long)first);
  Sleep(100);
  code = run(exe, L"compact", dir_w, NULL);
  EXPECT(code == 0, "cisgate.exe compact while the index is held: exit %lu", code);
  rc = cisgate_refresh(index, &changed, err);
  EXPECT(rc == CISGATE_OK && changed, "refresh after compact: %s",
         cisgate_error_message(err));
  Sleep(200);

  stop = 1;
  WaitForMultipleObjects(4, threads, TRUE, INFINITE);
  long batches = 0, old_answers = 0, new_answers = 0;
  for (int i = 0; i < 4; i++) {
    CloseHandle(threads[i]);
    batches += workers[i].batches;
    old_answers += workers[i].old_answers;
    new_answers += workers[i].new_answers;
  }
  EXPECT(old_answers > 0 && new_answers > 0, "answers from both generations: %ld old, %ld new",
         old_answers, new_answers);
  printf("%ld batches on 4 threads: %ld from generation %llu, %ld after the apply\n", batches,
         old_answers, (unsigned long long)first, new_answers);

  /* After the refreshes: the delta's effect, a sale and a return. */
  cisgate_verdict v;
  rc = cisgate_check(index, u8(added), strlen(added), -1, &v, err);
  EXPECT(rc == CISGATE_OK && v.status == CISGATE_STATUS_BLOCKED, "added КИ: %d", v.status);
  rc = cisgate_check(index, u8(removed), strlen(removed), -1, &v, err);
  EXPECT(rc == CISGATE_OK && v.status == CISGATE_STATUS_ALLOWED, "removed КИ: %d", v.status);
  char ki[CISGATE_KI_SIZE];
  rc = cisgate_sell(index, u8(removed), strlen(removed), ki, sizeof ki, err);
  EXPECT(rc == CISGATE_OK, "sell: %s", cisgate_error_message(err));
  rc = cisgate_check(index, u8(removed), strlen(removed), -1, &v, err);
  EXPECT(v.status == CISGATE_STATUS_BLOCKED && (v.reasons & CISGATE_REASON_SOLD), "sold");
  rc = cisgate_sell(index, u8(removed), strlen(removed), NULL, 0, err);
  EXPECT(rc == CISGATE_ERR_ALREADY_SOLD, "second sale: %d", rc);
  rc = cisgate_return(index, u8(removed), strlen(removed), NULL, 0, err);
  EXPECT(rc == CISGATE_OK, "return: %s", cisgate_error_message(err));
  rc = cisgate_check(index, u8(removed), strlen(removed), -1, &v, err);
  EXPECT(v.status == CISGATE_STATUS_ALLOWED, "returned: %d", v.status);

  hostile(index, err);
  cisgate_close(index);
  cisgate_error_free(err);
  free(dir);
  free(added);
  free(removed);
  if (failures) {
    fprintf(stderr, "%ld check(s) failed\n", (long)failures);
    return 1;
  }
  printf("all checks passed\n");
  return 0;
}
