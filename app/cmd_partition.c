// `kdtune partition`: data and partition only; prints the class-count table.
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
        s = setup_partition(&st, cfg, true);
        if (s) log_error("%s", kdt_errmsg());
        setup_free(&st);
    }
    free(cfg);
    return kdt_exit_code(s);
}

const cli_command cmd_partition = {
    .name = "partition",
    .summary = "Load the data, make the partition, save it and print its class counts.",
    .usage = "[-c FILE] [-o DIR] [key.path=value ...]",
    .help = "Writes DIR/partition/indices.bin, indices.csv and report.csv\n"
            "(cid,class-0,...,class-K-1,total), and prints the table.\n",
    .run = run,
};
