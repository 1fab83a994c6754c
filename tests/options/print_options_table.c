// print_options_table.c (options_readme): README.md's environment table is generated from the
// option table (src/base/options_table.h); this program prints it, checks README.md against it,
// or rewrites README.md's section.
//
//   options_print_table                     print the generated section
//   options_print_table --check README.md   exit 1, with the differing lines, if README.md differs
//   options_print_table --update README.md  replace README.md's section with the generated one
//
// The section lies between the lines BEGIN_MARK and END_MARK below.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/options.h"

#define BEGIN_MARK "<!-- options table: generated from src/base/options_table.h; " \
                   "update with build/tests/options/options_print_table --update README.md -->"
#define END_MARK "<!-- end options table -->"

static char *generated(void) {
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  if (out == NULL)
    exit(2);
  options_print_markdown(out);
  fclose(out);
  return text;
}

static char *read_all(const char *path) {
  FILE *in = fopen(path, "r");
  if (in == NULL) {
    perror(path);
    exit(2);
  }
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, in)) > 0)
    fwrite(buffer, 1, n, out);
  fclose(in);
  fclose(out);
  return text;
}

// The section of text between the marks (their lines excluded): [*start, *end).
static int find_section(const char *path, const char *text, const char **start, const char **end) {
  const char *begin = strstr(text, BEGIN_MARK);
  const char *finish = begin ? strstr(begin, END_MARK) : NULL;
  if (begin == NULL || finish == NULL) {
    fprintf(stderr, "%s: no section between\n  %s\nand\n  %s\n", path, BEGIN_MARK, END_MARK);
    return 0;
  }
  *start = strchr(begin, '\n') + 1;
  *end = finish;
  return 1;
}

// Prints the first differing lines, as `diff` would, and returns 1 if the texts differ.
static int report_differences(const char *path, const char *have, size_t have_length,
                              const char *want) {
  size_t want_length = strlen(want);
  if (have_length == want_length && memcmp(have, want, want_length) == 0)
    return 0;
  fprintf(stderr, "%s: the environment table differs from the one src/base/options_table.h "
                  "generates (- README, + generated):\n", path);
  const char *a = have, *a_end = have + have_length, *b = want, *b_end = want + want_length;
  int shown = 0;
  for (int line = 1; (a < a_end || b < b_end) && shown < 20; line++) {
    const char *a_next = a < a_end ? memchr(a, '\n', (size_t)(a_end - a)) : NULL;
    const char *b_next = b < b_end ? memchr(b, '\n', (size_t)(b_end - b)) : NULL;
    size_t a_len = a < a_end ? (size_t)((a_next ? a_next : a_end) - a) : 0;
    size_t b_len = b < b_end ? (size_t)((b_next ? b_next : b_end) - b) : 0;
    if (a_len != b_len || memcmp(a, b, a_len) != 0 || (a < a_end) != (b < b_end)) {
      fprintf(stderr, "@@ line %d of the table\n", line);
      if (a < a_end)
        fprintf(stderr, "-%.*s\n", (int)a_len, a);
      if (b < b_end)
        fprintf(stderr, "+%.*s\n", (int)b_len, b);
      shown++;
    }
    a = a < a_end ? a + a_len + 1 : a;
    b = b < b_end ? b + b_len + 1 : b;
  }
  fprintf(stderr, "Update README.md with: build/tests/options/options_print_table --update "
                  "README.md\n");
  return 1;
}

int main(int argc, char **argv) {
  char *want = generated();
  if (argc == 1) {
    fputs(want, stdout);
    return 0;
  }
  if (argc != 3 || (strcmp(argv[1], "--check") != 0 && strcmp(argv[1], "--update") != 0)) {
    fprintf(stderr, "usage: %s [--check README.md | --update README.md]\n", argv[0]);
    return 2;
  }
  char *text = read_all(argv[2]);
  const char *start, *end;
  if (!find_section(argv[2], text, &start, &end))
    return 1;
  if (strcmp(argv[1], "--check") == 0) {
    int differ = report_differences(argv[2], start, (size_t)(end - start), want);
    if (!differ)
      fprintf(stderr, "%s: the environment table is the generated one\n", argv[2]);
    return differ;
  }
  FILE *out = fopen(argv[2], "w");
  if (out == NULL) {
    perror(argv[2]);
    return 2;
  }
  fwrite(text, 1, (size_t)(start - text), out);
  fputs(want, out);
  fputs(end, out);
  fclose(out);
  free(text);
  free(want);
  return 0;
}
