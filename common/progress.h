// A one-line progress bar with rate and ETA on stderr, drawn only when stderr is a terminal and
// the log level is info or more; otherwise every call is a no-op.
#pragma once
#include <stddef.h>

typedef struct progress progress;

progress *progress_create(const char *label, size_t total);
void progress_update(progress *p, size_t done);   // redraws at most ~10 times a second
void progress_finish(progress *p);                // draws the final state, ends the line, frees
