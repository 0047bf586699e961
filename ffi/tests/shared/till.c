/*
 * A till that embeds cisgate through the C ABI and shares its store's sold list: one
 * command a line on stdin, one answer a line on stdout (the same protocol as
 * ffi/examples/till.rs). tests/shared_sold.rs drives it as a real process.
 *
 *   till INDEX_DIR [http://store:5995 TOKEN]
 *   check CODE | sell CODE | return CODE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cisgate.h"

static const uint8_t *u8(const char *s) { return (const uint8_t *)s; }

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s INDEX_DIR [AUTHORITY_URL TOKEN]\n", argv[0]);
    return 2;
  }
  cisgate_error *err = cisgate_error_new();
  cisgate_index *index = NULL;
  cisgate_options options = cisgate_options_default();
  if (argc >= 4) {
    options.sold_authority_url = (cisgate_bytes){u8(argv[2]), strlen(argv[2])};
    options.sold_authority_token = (cisgate_bytes){u8(argv[3]), strlen(argv[3])};
  }
  if (cisgate_open(u8(argv[1]), strlen(argv[1]), &options, &index, err) != CISGATE_OK) {
    fprintf(stderr, "open: %s\n", cisgate_error_message(err));
    return 1;
  }
  char line[8192];
  setvbuf(stdout, NULL, _IOLBF, 0);
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\r\n")] = 0;
    char *code = strchr(line, ' ');
    if (code) *code++ = 0; else code = line + strlen(line);
    if (strcmp(line, "check") == 0) {
      cisgate_verdict v;
      if (cisgate_check(index, u8(code), strlen(code), -1, &v, err) != CISGATE_OK) {
        printf("refused %s\n", cisgate_error_message(err));
      } else if (v.status == CISGATE_STATUS_ALLOWED) {
        printf("allowed\n");
      } else if (v.status == CISGATE_STATUS_BLOCKED) {
        printf("blocked%s%s\n", (v.reasons & CISGATE_REASON_SOLD) ? " sold" : "",
               (v.reasons & CISGATE_REASON_CIS) ? " cis" : "");
      } else {
        printf("invalid\n");
      }
    } else if (strcmp(line, "sell") == 0 || strcmp(line, "return") == 0) {
      char ki[CISGATE_KI_SIZE];
      int32_t mode = -1;
      int32_t op = strcmp(line, "sell") == 0 ? CISGATE_OP_SELL : CISGATE_OP_RETURN;
      if (cisgate_register(index, u8(code), strlen(code), op, ki, sizeof ki, &mode, err) !=
          CISGATE_OK) {
        printf("error %s\n", cisgate_error_message(err));
      } else {
        printf("ok %s %s\n",
               mode == CISGATE_MODE_SHARED ? "shared"
               : mode == CISGATE_MODE_OFFLINE ? "offline"
                                              : "local",
               ki);
      }
    } else if (strcmp(line, "state") == 0) {
      printf("c till\n");
    } else {
      printf("error unknown command %s\n", line);
    }
  }
  cisgate_close(index);
  cisgate_error_free(err);
  return 0;
}
