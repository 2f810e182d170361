// KD evaluations per second for one pair over many settings: with the teacher-logit cache, with
// the teacher recomputed for every batch, and the anchor: the student's own training and
// evaluation with no teacher at all (cross-entropy on fixed labels over the same batches), which
// is what an evaluation costs when the cache does its job.
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
        else if (strcmp(argv[a], "--evals") == 0 && a + 1 < argc) evals = atoi(argv[++a]);
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
    kd_round *r = kd_round_create(s.fed);
    const kd_federation_spec *fs = kd_federation_spec_of(s.fed);
    model *m = model_create(&fs->specs[1], cfg->kd.sgd.batch_size > 64 ? cfg->kd.sgd.batch_size : 64);
    sgd *opt = sgd_create(m, (float)cfg->kd.sgd.lr, (float)cfg->kd.sgd.momentum, (float)cfg->kd.sgd.weight_decay, false);
    // Warm the cache and the code paths once; then time each way over the same settings.
    kd_result res;
    kd_round_run(r, &(kd_setting){1, 0, 1.0f, 0.5f, KD_UNLABELLED}, &res);
    double rate[3];
    for (int way = 0; way < 3; way++) {
        kd_round_use_cache(r, way == 0);
        double t0 = timer_now();
        for (int e = 0; e < evals; e++) {
            kd_setting set = {1, 0, 1.0f + 2.0f * (float)e, (float)(e % 5) / 4.0f, KD_UNLABELLED};
            if (way < 2) kd_round_run(r, &set, &res);
            else student_only(s.fed, m, opt, 1, cfg);
        }
        rate[way] = evals / (timer_now() - t0);
    }
    const char *arch = config_choice_name("model.arch", cfg->model.arch.v[0]);
    if (json) {
        printf("{\"arch\": \"%s\", \"image\": \"%dx%dx%d\", \"transfer\": %d, \"kd_epochs\": %d, "
               "\"evals_per_s\": {\"cached\": %.3f, \"recomputed\": %.3f, \"student_only\": %.3f}, "
               "\"cached_over_student_only\": %.3f, \"cached_over_recomputed\": %.3f}\n",
               arch, cfg->data.synthetic.channels, cfg->data.synthetic.image_size, cfg->data.synthetic.image_size,
               cfg->data.transfer_size, cfg->kd.sgd.epochs, rate[0], rate[1], rate[2], rate[0] / rate[2],
               rate[0] / rate[1]);
    } else {
        printf("KD evaluations of one pair (%s, %dx%dx%d, transfer set %d, %d epochs), %d settings each:\n",
               arch, cfg->data.synthetic.channels, cfg->data.synthetic.image_size, cfg->data.synthetic.image_size,
               cfg->data.transfer_size, cfg->kd.sgd.epochs, evals);
        printf("  %-34s %10.2f evals/s\n", "with the teacher-logit cache", rate[0]);
        printf("  %-34s %10.2f evals/s\n", "teacher recomputed every batch", rate[1]);
        printf("  %-34s %10.2f evals/s   (anchor)\n", "student alone, no teacher", rate[2]);
        printf("  cached / student alone = %.2f (1.0 = the teacher costs nothing); cached / recomputed = %.2fx\n",
               rate[0] / rate[2], rate[0] / rate[1]);
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
