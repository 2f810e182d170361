// Benchmark of the engine against its anchors, measured in the same run: OpenBLAS sgemm GFLOP/s
// and PyTorch (bench/engine/torch_bench.py, same thread count). Measures images/s of training
// (zero-grad, forward, loss, backward, SGD step) and inference (eval-mode forward) at batch 128
// for `cnn` and `resnet18` on 3x32x32 inputs with 10 classes, and prints a table of kdtune/torch
// ratios; with --json, one JSON object on stdout (the table goes to stderr). Other jobs on a shared
// machine disturb single measurements, so it runs several rounds, kdtune then PyTorch in each, and
// keeps each side's best.
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include <time.h>
#include <unistd.h>

#include "common/rng.h"
#include "common/timer.h"
#include "model/model.h"
#include "model/sgd.h"

typedef struct {
    const char *name;
    model_arch arch;
    double train, infer;             // kdtune images/s
    double torch_train, torch_infer; // NAN when PyTorch did not run
    double macs;                     // forward multiply-adds per image
    double mib;                      // the model's memory at this batch
} result;

// The clock of the measurements: wall time, or with --cpu-time the process's CPU time, which a
// busy machine disturbs much less (meaningful with one thread: CPU time counts every thread).
static bool use_cpu_time = false;

static double clock_now(void) {
    if (!use_cpu_time) return timer_now();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double sgemm_gflops(void) {
    enum { N = 2048 };
    float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N),
          *c = malloc(sizeof(float) * N * N);
    rng r = rng_stream(1, "bench", 0, 0);
    for (size_t i = 0; i < (size_t)N * N; i++) {
        a[i] = rng_uniformf(&r) - 0.5f;
        b[i] = rng_uniformf(&r) - 0.5f;
    }
    double best = 0.0;
    for (int rep = 0; rep < 4; rep++) {
        double t0 = clock_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
        double g = 2.0 * N * (double)N * N / (clock_now() - t0) / 1e9;
        if (rep > 0 && g > best) best = g; // the first one warms up the threads
    }
    free(a);
    free(b);
    free(c);
    return best;
}

// Runs fn until at least min_iters calls and min_seconds have passed, after warmup calls.
static double images_per_second(model *m, sgd *opt, const float *x, const int *y, float *dz,
                                int B, bool train, int warmup, int min_iters, double min_seconds) {
    int K = model_get_spec(m)->num_classes;
    int n = 0;
    double t0 = 0.0;
    for (int i = 0;; i++) {
        if (i == warmup) t0 = clock_now();
        if (train) {
            model_zero_grad(m);
            const float *z = model_forward(m, x, B, true);
            loss_cross_entropy(dz, z, y, B, K);
            model_backward(m, dz);
            sgd_step(opt, -1.0f);
        } else {
            model_forward(m, x, B, false);
        }
        if (i >= warmup) {
            n++;
            if (n >= min_iters && clock_now() - t0 >= min_seconds) break;
        }
    }
    return n * B / (clock_now() - t0);
}

static double maxd(double a, double b) { return isnan(a) || b > a ? b : a; }

static void bench_kdtune(result *r, int B, double min_seconds) {
    model_spec s = {.arch = r->arch, .in_c = 3, .in_h = 32, .in_w = 32, .num_classes = 10};
    model *m = model_create(&s, B);
    if (!m) {
        fprintf(stderr, "bench_engine: %s\n", kdt_errmsg());
        exit(1);
    }
    rng g = rng_stream(2, "bench", (uint64_t)r->arch, 0);
    model_init_params(m, &g);
    size_t nx = (size_t)B * 3 * 32 * 32;
    float *x = malloc(nx * sizeof(float)), *dz = malloc((size_t)B * 10 * sizeof(float));
    int *y = malloc((size_t)B * sizeof(int));
    for (size_t i = 0; i < nx; i++) x[i] = (float)rng_normal(&g);
    for (int b = 0; b < B; b++) y[b] = (int)rng_below(&g, 10);
    sgd *opt = sgd_create(m, 0.01f, 0.9f, 5e-4f, false);
    bool big = r->arch == MODEL_RESNET18;
    r->train = maxd(r->train, images_per_second(m, opt, x, y, dz, B, true, big ? 1 : 3, big ? 2 : 10,
                                                min_seconds));
    r->infer = maxd(r->infer, images_per_second(m, opt, x, y, dz, B, false, big ? 1 : 3,
                                                big ? 3 : 10, min_seconds));
    r->macs = model_forward_macs(m);
    r->mib = (double)model_memory_bytes(m) / 1048576.0;
    if (getenv("KDTUNE_BENCH_PROFILE")) {
        // a few profiled training steps, per layer, to stderr
        model_set_profiling(m, true);
        images_per_second(m, opt, x, y, dz, B, true, 0, 2, 0.0);
        fprintf(stderr, "profile of 2 training steps of %s:\n", r->name);
        model_print_profile(m, stderr);
    }
    sgd_destroy(opt);
    model_destroy(m);
    free(x);
    free(dz);
    free(y);
}

// Runs the PyTorch anchor and fills torch_train/torch_infer; false when it could not run.
static bool bench_torch(result *res, int n, const char *python, const char *script, int threads,
                        int B, double min_seconds) {
    char cmd[2048], models[256] = "";
    for (int i = 0; i < n; i++) {
        strcat(models, res[i].name);
        if (i + 1 < n) strcat(models, ",");
    }
    snprintf(cmd, sizeof cmd, "'%s' '%s' --threads %d --batch %d --models %s --min-seconds %g%s",
             python, script, threads, B, models, min_seconds, use_cpu_time ? " --cpu-time" : "");
    FILE *p = popen(cmd, "r");
    if (!p) return false;
    char buf[8192];
    size_t len = fread(buf, 1, sizeof buf - 1, p);
    buf[len] = '\0';
    int rc = pclose(p);
    if (rc != 0) {
        fprintf(stderr, "bench_engine: the PyTorch anchor failed (%s)\n", cmd);
        return false;
    }
    json_error_t err;
    json_t *root = json_loads(buf, 0, &err);
    if (!root) {
        fprintf(stderr, "bench_engine: cannot parse the PyTorch anchor's output: %s\n", err.text);
        return false;
    }
    json_t *ms = json_object_get(root, "models");
    for (int i = 0; i < n; i++) {
        json_t *mo = json_object_get(ms, res[i].name);
        res[i].torch_train = maxd(res[i].torch_train, json_number_value(json_object_get(mo, "train")));
        res[i].torch_infer = maxd(res[i].torch_infer, json_number_value(json_object_get(mo, "infer")));
    }
    json_decref(root);
    return true;
}

static json_t *num_or_null(double v) { return isnan(v) ? json_null() : json_real(v); }

static void usage(FILE *f) {
    fprintf(f, "usage: bench_engine [--json] [--threads N] [--batch N] [--min-seconds S] [--rounds R]\n"
               "                    [--models cnn,resnet18] [--python PATH] [--no-torch]\n"
               "                    [--cpu-time (with --threads 1: timed by CPU time)]\n"
               "Images/s of kdtune training and inference against PyTorch and sgemm.\n");
}

int main(int argc, char **argv) {
    bool json = false, torch = true;
    int threads = 2, B = 128, rounds = 3;
    double min_seconds = 1.0;
    const char *python = getenv("KDTUNE_PYTHON");
    char models_arg[256] = "cnn,resnet18";
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'},        {"threads", required_argument, 0, 't'},
        {"batch", required_argument, 0, 'b'}, {"min-seconds", required_argument, 0, 's'},
        {"models", required_argument, 0, 'm'}, {"python", required_argument, 0, 'p'},
        {"no-torch", no_argument, 0, 'n'},    {"rounds", required_argument, 0, 'r'},
        {"cpu-time", no_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 't': threads = atoi(optarg); break;
        case 'b': B = atoi(optarg); break;
        case 's': min_seconds = atof(optarg); break;
        case 'm': snprintf(models_arg, sizeof models_arg, "%s", optarg); break;
        case 'p': python = optarg; break;
        case 'n': torch = false; break;
        case 'r': rounds = atoi(optarg); break;
        case 'c': use_cpu_time = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (threads < 1 || B < 1 || rounds < 1) {
        usage(stderr);
        return 2;
    }
    // PyTorch is a Debian package: its interpreter is the system one even when PATH has another
    if (!python) python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    result res[4];
    int n = 0;
    for (char *tok = strtok(models_arg, ","); tok && n < 4; tok = strtok(NULL, ",")) {
        model_arch a;
        if (model_arch_from_name(tok, &a) != KDT_OK) {
            fprintf(stderr, "bench_engine: %s\n", kdt_errmsg());
            return 2;
        }
        res[n++] = (result){.name = model_arch_name(a), .arch = a, .train = NAN, .infer = NAN,
                            .torch_train = NAN, .torch_infer = NAN};
    }

    // the anchor: OpenBLAS with its own threads on one big square product
    openblas_set_num_threads(threads);
    double gflops = sgemm_gflops();
    model_set_threads(threads);
    for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < n; i++) bench_kdtune(&res[i], B, min_seconds);
        if (torch)
            torch = bench_torch(res, n, python, KDT_BENCH_DIR "/torch_bench.py", threads, B,
                                min_seconds);
    }

    double peak_fraction = NAN;
    FILE *t = json ? stderr : stdout;
    fprintf(t, "engine benchmark: batch %d, %d threads, 3x32x32, 10 classes, best of %d rounds, %s\n",
            B, threads, rounds, use_cpu_time ? "CPU time" : "wall time");
    fprintf(t, "OpenBLAS core: %s\n", openblas_get_corename());
    fprintf(t, "OpenBLAS sgemm 2048^3: %.1f GFLOP/s\n", gflops);
    fprintf(t, "%-9s %-6s %12s %12s %7s %9s\n", "model", "mode", "kdtune img/s", "torch img/s",
            "ratio", "GFLOP/s");
    for (int i = 0; i < n; i++) {
        result *r = &res[i];
        double gf_train = r->train * 3.0 * 2.0 * r->macs / 1e9, gf_infer = r->infer * 2.0 * r->macs / 1e9;
        fprintf(t, "%-9s %-6s %12.1f %12.1f %7.2f %9.1f\n", r->name, "train", r->train,
                r->torch_train, r->train / r->torch_train, gf_train);
        fprintf(t, "%-9s %-6s %12.1f %12.1f %7.2f %9.1f\n", r->name, "infer", r->infer,
                r->torch_infer, r->infer / r->torch_infer, gf_infer);
        if (r->arch == MODEL_RESNET18) peak_fraction = gf_train / gflops;
    }
    for (int i = 0; i < n; i++)
        fprintf(t, "%s: %.2f GFLOP forward per image, %.0f MiB of engine memory at batch %d\n",
                res[i].name, 2.0 * res[i].macs / 1e9, res[i].mib, B);
    if (!isnan(peak_fraction))
        fprintf(t, "resnet18 training at %.0f%% of the sgemm rate\n", 100.0 * peak_fraction);

    if (json) {
        json_t *root = json_object(), *models = json_object();
        json_object_set_new(root, "sgemm_gflops", json_real(gflops));
        json_object_set_new(root, "threads", json_integer(threads));
        json_object_set_new(root, "batch", json_integer(B));
        json_object_set_new(root, "rounds", json_integer(rounds));
        json_object_set_new(root, "clock", json_string(use_cpu_time ? "cpu" : "wall"));
        json_object_set_new(root, "openblas_core", json_string(openblas_get_corename()));
        for (int i = 0; i < n; i++) {
            result *r = &res[i];
            json_t *mo = json_object(), *tr = json_object(), *in = json_object();
            json_object_set_new(tr, "kdtune", json_real(r->train));
            json_object_set_new(tr, "torch", num_or_null(r->torch_train));
            json_object_set_new(tr, "ratio", num_or_null(r->train / r->torch_train));
            json_object_set_new(in, "kdtune", json_real(r->infer));
            json_object_set_new(in, "torch", num_or_null(r->torch_infer));
            json_object_set_new(in, "ratio", num_or_null(r->infer / r->torch_infer));
            json_object_set_new(mo, "train", tr);
            json_object_set_new(mo, "infer", in);
            json_object_set_new(models, r->name, mo);
        }
        json_object_set_new(root, "models", models);
        json_object_set_new(root, "resnet18_train_peak_fraction", num_or_null(peak_fraction));
        char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("%s\n", s);
        free(s);
        json_decref(root);
    }
    return 0;
}
