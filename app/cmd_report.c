// `kdtune report`: summary.json, recommended.yaml, report.md and plots from a run directory.
#include <stdio.h>
#include <stdlib.h>

#include "app/commands.h"
#include "app/report.h"
#include "app/setup.h"
#include "common/fs.h"
#include "common/log.h"

static int run(const cli_args *args) {
    // The run's own resolved config, unless -c names another.
    cli_args a = *args;
    char path[4096];
    const char *dir = args->output_dir ? args->output_dir : "runs/default";
    if (!a.config_path && fs_join(path, sizeof path, dir, "config.yaml") == KDT_OK && fs_exists(path))
        a.config_path = path;
    kdt_config *cfg = malloc(sizeof *cfg);
    if (!cfg) return 1;
    kdt_status s = cli_load_config(&a, cfg);
    // The run directory's lock, as every command that writes there takes it: a report never reads
    // a journal that another command is appending to, and never writes beside it.
    setup run = {.lock_fd = -1};
    if (!s && !fs_exists(cfg->output.dir))
        s = kdt_fail(KDT_ERR_USAGE, "%s: no such run directory; give the -o of a `kdtune run`, `grid` or `tune`",
                     cfg->output.dir);
    if (!s) s = setup_open_run_dir(&run, cfg);
    if (!s) {
        s = report_write(cfg->output.dir, cfg, args->opt['p'], stdout);
        if (!s) log_info("wrote %s/report.md, summary.json, recommended.yaml%s", cfg->output.dir,
                         cfg->output.plots ? " and plots/" : "");
    }
    if (s) log_error("%s", kdt_errmsg());
    setup_free(&run);
    free(cfg);
    return kdt_exit_code(s);
}

static const struct option options[] = {{"pairs", required_argument, NULL, 'p'}, {0}};

const cli_command cmd_report = {
    .name = "report",
    .summary = "Write summary.json, recommended.yaml, report.md and plots from a run directory.",
    .usage = "-o DIR [-c FILE] [--pairs I-J,...] [key.path=value ...]",
    .help = "  -p, --pairs LIST      only these pairs, e.g. 0-1,2-5 (default: every pair of the journal)\n"
            "\nReads DIR/trials.jsonl with the run's config (DIR/config.yaml unless -c is given).\n",
    .options = options,
    .shortopts = "p:",
    .run = run,
};
