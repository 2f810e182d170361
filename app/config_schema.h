// The declaration of every configuration key: path, type, where it lives in kdt_config, its
// default (as YAML text), its range or choices, and one line of documentation.
#pragma once
#include <stddef.h>

typedef enum {
    CFG_INT, CFG_FLOAT, CFG_BOOL, CFG_STRING, CFG_ENUM, CFG_INT_LIST, CFG_FLOAT_LIST, CFG_ENUM_LIST
} cfg_type;

typedef struct {
    const char *path;    // "kd.temperature"
    cfg_type type;
    size_t offset;       // into kdt_config
    const char *def;     // default, parsed like any override: "1.0", "[1, 2, 4]", "cnn"
    double min, max;     // numbers: the value's range (each element's, for lists)
    int min_len, max_len; // lists: allowed lengths
    const char *(*choice)(int value); // enums: the owning module's name of a value (NULL: not
                                      // allowed here), for values in [0, n_choices)
    int n_choices;
    const char *doc;     // one line for the commented YAML
} cfg_key;

extern const cfg_key config_schema[];
extern const size_t config_schema_len;

// Section headers for the commented YAML, keyed by the top-level name.
const char *config_section_doc(const char *section);
