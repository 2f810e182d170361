// The store's insides, shared by its files (store.c: the journal; outcomes.c: per-image outcomes).
#pragma once
#include <pthread.h>
#include <stdint.h>

#include "store/store.h"

// Open addressing from a 64-bit hash to an entry index + 1 (0 = empty); entries are compared in
// full by the caller, so colliding hashes are harmless.
typedef struct {
    uint64_t *hash;
    size_t *entry;
    size_t cap, used;
} index_map;

void map_free(index_map *m);
kdt_status map_put(index_map *m, uint64_t h, size_t entry);
// Calls match(user, entry) on every entry of hash h until it returns true; returns that entry or
// SIZE_MAX.
size_t map_find(const index_map *m, uint64_t h, bool (*match)(const void *, size_t), const void *user);
uint64_t store_mix(uint64_t h, uint64_t v);
uint64_t store_dbits(double d);

struct store {
    char journal[4096], outcomes_path[4096];
    uint64_t id;
    int participants;
    const char *const *strategies;
    size_t n_strategies;
    pthread_mutex_t lock;
    store_eval *evals;           // this identity's evaluations, in journal order
    size_t n_evals, cap_evals;
    store_recommendation *recs;
    size_t n_recs, cap_recs;
    index_map by_setting;        // -> evals: the first evaluation of each setting (the cache)
    index_map by_line;           // -> evals: (run, index)
    index_map by_rec;            // -> recs: (run, evaluations)
    size_t foreign;
    bool outcomes_loaded;        // outcomes.bin is read on first use
    uint8_t *outcomes;           // the valid records of outcomes.bin (all identities), in file order
    size_t outcomes_len;
    size_t *outcome_offsets;     // this identity's records
    size_t n_outcome_offsets, cap_outcome_offsets;
    index_map by_outcome;        // -> outcome_offsets
};

// The append-only files: a bounded read of a regular file that is not a link (a missing file reads
// as empty), one durable append, a cut of a torn end.
kdt_status store_file_read(const char *path, size_t max_bytes, char **data, size_t *len);
kdt_status store_file_append(const char *path, const void *data, size_t n);
kdt_status store_file_cut(const char *path, size_t at);

// outcomes.c
kdt_status outcomes_load(store *s);
// Indexes the record at byte `off` of s->outcomes (of this identity).
kdt_status outcomes_index(store *s, size_t off);
