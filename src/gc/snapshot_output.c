// snapshot_output.c: the heap snapshot's buffered writer (snapshot_output.h).
//
// One 1 MiB buffer, flushed with write(2) (retried on EINTR and short writes). After the first
// failed write every later call does nothing, and snapshot_output_end reports that errno: the
// walk that produces the output never has to check.
#include "gc/snapshot_output.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "os/os_memory.h"

#define SNAPSHOT_OUTPUT_BUFFER ((size_t)1 << 20)

int snapshot_output_begin(struct snapshot_output *o, int fd) {
  o->fd = fd;
  o->used = 0;
  o->error = 0;
  o->written = 0;
  o->buffer = os_map(SNAPSHOT_OUTPUT_BUFFER);
  return o->buffer ? 0 : ENOMEM;
}

static void flush(struct snapshot_output *o) {
  size_t done = 0;
  while (done < o->used && o->error == 0) {
    ssize_t n = write(o->fd, o->buffer + done, o->used - done);
    if (n > 0)
      done += (size_t)n;
    else if (n < 0 && errno != EINTR)
      o->error = errno;
    else if (n == 0)
      o->error = EIO;
  }
  o->written += done;
  o->used = 0;
}

void snapshot_output_bytes(struct snapshot_output *o, const char *bytes, size_t length) {
  while (length > 0 && o->error == 0) {
    if (o->used == SNAPSHOT_OUTPUT_BUFFER)
      flush(o);
    size_t room = SNAPSHOT_OUTPUT_BUFFER - o->used;
    size_t n = length < room ? length : room;
    memcpy(o->buffer + o->used, bytes, n);
    o->used += n;
    bytes += n;
    length -= n;
  }
}

void snapshot_output_text(struct snapshot_output *o, const char *text) {
  snapshot_output_bytes(o, text, strlen(text));
}

void snapshot_output_char(struct snapshot_output *o, char c) {
  if (o->used == SNAPSHOT_OUTPUT_BUFFER)
    flush(o);
  if (o->error == 0)
    o->buffer[o->used++] = c;
}

void snapshot_output_uint(struct snapshot_output *o, uint64_t value) {
  if (SNAPSHOT_OUTPUT_BUFFER - o->used < 20)
    flush(o);
  if (o->error == 0)
    o->used += format_uint(o->buffer + o->used, value);
}

void snapshot_output_json_string(struct snapshot_output *o, const char *text, size_t length) {
  static const char hex[] = "0123456789abcdef";
  snapshot_output_char(o, '"');
  for (size_t i = 0; i < length; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c == '"' || c == '\\') {
      snapshot_output_char(o, '\\');
      snapshot_output_char(o, (char)c);
    } else if (c < 0x20) {
      char escape[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      snapshot_output_bytes(o, escape, sizeof escape);
    } else {
      snapshot_output_char(o, (char)c); // UTF-8 passes through
    }
  }
  snapshot_output_char(o, '"');
}

int snapshot_output_end(struct snapshot_output *o) {
  flush(o);
  if (o->buffer)
    os_unmap(o->buffer, SNAPSHOT_OUTPUT_BUFFER);
  o->buffer = NULL;
  return o->error;
}
