// recommended.yaml: the KD setting kdtune recommends for every pair, with the gains behind it,
// written for people and for other tools (it reads back with PyYAML), and read back by
// `kdtune eval --recommended FILE --pair I,J`.
#pragma once
#include <yaml.h>

#include "app/config.h"
#include "app/summary.h"

// Writes the recommendations of a summary: per pair the setting with the best validation gain
// among the strategies' recommendations (the grid and the default included), naming its strategy.
kdt_status recommend_write(const summary *s, const kdt_config *cfg, const char *path);

// The recommended setting of pair {i, j} in a recommended.yaml.
typedef struct {
    double temperature, alpha;
    int transfer_set, position;  // cfg_transfer, cfg_position
    int student, teacher;
} recommend_setting;

kdt_status recommend_read(const char *path, int i, int j, recommend_setting *out);

// Reads a recommended.yaml (bounded, nesting checked) into doc, and its `pairs` list; the caller
// deletes doc. A file that is not one is a KDT_ERR_FORMAT naming it.
kdt_status recommend_load(const char *path, yaml_document_t *doc, yaml_node_t **pairs);

// A short hash of the resolved config (FNV-1a 64 of its YAML), to tie files to the config.
void recommend_config_hash(const kdt_config *cfg, char out[17]);
