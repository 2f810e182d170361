// The kdtune command: dispatches to a command (app/cmd_*.c) and maps statuses to exit codes
// (0 ok, 1 runtime error, 2 usage or configuration error).
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/commands.h"
#include "app/mpi_run.h"
#include "common/log.h"
#include "common/text.h"
#include "kdtune_version.h"

static const cli_command *const commands[] = {
    &cmd_run,
    &cmd_partition,
    &cmd_pretrain,
    &cmd_grid,
    &cmd_tune,
    &cmd_eval,
    &cmd_report,
    &cmd_export,
    &cmd_validate,
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void print_help(FILE *out) {
    fprintf(out,
            "Usage: kdtune <command> [options] [key.path=value ...]\n\n"
            "Automated tuning of joint knowledge distillation between federated participants.\n\n"
            "Commands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\nRun 'kdtune <command> --help' for a command's options. 'kdtune --version' prints\n"
                 "the version. Exit status: 0 ok, 1 runtime error, 2 usage or configuration error.\n");
}

// OpenBLAS picks its kernels from CPUID when it loads; it does not know some recent Xeons (as on
// this project's machines) and falls back to generic kernels several times slower. It reads
// OPENBLAS_CORETYPE only at load time, so kdtune sets it and restarts itself, once.
static void use_fast_openblas_kernels(char **argv) {
    if (getenv("OPENBLAS_CORETYPE")) return;
    const char *core = openblas_get_corename();
    if (!core || strcmp(core, "Prescott") != 0) return;
    const char *want = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                       : __builtin_cpu_supports("avx2")  ? "Haswell"
                                                         : NULL;
    if (!want || setenv("OPENBLAS_CORETYPE", want, 1) != 0) return;
    // The engine calls OpenBLAS from its own threads, one BLAS thread each (model/gemm.c): a pool
    // of OpenBLAS threads made at load would only spin.
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    execv("/proc/self/exe", argv); // returns only on failure: go on with the generic kernels
}

static int dispatch(int argc, char **argv) {
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        print_help(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("kdtune %s\n", KDTUNE_VERSION);
        return 0;
    }
    const cli_command *best = NULL;
    size_t best_d = (size_t)-1;
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i]->name, name) == 0) {
            cli_args args;
            mpi_run_allow(commands[i] == &cmd_run || commands[i] == &cmd_grid || commands[i] == &cmd_tune);
            int code = cli_parse(commands[i], argc - 1, argv + 1, &args);
            return code >= 0 ? code : commands[i]->run(&args);
        }
        size_t d = text_edit_distance(name, commands[i]->name);
        if (d < best_d) best_d = d, best = commands[i];
    }
    if (name[0] == '-') log_error("unknown option '%s' (options come after the command)", name);
    else if (best && best_d <= 2) log_error("unknown command '%s'; did you mean '%s'?", name, best->name);
    else log_error("unknown command '%s'", name);
    fprintf(stderr, "Run 'kdtune --help' for the list of commands.\n");
    return 2;
}

int main(int argc, char **argv) {
    use_fast_openblas_kernels(argv);
    // Under mpirun (app/mpi_run.h): rank 0 runs the command, the other ranks evaluate for it.
    mpi_run_init(&argc, &argv);
    if (mpi_run_rank() > 0) return mpi_run_worker_main();
    return mpi_run_finalize(dispatch(argc, argv));
}
