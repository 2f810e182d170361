// `kdtune pretrain`: data, partition and pre-training; participants whose valid checkpoint exists
// are loaded instead of trained.
#include <stdio.h>
#include <stdlib.h>

#include "app/commands.h"
#include "app/setup.h"
#include "common/log.h"

static int run(const cli_args *args) {
    kdt_config *cfg = malloc(sizeof *cfg);
    if (!cfg) return 1;
    kdt_status s = cli_load_config(args, cfg);
    if (!s) {
        setup st;
        s = setup_federation(&st, cfg, setup_threads(cfg));
        if (s) log_error("%s", kdt_errmsg());
        else log_info("participants and participants/pretrain.csv are in %s", st.run_dir);
        setup_free(&st);
    }
    free(cfg);
    return kdt_exit_code(s);
}

const cli_command cmd_pretrain = {
    .name = "pretrain",
    .summary = "Pre-train every participant on its local data (skips valid checkpoints).",
    .usage = "[-c FILE] [-o DIR] [key.path=value ...]",
    .help = "Writes DIR/participants/p<cid>.ckpt and DIR/participants/pretrain.csv. A damaged\n"
            "checkpoint is reported and retrained; a run directory made with another config is\n"
            "refused.\n",
    .run = run,
};
