// Helpers shared by the fuzz targets: a private scratch folder per process, and writing the
// fuzzer's bytes to a named file in it (the loaders read files, not memory).
#pragma once
#include <stddef.h>
#include <stdint.h>

// The process's scratch folder (created once, removed at exit).
const char *fuzz_dir(void);

// Writes data to fuzz_dir()/name and returns the path (a static buffer per call site is the
// caller's: out, capacity cap).
void fuzz_write(char *out, size_t cap, const char *name, const uint8_t *data, size_t len);

// Removes fuzz_dir()/name if present.
void fuzz_remove(const char *name);
