// Config -> data, partition, model specs and the pre-trained federation.
#include "app/setup.h"

#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>
#include <zlib.h>
#include <stdlib.h>
#include <string.h>

#include "app/mpi_run.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/rng.h"
#include "common/strbuf.h"
#include "common/timer.h"
#include "kdtune_version.h"

int setup_threads(const kdt_config *cfg) {
    return cfg->experiment.threads > 0 ? cfg->experiment.threads : omp_get_num_procs();
}

// The hash of everything the pre-trained participants depend on: the resolved YAML of those
// sections, in schema order.
void setup_fingerprint(const kdt_config *cfg, char out[17]) {
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
    setup_fingerprint(cfg, want);
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

// ---- the data cache: RUN/cache/splits.bin ----------------------------------------------------------
// The synthetic source is generated image by image from the seed, which costs more than a KD round
// of the embedded default; a run directory keeps the splits it generated once. The file holds the
// four splits as they are handed out (normalized), keyed by the run's fingerprint (which covers
// the data section and the seed) and kdtune's version, with every size checked against the config
// and a CRC-32 of every byte before it. Anything that does not fit is regenerated, never used.
enum { SPLITS_MAGIC = 0x5053444B /* "KDSP" */, SPLITS_VERSION = 1 };
#define SPLITS_CACHE_MAX_BYTES ((size_t)256 << 20) // above this, generating beats keeping a copy

typedef struct {
    uint32_t magic, version;
    char key[48];                                       // "<fingerprint> <kdtune version>"
    int32_t dims[4][5];                                 // per split: n, c, h, w, classes
    float mean[DATA_MAX_CHANNELS], std[DATA_MAX_CHANNELS];
    uint8_t normalized, test_from_source, pad[6];
} splits_head;
_Static_assert(sizeof(splits_head) == 176, "splits cache header layout");

static void splits_key(const kdt_config *cfg, char key[48]) {
    char fp[17];
    setup_fingerprint(cfg, fp);
    memset(key, 0, 48);
    snprintf(key, 48, "%s %s", fp, KDTUNE_VERSION);
}

// The sizes the config asks for, in the order pool, transfer, val, test.
static void splits_dims(const data_spec *d, int32_t dims[4][5]) {
    int n[4] = {d->pool_size, d->transfer_size, d->val_size, d->test_size ? d->test_size : SYNTHETIC_TEST_SPLIT};
    for (int k = 0; k < 4; k++) {
        dims[k][0] = n[k];
        dims[k][1] = d->synthetic.channels;
        dims[k][2] = d->synthetic.image_size;
        dims[k][3] = d->synthetic.image_size;
        dims[k][4] = d->synthetic.classes;
    }
}

static size_t splits_bytes(const int32_t dims[4][5]) {
    size_t b = sizeof(splits_head) + 4;
    for (int k = 0; k < 4; k++) b += (size_t)dims[k][0] * ((size_t)dims[k][1] * dims[k][2] * dims[k][3] * 4 + 4);
    return b;
}

static kdt_status splits_cache_path(const setup *s, char *path, size_t cap) {
    char dir[4096];
    kdt_status st = fs_join(dir, sizeof dir, s->run_dir, "cache");
    return st ? st : fs_join(path, cap, dir, "splits.bin");
}

static bool read_chunk(FILE *f, void *p, size_t n, uLong *crc) {
    if (fread(p, 1, n, f) != n) return false;
    for (size_t off = 0; off < n; off += 1u << 30) // crc32 takes a uInt length
        *crc = crc32(*crc, (const Bytef *)p + off, (uInt)(n - off < (1u << 30) ? n - off : 1u << 30));
    return true;
}

// The cached splits when the file is there and fits in every respect; false (and nothing kept)
// otherwise, with the reason at debug level.
static bool splits_cache_read(const setup *s, const kdt_config *cfg, const data_spec *ds, data_splits *out) {
    char path[4096], key[48];
    if (splits_cache_path(s, path, sizeof path) || !fs_exists(path)) return false;
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    splits_head h, want = {0};
    splits_key(cfg, key);
    splits_dims(ds, want.dims);
    uLong crc = crc32(0L, Z_NULL, 0);
    const char *why = NULL;
    memset(out, 0, sizeof *out);
    dataset **sets[4] = {&out->pool, &out->transfer, &out->val, &out->test};
    if (!read_chunk(f, &h, sizeof h, &crc)) why = "short header";
    else if (h.magic != SPLITS_MAGIC || h.version != SPLITS_VERSION) why = "not a splits cache of this version";
    else if (memcmp(h.key, key, sizeof key) != 0) why = "made for another fingerprint or kdtune version";
    else if (memcmp(h.dims, want.dims, sizeof want.dims) != 0) why = "sizes differ from the config";
    else if (h.normalized != ds->normalize) why = "normalization differs from the config";
    for (int k = 0; k < 4 && !why; k++) {
        const int32_t *d = h.dims[k];
        if (!(*sets[k] = dataset_create(d[0], d[1], d[2], d[3], d[4]))) why = "out of memory";
        else if (!read_chunk(f, (*sets[k])->x, sizeof(float) * (size_t)d[0] * d[1] * d[2] * d[3], &crc) ||
                 !read_chunk(f, (*sets[k])->y, sizeof(int) * (size_t)d[0], &crc))
            why = "truncated";
    }
    uint32_t stored;
    if (!why && (fread(&stored, 1, 4, f) != 4 || fgetc(f) != EOF)) why = "truncated or too long";
    if (!why && stored != (uint32_t)crc) why = "CRC mismatch";
    for (int k = 0; k < 4 && !why; k++)
        for (int i = 0; i < (*sets[k])->n && !why; i++)
            if ((*sets[k])->y[i] < 0 || (*sets[k])->y[i] >= (*sets[k])->classes) why = "a label out of range";
    fclose(f);
    if (why) {
        bool damaged = !strcmp(why, "CRC mismatch") || !strncmp(why, "truncated", 9) || !strcmp(why, "short header");
        log_msg(damaged ? LOG_WARN : LOG_INFO, "%s: not used (%s); generating the data again", path, why);
        data_splits_free(out);
        return false;
    }
    out->normalized = h.normalized;
    out->test_from_source = h.test_from_source;
    memcpy(out->mean, h.mean, sizeof out->mean);
    memcpy(out->std, h.std, sizeof out->std);
    return true;
}

// Keeps the splits for the next command (atomically: a crash leaves no half file). A failure only
// costs the next command the generation, so it is a warning.
static void splits_cache_write(const setup *s, const kdt_config *cfg, const data_spec *ds, const data_splits *sp) {
    splits_head h = {.magic = SPLITS_MAGIC, .version = SPLITS_VERSION,
                     .normalized = sp->normalized, .test_from_source = sp->test_from_source};
    splits_key(cfg, h.key);
    splits_dims(ds, h.dims);
    const dataset *sets[4] = {sp->pool, sp->transfer, sp->val, sp->test};
    for (int k = 0; k < 4; k++) {
        const dataset *d = sets[k];
        int32_t have[5] = {d->n, d->c, d->h, d->w, d->classes};
        if (memcmp(have, h.dims[k], sizeof have) != 0) return; // not what the config says: keep nothing
    }
    memcpy(h.mean, sp->mean, sizeof h.mean);
    memcpy(h.std, sp->std, sizeof h.std);
    size_t len = splits_bytes(h.dims);
    if (len > SPLITS_CACHE_MAX_BYTES) return;
    char path[4096], dir[4096];
    uint8_t *buf = malloc(len), *p = buf;
    kdt_status st = buf ? KDT_OK : kdt_fail(KDT_ERR_NOMEM, "out of memory");
    if (!st) {
        memcpy(p, &h, sizeof h), p += sizeof h;
        for (int k = 0; k < 4; k++) {
            size_t nx = sizeof(float) * (size_t)sets[k]->n * dataset_example_size(sets[k]);
            memcpy(p, sets[k]->x, nx), p += nx;
            memcpy(p, sets[k]->y, sizeof(int) * (size_t)sets[k]->n), p += sizeof(int) * (size_t)sets[k]->n;
        }
        uLong crc = crc32(0L, Z_NULL, 0);
        for (size_t off = 0; off < len - 4; off += 1u << 30)
            crc = crc32(crc, buf + off, (uInt)(len - 4 - off < (1u << 30) ? len - 4 - off : 1u << 30));
        uint32_t c32 = (uint32_t)crc;
        memcpy(p, &c32, 4);
        st = fs_join(dir, sizeof dir, s->run_dir, "cache");
        if (!st) st = fs_mkdir_p(dir);
        if (!st) st = splits_cache_path(s, path, sizeof path);
        if (!st) st = fs_write_atomic(path, buf, len);
    }
    if (st) log_warn("could not keep the generated data in the run directory (%s); the next command "
                     "generates it again", kdt_errmsg());
    free(buf);
}

// The splits: from the run's cache when the source is synthetic and the cache fits, else loaded
// or generated (and then kept for the next command).
static kdt_status load_splits(setup *s, const kdt_config *cfg, const data_spec *ds) {
    if (ds->source != DATA_SYNTHETIC) return data_load_splits(ds, &s->splits);
    if (splits_cache_read(s, cfg, ds, &s->splits)) return KDT_OK;
    kdt_status st = data_load_splits(ds, &s->splits);
    if (!st && !mpi_run_is_worker()) splits_cache_write(s, cfg, ds, &s->splits); // workers write nothing
    return st;
}

// Whether dir already holds exactly this partition (indices.bin equal, the other two files there):
// then saving it again would rewrite the same bytes, three fsyncs for nothing.
static bool partition_saved(const partition *p, const char *dir) {
    char path[4096];
    static const char *files[] = {"indices.csv", "report.csv"};
    for (size_t k = 0; k < 2; k++)
        if (fs_join(path, sizeof path, dir, files[k]) || !fs_exists(path)) return false;
    if (fs_join(path, sizeof path, dir, "indices.bin") || !fs_exists(path)) return false;
    partition have = {0};
    if (partition_load(path, &have)) return false;
    int total = p->start[p->participants];
    bool same = have.participants == p->participants && have.pool_n == p->pool_n && have.classes == p->classes &&
                memcmp(have.start, p->start, sizeof(int) * (size_t)(p->participants + 1)) == 0 &&
                memcmp(have.index, p->index, sizeof(int) * (size_t)total) == 0;
    partition_free(&have);
    return same;
}

static void data_spec_from(data_spec *d, const kdt_config *cfg) {
    data_spec_default(d);
    d->source = cfg->data.source;
    d->path = cfg->data.path;
    d->cifar100_coarse = cfg->data.cifar100_labels == CONFIG_LABELS_COARSE;
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
    p->scheme = cfg->partition.scheme;
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

kdt_status setup_open_run_dir(setup *s, const kdt_config *cfg) {
    memset(s, 0, sizeof *s);
    s->lock_fd = -1;
    snprintf(s->run_dir, sizeof s->run_dir, "%s", cfg->output.dir);
    bool owner = !mpi_run_is_worker(); // MPI workers neither lock nor write the run directory
    kdt_status st = owner ? lock_run_dir(s) : KDT_OK;
    return st || !owner ? st : setup_check_run_dir(cfg, s->run_dir);
}

// The data and the partition of a run directory already taken.
static kdt_status make_partition(setup *s, const kdt_config *cfg, bool print) {
    bool owner = !mpi_run_is_worker();
    data_spec ds;
    data_spec_from(&ds, cfg);
    double t0 = timer_now();
    kdt_status st = load_splits(s, cfg, &ds);
    if (st) return st;
    double t1 = timer_now();
    const dataset *pool = s->splits.pool;
    log_info("data: %s, %dx%dx%d, %d classes; pool %d, transfer %d, validation %d, test %d",
             data_source_name(ds.source), pool->c, pool->h, pool->w, pool->classes, pool->n,
             s->splits.transfer->n, s->splits.val->n, s->splits.test->n);
    partition_spec ps;
    partition_spec_from(&ps, cfg);
    if ((st = partition_make(&ps, pool, &s->part))) return st;
    double t2 = timer_now();
    char dir[4096];
    if ((st = fs_join(dir, sizeof dir, s->run_dir, "partition"))) return st;
    if (owner && !partition_saved(&s->part, dir) && (st = partition_save(&s->part, pool, dir))) return st;
    log_debug("setup: data %.1f ms, partition %.1f ms, saving it %.1f ms", 1e3 * (t1 - t0), 1e3 * (t2 - t1),
              1e3 * (timer_now() - t2));
    if (print) partition_print_table(stdout, &s->part, pool);
    log_info("partition: %s, label skew %.3f (mean total-variation distance from the pool), saved in %s",
             partition_scheme_name(cfg->partition.scheme),
             partition_label_skew(&s->part, pool), dir);
    return KDT_OK;
}

kdt_status setup_partition(setup *s, const kdt_config *cfg, bool print) {
    kdt_status st = setup_open_run_dir(s, cfg);
    return st ? st : make_partition(s, cfg, print);
}

kdt_status setup_federation(setup *s, const kdt_config *cfg, int workers) {
    kdt_status st = setup_open_run_dir(s, cfg);
    return st ? st : setup_build_federation(s, cfg, workers, NULL, NULL);
}

kdt_status setup_build_federation(setup *s, const kdt_config *cfg, int workers, kd_recall_fn recall, void *ctx) {
    model_set_threads(workers > 1 ? 1 : setup_threads(cfg));
    kdt_status st = make_partition(s, cfg, false);
    if (mpi_run_active()) st = mpi_run_agree(st, "loading the data and the partition");
    if (st) return st;
    const dataset *pool = s->splits.pool;
    int P = cfg->federation.participants;
    for (int c = 0; c < P; c++) {
        model_spec *m = &s->specs[c];
        memset(m, 0, sizeof *m);
        m->arch = cfg->model.arch.v[cfg->model.arch.n == 1 ? 0 : c];
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
                     .schedule = cfg->pretrain.schedule,
                     .step_epochs = cfg->pretrain.step_epochs,
                     .gamma = cfg->pretrain.gamma,
                     .warmup_epochs = cfg->pretrain.warmup_epochs},
        .kd = {cfg->kd.sgd.lr, cfg->kd.sgd.momentum, cfg->kd.sgd.weight_decay, cfg->kd.sgd.epochs,
               cfg->kd.sgd.batch_size, cfg->kd.sgd.nesterov, cfg->kd.sgd.augment},
        .augment = {cfg->data.augment.crop, cfg->data.augment.crop_padding,
                    data_flip_resolve(cfg->data.augment.flip, cfg->data.source)},
        .seed = (uint64_t)cfg->experiment.seed,
        .checkpoint_dir = mpi_run_is_worker() ? NULL : ckpt,
        .workers = workers,
        .recall = recall,
        .recall_ctx = ctx,
    };
    double t0 = timer_now();
    st = kd_federation_create(&s->fed, &fs, &s->splits, &s->part);
    // Over MPI the participants are shared out among the ranks.
    if (mpi_run_active()) return mpi_run_pretrain(s->fed, ckpt, st);
    if (!st) st = kd_federation_pretrain(s->fed);
    log_debug("setup: participants %.1f ms", 1e3 * (timer_now() - t0));
    return st;
}

void setup_free(setup *s) {
    kd_federation_destroy(s->fed);
    partition_free(&s->part);
    data_splits_free(&s->splits);
    if (s->lock_fd > 0) close(s->lock_fd);
    memset(s, 0, sizeof *s);
    s->lock_fd = -1;
}
