// large.c: a doubly linked list of in-use large spans under one mutex.
#include "alloc/large.h"

#include <pthread.h>

#include "alloc/central.h"

static pthread_mutex_t large_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct span_list large_spans;

void large_lock(void) { pthread_mutex_lock(&large_mutex); }
void large_unlock(void) { pthread_mutex_unlock(&large_mutex); }
void large_after_fork_child(void) { pthread_mutex_init(&large_mutex, NULL); }
struct span *large_first(void) { return large_spans.head; }

void large_add(struct span *s) {
  pthread_mutex_lock(&large_mutex);
  span_list_push(&large_spans, s);
  pthread_mutex_unlock(&large_mutex);
}

void large_remove(struct span *s) { span_list_remove(&large_spans, s); }
