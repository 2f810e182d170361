// KD evaluations per second for one pair over many settings, per method: kd with the
// teacher-logit cache, kd with the teacher recomputed for every batch, dml (two models train),
// dpkd (routed targets, cached), and the anchor: the student's own training and evaluation with
// no teacher at all (cross-entropy on fixed labels over the same batches), which is what an
// evaluation costs when the cache does its job. Rates are printed as ratios to the anchor.
//
//   bench_kd [--json] [--evals N] [key.path=value ...]   (the embedded default, overridden)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/config.h"
#include "app/setup.h"
#include "common/log.h"
#include "common/timer.h"
#include "kd/round.h"

// The anchor: what an evaluation costs without any teacher, on the same data and batches.
static void student_only(kd_federation *f, model *m, sgd *opt, int S, const kdt_config *cfg) {
    const data_splits *sp = kd_federation_splits(f);
    int B = cfg->kd.sgd.batch_size, K = sp->pool->classes, ex = dataset_example_size(sp->pool);
    float *x = malloc(sizeof *x * (size_t)B * ex), *dl = malloc(sizeof *dl * (size_t)B * K);
    int *y = malloc(sizeof *y * (size_t)B);
    batcher *bt = batcher_create(sp->transfer, NULL, sp->transfer->n, B, NULL);
    model_copy_params(m, kd_federation_model(f, S));
    sgd_reset(opt);
    rng order = rng_stream(1, "bench", 0, 0);
    for (int e = 0; e < cfg->kd.sgd.epochs; e++) {
        batcher_epoch(bt, &order);
        int b;
        while ((b = batcher_next(bt, x, y)) > 0) {
            model_zero_grad(m);
            loss_cross_entropy(dl, model_forward(m, x, b, true), y, b, K);
            model_backward(m, dl);
            sgd_step(opt, (float)cfg->kd.sgd.lr);
        }
    }
    double class_acc[256];
    kd_evaluate(m, sp->val, NULL);
    kd_evaluate(m, sp->test, class_acc);
    batcher_destroy(bt);
    free(x);
    free(dl);
    free(y);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    bool json = false;
    int evals = 8;
    kdt_config *cfg = malloc(sizeof *cfg);
    config_default(cfg);
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/kdt_bench_kd_%d", (int)getpid());
    snprintf(cfg->output.dir, sizeof cfg->output.dir, "%s", dir);
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--json") == 0) json = true;
        else if (strcmp(argv[a], "--evals") == 0 && a + 1 < argc) evals = atoi(argv[++a]) > 0 ? atoi(argv[a]) : 1;
        else if (config_set(cfg, argv[a])) {
            fprintf(stderr, "bench_kd: %s\n", kdt_errmsg());
            return 2;
        }
    }
    log_set_level(LOG_WARN);
    setup s;
    if (setup_federation(&s, cfg, 1)) {
        fprintf(stderr, "bench_kd: %s\n", kdt_errmsg());
        return 1;
    }
    kd_round *r = NULL;
    if (kd_round_create(&r, s.fed)) {
        fprintf(stderr, "bench_kd: %s\n", kdt_errmsg());
        return 1;
    }
    const kd_federation_spec *fs = kd_federation_spec_of(s.fed);
    model *m = model_create(&fs->specs[1], cfg->kd.sgd.batch_size > 64 ? cfg->kd.sgd.batch_size : 64);
    sgd *opt = sgd_create(m, (float)cfg->kd.sgd.lr, (float)cfg->kd.sgd.momentum, (float)cfg->kd.sgd.weight_decay, false);
    // Warm the cache and the code paths once; then time each way over the same settings, the ways
    // interleaved setting by setting so that a load change on the machine hits them alike.
    enum { WAYS = 5 };
    static const char *const names[WAYS] = {"kd, teacher-logit cache", "kd, teacher recomputed", "dml",
                                            "dpkd, cache", "student alone, no teacher"};
    static const char *const keys[WAYS] = {"kd", "kd_recomputed", "dml", "dpkd", "student_only"};
    kd_result res;
    for (int m = 0; m < KD_N_METHODS; m++)
        kd_round_run(r, &(kd_setting){.student = 1, .teacher = 0, .temperature = 1.0f, .alpha = 0.5f,
                                      .method = (kd_method)m}, &res);
    // Rates are 1 / the median time of one evaluation: the settings cost the same, and the median
    // shrugs off the evaluations that another process on a shared machine slowed down.
    double *secs = calloc((size_t)WAYS * evals, sizeof *secs);
    for (int e = 0; e < evals; e++) {
        kd_setting set = {.student = 1, .teacher = 0, .temperature = 1.0f + 2.0f * (float)e,
                          .alpha = (float)(e % 5) / 4.0f, .transfer = KD_UNLABELLED};
        for (int way = 0; way < WAYS; way++) {
            set.method = way == 2 ? KD_METHOD_DML : way == 3 ? KD_METHOD_DPKD : KD_METHOD_KD;
            kd_round_use_cache(r, way != 1);
            double t0 = timer_now();
            if (way < 4) kd_round_run(r, &set, &res);
            else student_only(s.fed, m, opt, 1, cfg);
            secs[(size_t)way * evals + e] = timer_now() - t0;
        }
    }
    double rate[WAYS];
    for (int way = 0; way < WAYS; way++) {
        double *t = secs + (size_t)way * evals;
        qsort(t, (size_t)evals, sizeof *t, cmp_double);
        rate[way] = 2.0 / (t[(evals - 1) / 2] + t[evals / 2]);
    }
    free(secs);
    const char *arch = config_choice_name("model.arch", cfg->model.arch.v[0]);
    if (json) {
        printf("{\"arch\": \"%s\", \"image\": \"%dx%dx%d\", \"transfer\": %d, \"kd_epochs\": %d, \"evals_per_s\": {",
               arch, cfg->data.synthetic.channels, cfg->data.synthetic.image_size, cfg->data.synthetic.image_size,
               cfg->data.transfer_size, cfg->kd.sgd.epochs);
        for (int way = 0; way < WAYS; way++) printf("%s\"%s\": %.3f", way ? ", " : "", keys[way], rate[way]);
        printf("}, \"over_student_only\": {");
        for (int way = 0; way < WAYS - 1; way++) printf("%s\"%s\": %.3f", way ? ", " : "", keys[way], rate[way] / rate[WAYS - 1]);
        printf("}, \"dpkd_over_kd\": %.3f}\n", rate[3] / rate[0]);
    } else {
        printf("KD evaluations of one pair (%s, %dx%dx%d, transfer set %d, %d epochs), %d settings each:\n",
               arch, cfg->data.synthetic.channels, cfg->data.synthetic.image_size, cfg->data.synthetic.image_size,
               cfg->data.transfer_size, cfg->kd.sgd.epochs, evals);
        for (int way = 0; way < WAYS; way++)
            if (way < WAYS - 1)
                printf("  %-28s %10.2f evals/s   %.2f x the anchor\n", names[way], rate[way], rate[way] / rate[WAYS - 1]);
            else
                printf("  %-28s %10.2f evals/s   (anchor)\n", names[way], rate[way]);
        printf("  dpkd / kd = %.2f (DP-KD must stay within 10%%: >= 0.90); kd cached / recomputed = %.2fx\n",
               rate[3] / rate[0], rate[0] / rate[1]);
    }
    sgd_destroy(opt);
    model_destroy(m);
    kd_round_destroy(r);
    setup_free(&s);
    free(cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
