// consumer.c: a program built against an installed Shade, as a user would build it.
#include <shade.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  if (shade_init(NULL) != 0)
    return 1;
  char **words = shade_malloc(1000 * sizeof *words);
  for (int i = 0; i < 1000; i++) {
    words[i] = shade_malloc(32);
    snprintf(words[i], 32, "word %d", i);
  }
  shade_collect();
  for (int i = 0; i < 1000; i++) {
    char expected[32];
    snprintf(expected, sizeof expected, "word %d", i);
    if (strcmp(words[i], expected) != 0)
      return 2;
  }
  struct shade_stats stats;
  shade_get_stats(&stats);
  if (stats.cycles < 1)
    return 3;
  printf("consumer of shade %d.%d.%d: ok\n", SHADE_VERSION_MAJOR, SHADE_VERSION_MINOR,
         SHADE_VERSION_PATCH);
  return 0;
}
