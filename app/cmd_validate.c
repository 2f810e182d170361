// `kdtune validate`: check a config and print it resolved, as YAML that reads back identically.
#include <stdio.h>
#include <stdlib.h>

#include "app/commands.h"

static int run(const cli_args *args) {
    kdt_config *cfg = malloc(sizeof *cfg);
    if (!cfg) return 1;
    kdt_status s = cli_load_config(args, cfg);
    if (!s) {
        char *yaml = config_to_yaml(cfg, args->opt['C'] != NULL);
        fputs(yaml, stdout);
        free(yaml);
    }
    free(cfg);
    return kdt_exit_code(s);
}

static const struct option options[] = {{"commented", no_argument, NULL, 'C'}, {0}};

const cli_command cmd_validate = {
    .name = "validate",
    .summary = "Check a config and print it resolved (defaults filled in, overrides applied).",
    .usage = "[-c FILE] [--commented] [key.path=value ...]",
    .help = "  -C, --commented       document every key (its meaning and range) in the output\n"
            "\nThe output is valid YAML that reads back to the same config; with no -c it is the\n"
            "embedded default (experiments/default.yaml is this output with --commented).\n",
    .options = options,
    .shortopts = "C",
    .run = run,
};
