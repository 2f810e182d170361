// Option parsing common to all commands, and config resolution from the command line.
#include "app/cli.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"

static const char common_help[] =
    "  -c, --config FILE     YAML config (default: the embedded default)\n"
    "  -o, --output DIR      run directory (default: output.dir)\n"
    "      --set KEY=VALUE   override a config key, e.g. --set kd.alpha=0.3 (same as KEY=VALUE)\n"
    "  -q, --quiet           only errors and warnings\n"
    "  -v, --verbose         debug output\n"
    "  -h, --help            this help\n";

void cli_print_help(const cli_command *cmd) {
    printf("Usage: kdtune %s %s\n\n%s\n\n", cmd->name, cmd->usage, cmd->summary);
    if (cmd->help && *cmd->help) printf("%s\n", cmd->help);
    printf("Options for every command:\n%s", common_help);
}

enum { OPT_SET = 1000 };

int cli_parse(const cli_command *cmd, int argc, char **argv, cli_args *out) {
    memset(out, 0, sizeof *out);
    static const struct option common[] = {
        {"config", required_argument, NULL, 'c'}, {"output", required_argument, NULL, 'o'},
        {"set", required_argument, NULL, OPT_SET}, {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
    };
    enum { N_COMMON = sizeof common / sizeof common[0], MAX_OPTS = 32 };
    struct option all[N_COMMON + MAX_OPTS + 1];
    int n = 0;
    for (int i = 0; i < N_COMMON; i++) all[n++] = common[i];
    for (const struct option *o = cmd->options; o && o->name && n < N_COMMON + MAX_OPTS; o++) all[n++] = *o;
    memset(&all[n], 0, sizeof all[n]);
    char shortopts[64];
    snprintf(shortopts, sizeof shortopts, "+:c:o:qvh%s", cmd->shortopts ? cmd->shortopts : "");

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, all, NULL)) != -1) {
        switch (c) {
        case 'c': out->config_path = optarg; break;
        case 'o': out->output_dir = optarg; break;
        case 'q': log_set_level(LOG_WARN); break;
        case 'v': log_set_level(LOG_DEBUG); break;
        case 'h': cli_print_help(cmd); return 0;
        case OPT_SET:
            if (out->n_overrides == CLI_MAX_OVERRIDES) {
                log_error("too many overrides (at most %d)", CLI_MAX_OVERRIDES);
                return 2;
            }
            out->overrides[out->n_overrides++] = optarg;
            break;
        case '?':
        case ':': {
            const char *bad = argv[optind - 1];
            if (c == ':') log_error("%s: option '%s' needs a value", cmd->name, bad);
            else log_error("%s: unknown option '%s'", cmd->name, bad);
            fprintf(stderr, "Try 'kdtune %s --help'.\n", cmd->name);
            return 2;
        }
        default:
            if (c > 0 && c < 128) out->opt[c] = optarg ? optarg : "1";
            break;
        }
        // getopt_long may continue after a non-option with '+'; positionals are handled below.
    }
    for (int i = optind; i < argc; i++) {
        if (strchr(argv[i], '=')) {
            if (out->n_overrides == CLI_MAX_OVERRIDES) {
                log_error("too many overrides (at most %d)", CLI_MAX_OVERRIDES);
                return 2;
            }
            out->overrides[out->n_overrides++] = argv[i];
        } else if (argv[i][0] == '-') {
            log_error("%s: option '%s' must come before key=value overrides", cmd->name, argv[i]);
            return 2;
        } else if (out->n_args < cmd->max_args) {
            out->args[out->n_args++] = argv[i];
        } else {
            log_error("%s: unexpected argument '%s' (overrides are written key.path=value)",
                      cmd->name, argv[i]);
            fprintf(stderr, "Try 'kdtune %s --help'.\n", cmd->name);
            return 2;
        }
    }
    return -1;
}

kdt_status cli_load_config(const cli_args *args, kdt_config *cfg) {
    config_default(cfg);
    kdt_status s = KDT_OK;
    if (args->config_path) s = config_load_file(cfg, args->config_path);
    for (int i = 0; !s && i < args->n_overrides; i++) s = config_set(cfg, args->overrides[i]);
    if (!s && args->output_dir) {
        if (strlen(args->output_dir) >= sizeof cfg->output.dir)
            s = kdt_fail(KDT_ERR_USAGE, "-o: path too long");
        else snprintf(cfg->output.dir, sizeof cfg->output.dir, "%s", args->output_dir);
    }
    if (!s) s = config_check(cfg);
    if (s) log_error("%s", kdt_errmsg());
    return s;
}

bool cli_overrides_key(const cli_args *args, const char *key) {
    size_t n = strlen(key);
    for (int k = 0; k < args->n_overrides; k++)
        if (strncmp(args->overrides[k], key, n) == 0 && args->overrides[k][n] == '=') return true;
    return false;
}
