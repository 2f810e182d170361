// The command line shared by every kdtune command: GNU long options through getopt_long, the
// options all commands take (-c, -o, --set, -q, -v, -h), `key.path=value` overrides, and the
// config they resolve to.
#pragma once
#include <getopt.h>
#include <stdbool.h>

#include "app/config.h"

enum { CLI_MAX_OVERRIDES = 256, CLI_MAX_ARGS = 64 };

typedef struct {
    const char *config_path;                   // -c FILE (NULL: the embedded default)
    const char *output_dir;                    // -o DIR (NULL: output.dir of the config)
    const char *overrides[CLI_MAX_OVERRIDES];  // --set and key=value, in command-line order
    int n_overrides;
    const char *opt[128];                      // a command's own options by their `val`; flags "1"
    const char *args[CLI_MAX_ARGS];            // other positional arguments
    int n_args;
} cli_args;

typedef struct {
    const char *name;
    const char *summary;               // one line for `kdtune --help`
    const char *usage;                 // "[-c FILE] [key=value ...]"
    const char *help;                  // the command's own options and what it does
    const struct option *options;      // its own options, {0}-terminated; may be NULL
    const char *shortopts;             // short letters among them, getopt style ("C" or "n:")
    int max_args;                      // positional arguments it accepts (not key=value)
    int (*run)(const cli_args *args);  // returns the exit code
} cli_command;

// Parses argv (argv[0] is the command name). Returns -1 to go on, or an exit code to return now
// (0 after --help, 2 after a usage error, which it reports).
int cli_parse(const cli_command *cmd, int argc, char **argv, cli_args *out);

// The embedded default, then the -c file, then the overrides; then config_check. -o wins over
// output.dir. Reports errors itself and returns the status.
kdt_status cli_load_config(const cli_args *args, kdt_config *cfg);

// Whether an override (--set or key=value) sets `key`.
bool cli_overrides_key(const cli_args *args, const char *key);

// Prints the command's help to stdout.
void cli_print_help(const cli_command *cmd);
