// Fuzz target: the config. The input is a YAML file, then (after a NUL byte) key=value overrides
// one per line. Whatever is accepted and passes config_check must print as YAML that reads back to
// the same config (the run's config.yaml always reads back).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static kdt_config *def;
    if (!def) { // config_default parses every key's default: once
        def = malloc(sizeof *def);
        config_default(def);
    }
    kdt_config *cfg = malloc(sizeof *cfg), *back = malloc(sizeof *back);
    *cfg = *def;
    const uint8_t *nul = memchr(data, 0, size);
    size_t ylen = nul ? (size_t)(nul - data) : size;
    kdt_status s = config_load_string(cfg, (const char *)data, ylen, "fuzz.yaml");
    if (!s && nul) {
        char *rest = malloc(size - ylen);
        memcpy(rest, nul + 1, size - ylen - 1);
        rest[size - ylen - 1] = '\0';
        for (char *line = strtok(rest, "\n"); line && !s; line = strtok(NULL, "\n")) s = config_set(cfg, line);
        free(rest);
    }
    if (!s) s = config_check(cfg);
    if (!s) {
        char *yaml = config_to_yaml(cfg, false);
        *back = *def;
        if (config_load_string(back, yaml, strlen(yaml), "config.yaml") != KDT_OK) abort();
        char *again = config_to_yaml(back, false);
        if (strcmp(yaml, again) != 0) abort(); // the round trip changed the config
        free(again);
        free(yaml);
    }
    free(cfg);
    free(back);
    return 0;
}
