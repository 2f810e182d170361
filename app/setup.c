// Config -> data, partition, model specs and the pre-trained federation.
#include "app/setup.h"

#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "common/log.h"
#include "common/rng.h"
#include "common/strbuf.h"

int setup_threads(const kdt_config *cfg) {
    return cfg->experiment.threads > 0 ? cfg->experiment.threads : omp_get_num_procs();
}

// The hash of everything the pre-trained participants depend on: the resolved YAML of those
// sections, in schema order.
static void fingerprint(const kdt_config *cfg, char out[17]) {
    char *yaml = config_to_yaml(cfg, false);
    strbuf keep = {0};
    static const char *sections[] = {"data:", "partition:", "federation:", "model:", "pretrain:"};
    sb_printf(&keep, "seed %d\n", cfg->experiment.seed);
    bool in = false;
    for (char *line = strtok(yaml, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] != ' ') {
            in = false;
            for (size_t k = 0; k < sizeof sections / sizeof sections[0]; k++)
                in |= strcmp(line, sections[k]) == 0;
        }
        if (in) sb_printf(&keep, "%s\n", line);
    }
    char *text = sb_take(&keep);
    snprintf(out, 17, "%016llx", (unsigned long long)rng_hash_str(text));
    free(text);
    free(yaml);
}

kdt_status setup_check_run_dir(const kdt_config *cfg, const char *run_dir) {
    char path[4096], want[17];
    kdt_status s = fs_mkdir_p(run_dir);
    if (!s) s = fs_join(path, sizeof path, run_dir, "fingerprint");
    if (s) return s;
    fingerprint(cfg, want);
    if (!fs_exists(path)) return fs_write_atomic(path, want, 16);
    char *have;
    size_t len;
    if ((s = fs_read_all(path, &have, &len))) return s;
    bool same = len >= 16 && memcmp(have, want, 16) == 0;
    free(have);
    if (!same)
        return kdt_fail(KDT_ERR_CONFIG, "%s was made with another config (data, partition, federation, "
                        "model or pretrain differ, or experiment.seed): its participants do not fit this "
                        "one. Use another run directory (-o), or remove %s to start over", run_dir, run_dir);
    return KDT_OK;
}

static void data_spec_from(data_spec *d, const kdt_config *cfg) {
    data_spec_default(d);
    d->source = (data_source)cfg->data.source;
    d->path = cfg->data.path;
    d->cifar100_coarse = cfg->data.cifar100_labels == LABELS_COARSE;
    d->pool_size = cfg->data.pool_size;
    d->transfer_size = cfg->data.transfer_size;
    d->val_size = cfg->data.val_size;
    d->test_size = cfg->data.test_size;
    d->normalize = cfg->data.normalize;
    d->synthetic.channels = cfg->data.synthetic.channels;
    d->synthetic.image_size = cfg->data.synthetic.image_size;
    d->synthetic.classes = cfg->data.synthetic.classes;
    d->seed = (uint64_t)cfg->experiment.seed;
}

static void partition_spec_from(partition_spec *p, const kdt_config *cfg) {
    partition_spec_default(p);
    p->scheme = (partition_scheme)cfg->partition.scheme;
    p->participants = cfg->federation.participants;
    p->dirichlet_alpha = cfg->partition.dirichlet_alpha;
    p->min_partition_size = cfg->partition.min_partition_size;
    p->max_retries = cfg->partition.max_retries;
    p->num_shards_per_partition = cfg->partition.num_shards_per_partition;
    p->num_classes_per_partition = cfg->partition.num_classes_per_partition;
    p->file = cfg->partition.file;
    p->seed = (uint64_t)cfg->partition.seed;
}

// Two processes appending to one journal would train the same settings twice and interleave
// their runs: one command at a time per run directory, held by a lock the kernel drops on exit.
static kdt_status lock_run_dir(setup *s) {
    char path[4096];
    kdt_status st = fs_mkdir_p(s->run_dir);
    if (!st) st = fs_join(path, sizeof path, s->run_dir, "lock");
    if (st) return st;
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666); // never through a link
    if (s->lock_fd < 0) return kdt_fail(KDT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return kdt_fail(KDT_ERR_STATE, "%s is in use by another kdtune command; wait for it to finish, "
                        "or use another run directory (-o)", s->run_dir);
    // Held alone now: temporaries of atomic writes left by a killed command are stale.
    static const char *const dirs[] = {"", "participants", "partition", "plots"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0] && !st; i++)
        if (!(st = fs_join(path, sizeof path, s->run_dir, dirs[i]))) st = fs_remove_stale_temps(path, NULL);
    return st;
}

kdt_status setup_partition(setup *s, const kdt_config *cfg, bool print) {
    memset(s, 0, sizeof *s);
    s->lock_fd = -1;
    snprintf(s->run_dir, sizeof s->run_dir, "%s", cfg->output.dir);
    kdt_status st = lock_run_dir(s);
    if (!st) st = setup_check_run_dir(cfg, s->run_dir);
    if (st) return st;
    data_spec ds;
    data_spec_from(&ds, cfg);
    if ((st = data_load_splits(&ds, &s->splits))) return st;
    const dataset *pool = s->splits.pool;
    log_info("data: %s, %dx%dx%d, %d classes; pool %d, transfer %d, validation %d, test %d",
             data_source_name(ds.source), pool->c, pool->h, pool->w, pool->classes, pool->n,
             s->splits.transfer->n, s->splits.val->n, s->splits.test->n);
    partition_spec ps;
    partition_spec_from(&ps, cfg);
    if ((st = partition_make(&ps, pool, &s->part))) return st;
    char dir[4096];
    if ((st = fs_join(dir, sizeof dir, s->run_dir, "partition"))) return st;
    if ((st = partition_save(&s->part, pool, dir))) return st;
    if (print) partition_print_table(stdout, &s->part, pool);
    log_info("partition: %s, label skew %.3f (mean total-variation distance from the pool), saved in %s",
             config_choice_name("partition.scheme", cfg->partition.scheme),
             partition_label_skew(&s->part, pool), dir);
    return KDT_OK;
}

kdt_status setup_federation(setup *s, const kdt_config *cfg, int workers) {
    model_set_threads(workers > 1 ? 1 : setup_threads(cfg));
    kdt_status st = setup_partition(s, cfg, false);
    if (st) return st;
    const dataset *pool = s->splits.pool;
    int P = cfg->federation.participants;
    for (int c = 0; c < P; c++) {
        model_spec *m = &s->specs[c];
        memset(m, 0, sizeof *m);
        m->arch = (model_arch)cfg->model.arch.v[cfg->model.arch.n == 1 ? 0 : c];
        m->in_c = pool->c;
        m->in_h = pool->h;
        m->in_w = pool->w;
        m->num_classes = pool->classes;
        if (cfg->model.mlp_hidden.n > MODEL_MAX_HIDDEN)
            return kdt_fail(KDT_ERR_CONFIG, "model.mlp_hidden: at most %d hidden layers", MODEL_MAX_HIDDEN);
        m->num_hidden = cfg->model.mlp_hidden.n;
        for (int h = 0; h < m->num_hidden; h++) m->hidden[h] = cfg->model.mlp_hidden.v[h];
        if ((st = model_spec_validate(m))) return kdt_fail_context(st, "model.arch of participant %d", c);
    }
    char ckpt[4096];
    if ((st = fs_join(ckpt, sizeof ckpt, s->run_dir, "participants"))) return st;
    kd_federation_spec fs = {
        .participants = P,
        .specs = s->specs,
        .pretrain = {.sgd = {cfg->pretrain.sgd.lr, cfg->pretrain.sgd.momentum, cfg->pretrain.sgd.weight_decay,
                             cfg->pretrain.sgd.epochs, cfg->pretrain.sgd.batch_size, cfg->pretrain.sgd.nesterov,
                             cfg->pretrain.sgd.augment},
                     .schedule = (lr_kind)cfg->pretrain.schedule,
                     .step_epochs = cfg->pretrain.step_epochs,
                     .gamma = cfg->pretrain.gamma,
                     .warmup_epochs = cfg->pretrain.warmup_epochs},
        .kd = {cfg->kd.sgd.lr, cfg->kd.sgd.momentum, cfg->kd.sgd.weight_decay, cfg->kd.sgd.epochs,
               cfg->kd.sgd.batch_size, cfg->kd.sgd.nesterov, cfg->kd.sgd.augment},
        .augment = {cfg->data.augment.crop, cfg->data.augment.crop_padding,
                    data_flip_resolve((data_flip)cfg->data.augment.flip, (data_source)cfg->data.source)},
        .seed = (uint64_t)cfg->experiment.seed,
        .checkpoint_dir = ckpt,
        .workers = workers,
    };
    if (!(s->fed = kd_federation_create(&fs, &s->splits, &s->part))) return KDT_ERR_NOMEM;
    return kd_federation_pretrain(s->fed);
}

void setup_free(setup *s) {
    kd_federation_destroy(s->fed);
    partition_free(&s->part);
    data_splits_free(&s->splits);
    if (s->lock_fd > 0) close(s->lock_fd);
    memset(s, 0, sizeof *s);
    s->lock_fd = -1;
}
