// `kdtune run`: the whole pipeline on a config (no config: the embedded default): data,
// partition, pre-training, the default setting, the grid, the configured strategies, the report.
#include <stdio.h>

#include "app/commands.h"
#include "app/pipeline.h"
#include "app/report.h"
#include "common/log.h"
#include "common/timer.h"

static int run(const cli_args *args) {
    double t0 = timer_now();
    kdt_config cfg;
    kdt_status s = cli_load_config(args, &cfg);
    if (s) return kdt_exit_code(s);
    pipeline p;
    s = pipeline_open(&p, &(pipeline_request){&cfg, args->opt['p'], true});
    if (!s) {
        pipeline_phases ph = {.defaults = true, .grid = !args->opt['G']};
        pipeline_config_strategies(p.cfg, &ph);
        s = pipeline_run(&p, &ph);
    }
    if (!s) {
        s = report_write(p.setup.run_dir, p.cfg, NULL, stdout);
        if (s) log_error("%s", kdt_errmsg());
        else log_info("done in %.0f s: %s/report.md, summary.json, recommended.yaml", timer_now() - t0,
                      p.setup.run_dir);
    }
    pipeline_close(&p);
    return kdt_exit_code(s);
}

static const struct option options[] = {
    {"pairs", required_argument, NULL, 'p'}, {"no-grid", no_argument, NULL, 'G'}, {0}};

const cli_command cmd_run = {
    .name = "run",
    .summary = "The whole pipeline: data, partition, pre-training, default, grid, tuners, report.",
    .usage = "[-c FILE] [-o DIR] [--pairs I-J,...] [--no-grid] [key.path=value ...]",
    .help = "  -p, --pairs LIST      only these pairs, e.g. 0-1,2-5 (default: all)\n"
            "      --no-grid         skip the exhaustive grid (tuners are then compared with the default only)\n"
            "\nWithout -c it runs the embedded default (see `kdtune validate --commented`). Run again\n"
            "with the same -o to continue after an interruption.\n",
    .options = options,
    .shortopts = "p:",
    .run = run,
};
