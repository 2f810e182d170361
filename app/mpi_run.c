// The master-worker MPI mode (see mpi_run.h): the start message, the agreements that keep every
// rank on the same path, the shared pre-training, and the exchange of work units and evaluations.
// The only file with MPI calls; without KDTUNE_MPI it is a few stubs.
#include "app/mpi_run.h"

#ifndef KDTUNE_MPI

void mpi_run_init(int *argc, char ***argv) { (void)argc, (void)argv; }
int mpi_run_rank(void) { return 0; }
int mpi_run_size(void) { return 1; }
void mpi_run_allow(bool spreads) { (void)spreads; }
bool mpi_run_active(void) { return false; }
bool mpi_run_is_worker(void) { return false; }
int mpi_run_worker_main(void) { return 0; }
int mpi_run_finalize(int code) { return code; }
kdt_status mpi_run_start(const kdt_config *cfg, const char *pairs) { (void)cfg, (void)pairs; return KDT_OK; }
kdt_status mpi_run_agree(kdt_status mine, const char *what) { (void)what; return mine; }
kdt_status mpi_run_opened(kdt_status mine, int threads) { (void)threads; return mine; }
kdt_status mpi_run_pretrain(kd_federation *f, const char *checkpoint_dir, kdt_status mine) {
    (void)checkpoint_dir;
    return mine ? mine : kd_federation_pretrain(f);
}
kdt_status mpi_run_create_evaluator(evaluator **out, setup *s, const kdt_config *cfg, int workers) {
    return evaluator_create(out, s, cfg, workers);
}
kdt_status mpi_run_pipeline(pipeline *p, const pipeline_phases *ph) { return pipeline_run(p, ph); }

#else

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/check.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/timer.h"

// TAG_DOWN + thread: to one worker thread; TAG_OUTCOMES + thread: a worker thread's per-image
// outcomes, right after the message they belong to.
enum { TAG_START = 1, TAG_UP = 2, TAG_DOWN = 16, TAG_OUTCOMES = 16 + 1024 };
enum { MAX_THREADS = 1024, HOST_MAX = 64, TEXT_MAX = 1024 };

// Every message between rank 0 and a worker thread. Ranks run the same binary (MPI_BYTE).
typedef enum {
    MSG_READY,       // up: the thread is free (after its start or a unit)
    MSG_EVAL_DONE,   // up: an evaluation unit's line, to append (then free)
    MSG_TUNE_DONE,   // up: a tuning unit ended, with its status (then free)
    MSG_LOOKUP,      // up: line `index` of a run: rank 0's answer or "train it"
    MSG_APPEND,      // up: a trained evaluation of a tuning run
    MSG_APPEND_REC,  // up: a tuning run's recommendation
    MSG_RUN_EVALS,   // up: a run's lines (the answer's `found` is their count; the lines follow)
    MSG_UNIT_EVAL,   // down: evaluate eval.run/index/setting
    MSG_UNIT_TUNE,   // down: tune `pair` with `strategy`
    MSG_ANSWER,      // down: to a LOOKUP or an APPEND
    MSG_STOP,        // down: the job is over, with its status
} msg_kind;

typedef struct {
    int kind, thread, status, strategy, found;
    int outcomes;       // up, with an APPEND or EVAL_DONE: outcome sets that follow (0, 1, or 2 with DML's peer)
    int wave_first;     // down, with a UNIT_TUNE: the pairs before this index are earlier waves
    int ex_count;       // up, with a DONE: the thread's exchanges since its last DONE ...
    double ex_seconds;  // ... and the seconds it waited for their answers
    tuning_pair pair;
    store_eval eval;
    store_recommendation rec;
    char text[TEXT_MAX]; // the message of a failure
} msg;

// What rank 0 tells the workers first: go (with the config) or exit with a code.
enum { PAIRS_SPEC_MAX = 16384 };

typedef struct {
    int go, exit_code, log_level;
    kdt_config cfg;
    char pairs[PAIRS_SPEC_MAX]; // rank 0's --pairs ("" for all pairs): the same list, in order
} start_msg;

// What each rank tells the others once the run is open.
typedef struct {
    int threads, pid;
    char host[HOST_MAX];
} rank_info;

static struct {
    int rank, size;
    bool mpi, spreads, thread_multiple;
    bool started;   // rank 0: START sent
    bool gone;      // the workers have returned (an agreement failed) or were stopped
    rank_info *ranks; // (size) after the run is open
} g = {0, 1, false, false, false, false, false, NULL};

static volatile sig_atomic_t g_signal;

static void on_signal(int sig) { g_signal = sig; }

void mpi_run_init(int *argc, char ***argv) {
    // Only under a launcher: a plain `kdtune` never starts MPI (it is slow and may complain).
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK")) return;
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) return;
    g.mpi = true;
    g.thread_multiple = provided >= MPI_THREAD_MULTIPLE;
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.size);
    if (g.rank == 0 && g.size > 1) { // mpirun ends the job with SIGTERM when a rank dies: report it
        struct sigaction sa = {0};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
    }
}

int mpi_run_rank(void) { return g.rank; }
int mpi_run_size(void) { return g.size; }
void mpi_run_allow(bool spreads) {
    g.spreads = spreads;
    if (!spreads && g.rank == 0 && g.size > 1)
        log_warn("this command runs on rank 0 alone while the other ranks wait (run, grid and tune "
                 "spread over the ranks)");
}
bool mpi_run_active(void) { return g.size > 1 && g.spreads; }
bool mpi_run_is_worker(void) { return mpi_run_active() && g.rank > 0; }

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

// Waiting for a message without spinning a core for long: a hundred probes, then probes that yield
// the core for YIELD_US (an answer that comes soon is seen at once, even on a busy node), then naps
// growing to NAP_MAX_US (an idle rank must not take the CPU of a rank that trains on the same
// node; the nap bounds the latency it adds to a unit).
enum { SPINS = 100, YIELD_US = 200, NAP_MAX_US = 250 };

typedef struct {
    int spins;
    long nap;
    double t0;
} backoff;

static void backoff_wait(backoff *b) {
    if (b->spins++ < SPINS) return;
    if (b->spins == SPINS + 1) b->t0 = timer_now();
    if (timer_now() - b->t0 < YIELD_US * 1e-6) {
        sched_yield();
        return;
    }
    sleep_us(b->nap);
    if (b->nap < NAP_MAX_US) b->nap += b->nap / 2;
}

// Waits for a message; poll() is called between probes, and a non-OK status from it ends the wait.
static kdt_status wait_probe(int source, int tag, MPI_Status *st, kdt_status (*poll)(void *), void *ctx) {
    backoff b = {0, 10, 0};
    for (;;) {
        int flag = 0;
        MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, st);
        if (flag) return KDT_OK;
        if (poll) {
            kdt_status s = poll(ctx);
            if (s) return s;
        }
        backoff_wait(&b);
    }
}

static void send_msg(const msg *m, int dest, int tag) {
    MPI_Send(m, (int)sizeof *m, MPI_BYTE, dest, tag, MPI_COMM_WORLD);
}

// ---- start, agreement, end -------------------------------------------------------------------

kdt_status mpi_run_start(const kdt_config *cfg, const char *pairs) {
    if (pairs && strlen(pairs) >= PAIRS_SPEC_MAX)
        return kdt_fail(KDT_ERR_USAGE, "--pairs: %zu characters, more than MPI runs take (%d); list fewer pairs",
                        strlen(pairs), PAIRS_SPEC_MAX - 1);
    start_msg *m = calloc(1, sizeof *m);
    if (!m) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    m->go = 1;
    snprintf(m->pairs, sizeof m->pairs, "%s", pairs ? pairs : "");
    m->log_level = (int)log_get_level();
    m->cfg = *cfg;
    for (int r = 1; r < g.size; r++) MPI_Send(m, (int)sizeof *m, MPI_BYTE, r, TAG_START, MPI_COMM_WORLD);
    free(m);
    g.started = true;
    return KDT_OK;
}

kdt_status mpi_run_agree(kdt_status mine, const char *what) {
    // The lowest failed rank and its status.
    int in[2] = {mine ? g.rank : g.size, (int)mine}, first[2];
    MPI_Allreduce(in, first, 1, MPI_2INT, MPI_MINLOC, MPI_COMM_WORLD);
    if (first[0] == g.size) return KDT_OK;
    g.gone = true;
    if (mine) return mine;
    return kdt_fail(KDT_ERR_STATE, "rank %d failed %s (its message is above)", first[0], what);
}

// Rank 0 releases every worker thread: each says READY first (or has), then gets STOP.
static void release_workers(kdt_status status);
static void master_free(void);

int mpi_run_finalize(int code) {
    if (!g.mpi) return code;
    if (g.rank == 0 && g.size > 1) {
        if (!g.started) { // the command ended before the run opened: the workers just exit
            start_msg *m = calloc(1, sizeof *m);
            if (m) {
                m->exit_code = code;
                for (int r = 1; r < g.size; r++) MPI_Send(m, (int)sizeof *m, MPI_BYTE, r, TAG_START, MPI_COMM_WORLD);
                free(m);
            }
        } else if (!g.gone) {
            release_workers(code ? KDT_ERR_STATE : KDT_OK);
        }
        master_free();
    }
    free(g.ranks);
    g.ranks = NULL;
    MPI_Finalize();
    return code;
}

// ---- pre-training shared out ---------------------------------------------------------------

// Sends participant c's parameters and running statistics from root to every rank.
static void bcast_weights(kd_federation *f, int c, int root) {
    model *m = kd_federation_model(f, c);
    for (int i = 0; i < model_num_tensors(m); i++) {
        model_tensor t = model_get_tensor(m, i);
        MPI_Bcast(t.data, (int)t.numel, MPI_FLOAT, root, MPI_COMM_WORLD);
    }
}

kdt_status mpi_run_pretrain(kd_federation *f, const char *checkpoint_dir, kdt_status mine) {
    kdt_status s = mpi_run_agree(mine, "setting up the federation");
    if (s) return s;
    int P = kd_federation_spec_of(f)->participants;
    int workers = kd_federation_spec_of(f)->workers;
    int have[64] = {0};       // loaded from its checkpoint by rank 0
    double seconds[64] = {0}; // pre-training time
    bool from_ckpt[64] = {false};
    char paths[64][256];
    if (g.rank == 0) {
        s = fs_mkdir_p(checkpoint_dir);
        for (int c = 0; !s && c < P; c++) {
            char name[32];
            snprintf(name, sizeof name, "p%d.ckpt", c);
            if ((s = fs_join(paths[c], sizeof paths[c], checkpoint_dir, name))) break;
            if (!fs_exists(paths[c])) continue;
            if (model_load(kd_federation_model(f, c), paths[c]) == KDT_OK) have[c] = 1;
            else log_warn("%s; retraining participant %d", kdt_errmsg(), c);
        }
    }
    if ((s = mpi_run_agree(s, "reading the checkpoints"))) return s;
    MPI_Bcast(have, P, MPI_INT, 0, MPI_COMM_WORLD);
    // The participants to train, shared out in turn; each rank trains its own with its threads.
    int owner[64], n_missing = 0;
    for (int c = 0; c < P; c++) owner[c] = have[c] ? 0 : n_missing++ % g.size;
    kdt_status status[64] = {KDT_OK};
    char(*msgs)[TEXT_MAX] = calloc(64, TEXT_MAX);
    if (!msgs) s = kdt_fail(KDT_ERR_NOMEM, "out of memory");
    if (!s) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(workers) if (workers > 1)
        for (int c = 0; c < P; c++) {
            if (have[c] || owner[c] != g.rank) continue;
            status[c] = kd_federation_train_one(f, c, &seconds[c]);
            if (status[c]) snprintf(msgs[c], TEXT_MAX, "%s", kdt_errmsg());
        }
        for (int c = 0; c < P && !s; c++)
            if ((s = status[c])) kdt_fail(s, "%s", msgs[c]);
    }
    free(msgs);
    if ((s = mpi_run_agree(s, "pre-training its participants"))) return s;
    // Every participant from where it is to every rank; rank 0 writes the new checkpoints.
    for (int c = 0; c < P; c++) {
        int root = have[c] ? 0 : owner[c];
        bcast_weights(f, c, root);
        MPI_Bcast(&seconds[c], 1, MPI_DOUBLE, root, MPI_COMM_WORLD);
        from_ckpt[c] = have[c];
        if (g.rank == 0 && !have[c] && !s) s = model_save(kd_federation_model(f, c), paths[c]);
    }
    if (!s) s = kd_federation_adopt(f, from_ckpt, seconds);
    if ((s = mpi_run_agree(s, "measuring the participants"))) return s;
    if (g.rank == 0)
        for (int c = 0; c < P; c++) {
            const kd_participant *p = kd_federation_participant(f, c);
            log_info("participant %d (%d examples): %s, val %.1f%%, test %.1f%% (own classes %.1f%%)", c,
                     p->local_n, have[c] ? "checkpoint loaded" : "pre-trained", 100 * p->val_acc,
                     100 * p->test_acc, 100 * p->own_test_acc);
        }
    return KDT_OK;
}

// ---- the worker side -----------------------------------------------------------------------

typedef struct {
    bool unit[MAX_THREADS]; // the thread evaluates a single unit: no lookup, rank 0 appends
    int ex_count[MAX_THREADS];      // round trips to rank 0 (asks, and a DONE answered at once
    double ex_seconds[MAX_THREADS]; // by the next unit) and their time, since the last DONE
    char journal[CFG_STR_MAX + 32]; // rank 0's, for messages
    // A unit's per-image outcomes, sent after its EVAL_DONE (one buffer per thread).
    uint8_t *outcomes[MAX_THREADS];
    size_t outcomes_len[MAX_THREADS], outcomes_cap[MAX_THREADS];
    int outcome_sets[MAX_THREADS];
} worker_ctx;

static worker_ctx g_worker;

static void recv_down(int thread, msg *m) {
    MPI_Status st;
    wait_probe(0, TAG_DOWN + thread, &st, NULL, NULL);
    MPI_Recv(m, (int)sizeof *m, MPI_BYTE, 0, TAG_DOWN + thread, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}

// One question to rank 0 and its answer.
static kdt_status ask(msg *m, int thread) {
    m->thread = thread;
    double t0 = timer_now();
    send_msg(m, 0, TAG_UP);
    recv_down(thread, m);
    g_worker.ex_seconds[thread] += timer_now() - t0;
    g_worker.ex_count[thread]++;
    KDT_ASSERT(m->kind == MSG_ANSWER);
    if (m->status) return kdt_fail((kdt_status)m->status, "rank 0: %s", m->text);
    return KDT_OK;
}

static kdt_status remote_lookup(void *ctx, int worker, store_eval *out, bool *found) {
    worker_ctx *w = ctx;
    *found = false;
    if (w->unit[worker]) return KDT_OK; // rank 0 looked before handing it out
    msg *m = calloc(1, sizeof *m);
    if (!m) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    m->kind = MSG_LOOKUP;
    m->eval = *out;
    kdt_status s = ask(m, worker);
    if (!s && m->found) {
        *out = m->eval;
        *found = true;
    }
    free(m);
    return s;
}

// Packs the outcome sets (val then test bits of each) into the thread's buffer.
static kdt_status pack_outcomes(worker_ctx *w, int worker, const store_outcomes *mine, const store_outcomes *peer) {
    w->outcome_sets[worker] = mine ? (peer ? 2 : 1) : 0;
    w->outcomes_len[worker] = 0;
    if (!mine) return KDT_OK;
    size_t bv = ((size_t)mine->n_val + 7) / 8, bt = ((size_t)mine->n_test + 7) / 8;
    size_t need = (size_t)w->outcome_sets[worker] * (bv + bt);
    if (need > w->outcomes_cap[worker]) {
        uint8_t *grown = realloc(w->outcomes[worker], need);
        if (!grown) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
        w->outcomes[worker] = grown;
        w->outcomes_cap[worker] = need;
    }
    uint8_t *b = w->outcomes[worker];
    memcpy(b, mine->val, bv), memcpy(b + bv, mine->test, bt);
    if (peer) memcpy(b + bv + bt, peer->val, bv), memcpy(b + 2 * bv + bt, peer->test, bt);
    w->outcomes_len[worker] = need;
    return KDT_OK;
}

// Sends the thread's packed outcomes, if any, after the message they belong to.
static void send_outcomes(worker_ctx *w, int worker) {
    if (w->outcome_sets[worker])
        MPI_Send(w->outcomes[worker], (int)w->outcomes_len[worker], MPI_BYTE, 0, TAG_OUTCOMES + worker, MPI_COMM_WORLD);
    w->outcome_sets[worker] = 0;
}

static kdt_status remote_append(void *ctx, int worker, store_eval *e, const store_outcomes *mine,
                                const store_outcomes *peer) {
    worker_ctx *w = ctx;
    kdt_status s = pack_outcomes(w, worker, mine, peer);
    if (s || w->unit[worker]) return s; // goes back with EVAL_DONE
    msg *m = calloc(1, sizeof *m);
    if (!m) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    m->kind = MSG_APPEND;
    m->eval = *e;
    m->outcomes = w->outcome_sets[worker];
    m->thread = worker;
    double t0 = timer_now();
    send_msg(m, 0, TAG_UP);
    send_outcomes(w, worker);
    recv_down(worker, m);
    w->ex_seconds[worker] += timer_now() - t0;
    w->ex_count[worker]++;
    KDT_ASSERT(m->kind == MSG_ANSWER);
    if (m->status) s = kdt_fail((kdt_status)m->status, "rank 0: %s", m->text);
    if (!s) *e = m->eval; // as stored
    free(m);
    return s;
}

static kdt_status remote_append_rec(void *ctx, int worker, const store_recommendation *r) {
    (void)ctx;
    msg *m = calloc(1, sizeof *m);
    if (!m) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    m->kind = MSG_APPEND_REC;
    m->rec = *r;
    kdt_status s = ask(m, worker);
    free(m);
    return s;
}

static kdt_status remote_run_evals(void *ctx, int worker, const store_run *run, store_eval **out, size_t *n) {
    (void)ctx;
    *out = NULL;
    *n = 0;
    msg *m = calloc(1, sizeof *m);
    if (!m) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    m->kind = MSG_RUN_EVALS;
    m->eval.run = *run;
    kdt_status s = ask(m, worker);
    size_t count = !s && m->found > 0 ? (size_t)m->found : 0;
    free(m);
    if (s || count == 0) return s;
    store_eval *lines = malloc(count * sizeof *lines);
    KDT_ASSERT(lines); // the lines come next whatever happens: receive them (or abort)
    MPI_Status st;
    wait_probe(0, TAG_DOWN + worker, &st, NULL, NULL);
    MPI_Recv(lines, (int)(count * sizeof *lines), MPI_BYTE, 0, TAG_DOWN + worker, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    *out = lines;
    *n = count;
    return KDT_OK;
}

kdt_status mpi_run_create_evaluator(evaluator **out, setup *s, const kdt_config *cfg, int workers) {
    if (fs_join(g_worker.journal, sizeof g_worker.journal, cfg->output.dir, "trials.jsonl"))
        snprintf(g_worker.journal, sizeof g_worker.journal, "the journal");
    evaluator_remote r = {&g_worker, g_worker.journal, remote_lookup, remote_append, remote_append_rec,
                          remote_run_evals};
    return evaluator_create_remote(out, s, cfg, workers, &r);
}

// One worker thread: READY, then units until STOP; returns the job's status.
static kdt_status worker_thread(pipeline *p, int t) {
    msg *m = calloc(1, sizeof *m), *r = calloc(1, sizeof *r);
    KDT_ASSERT(m && r); // two small messages
    m->kind = MSG_READY;
    kdt_status job;
    for (;;) {
        m->thread = t;
        double t0 = timer_now();
        send_msg(m, 0, TAG_UP);
        if (m->outcomes) send_outcomes(&g_worker, t);
        recv_down(t, r);
        if (r->found) { // a unit handed out as the answer to this DONE: a round trip
            g_worker.ex_seconds[t] += timer_now() - t0;
            g_worker.ex_count[t]++;
        }
        memset(m, 0, sizeof *m);
        if (r->kind == MSG_STOP) {
            job = (kdt_status)r->status;
            break;
        }
        kdt_status s;
        if (r->kind == MSG_UNIT_EVAL) {
            g_worker.unit[t] = true;
            g_worker.outcome_sets[t] = 0;
            s = evaluator_eval(p->eval, t, &r->eval.run, r->eval.index, &r->eval.setting, &m->eval);
            m->kind = MSG_EVAL_DONE;
            m->outcomes = s ? 0 : g_worker.outcome_sets[t];
            if (s) g_worker.outcome_sets[t] = 0;
        } else {
            KDT_ASSERT(r->kind == MSG_UNIT_TUNE);
            g_worker.unit[t] = false;
            s = tuning_tune(p->eval, t, p->cfg, (tuner_strategy)r->strategy, r->pair, p->pairs, r->wave_first, NULL);
            m->kind = MSG_TUNE_DONE;
        }
        m->status = (int)s;
        if (s) snprintf(m->text, sizeof m->text, "%s", kdt_errmsg());
        m->ex_count = g_worker.ex_count[t];
        m->ex_seconds = g_worker.ex_seconds[t];
        g_worker.ex_count[t] = 0;
        g_worker.ex_seconds[t] = 0;
    }
    free(m);
    free(r);
    return job;
}

int mpi_run_worker_main(void) {
    start_msg *sm = calloc(1, sizeof *sm);
    if (!sm) MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Status st;
    wait_probe(0, TAG_START, &st, NULL, NULL);
    MPI_Recv(sm, (int)sizeof *sm, MPI_BYTE, 0, TAG_START, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (!sm->go) {
        int code = sm->exit_code;
        free(sm);
        MPI_Finalize();
        return code;
    }
    g.spreads = true;
    // Rank 0 speaks for the job; workers add warnings and errors (debug lines with -v).
    log_set_level(sm->log_level >= LOG_DEBUG ? LOG_DEBUG : LOG_WARN);
    pipeline p;
    kdt_status s = pipeline_open(&p, &(pipeline_request){&sm->cfg, sm->pairs[0] ? sm->pairs : NULL, true});
    if (!s) {
        int threads = g.thread_multiple ? p.workers : 1;
        kdt_status *job = calloc((size_t)threads, sizeof *job);
        KDT_ASSERT(job);
#pragma omp parallel for schedule(static, 1) num_threads(threads)
        for (int t = 0; t < threads; t++) job[t] = worker_thread(&p, t);
        s = job[0];
        free(job);
    }
    pipeline_close(&p);
    free(sm);
    free(g.ranks);
    g.ranks = NULL;
    MPI_Finalize();
    return kdt_exit_code(s);
}

// ---- rank 0 ------------------------------------------------------------------------------------

// A worker thread as rank 0 sees it.
typedef struct {
    int rank, thread;
    enum { SLOT_STARTING, SLOT_IDLE, SLOT_BUSY, SLOT_STOPPED } state;
    bool after_done; // its last message was a DONE (its next unit answers it at once)
    char unit[160];  // the unit in flight
    char what[400];  // and what it does now
} slot;

typedef struct {
    pipeline *p;
    store *st;
    slot *slots;
    int n_slots;
    int *first_slot;     // (size) per rank: the index of its thread 0 in slots
    // Units of the current evaluation phase: eval lines to train.
    store_eval *units;
    size_t n_units, cap_units;
    tuning_progress *prog;
    int trained;
    double train_seconds;
    store_eval pending;      // a unit's line, appended once its worker has its next unit
    bool has_pending;
    int exchanges;           // round trips seen by the workers, and their seconds
    double exchange_seconds;
    double next_check;
} master;

static master *g_master; // made when the run opens

static void master_free(void) {
    if (!g_master) return;
    free(g_master->slots);
    free(g_master->first_slot);
    free(g_master->units);
    free(g_master);
    g_master = NULL;
}

static slot *slot_of(master *m, int rank, int thread) {
    KDT_ASSERT(rank >= 1 && rank < g.size && thread >= 0 && thread < g.ranks[rank].threads);
    return &m->slots[m->first_slot[rank] + thread];
}

static void describe_eval(char *out, size_t cap, const store_eval *e) {
    char key[96];
    store_run_key(&e->run, key, sizeof key);
    snprintf(out, cap, "%s #%d (T %g, alpha %g, %s, %s)", key, e->index, e->setting.temperature,
             e->setting.alpha, kd_transfer_name(e->setting.transfer), kd_position_name(e->setting.position));
}

// What was in flight, one line per busy worker thread (or only those of `rank` when >= 1).
static void report_in_flight(master *m, int rank) {
    int n = 0;
    for (int k = 0; k < m->n_slots; k++) {
        slot *s = &m->slots[k];
        if (s->state != SLOT_BUSY || (rank >= 1 && s->rank != rank)) continue;
        log_error("  in flight on rank %d, thread %d: %s", s->rank, s->thread, s->what);
        n++;
    }
    if (!n) log_error("  nothing was in flight%s", rank >= 1 ? " there" : "");
    log_error("every finished evaluation is in %s; run the same command again (with any -np, or "
              "without mpirun) to continue", m->st ? store_journal_path(m->st) : "the journal");
}

static kdt_status flush_pending(master *m);

// Between probes: a signal from mpirun, or a worker process on this node that is gone, ends the
// job here with a report (the journal is durable line by line, and the one line received but not
// yet appended is appended first, so nothing finished is lost).
static kdt_status master_poll(void *ctx) {
    master *m = ctx;
    if (g_signal) {
        if (flush_pending(m)) log_error("%s", kdt_errmsg());
        log_error("MPI: the job is being ended (signal %d; a rank died or was killed, see mpirun's "
                  "message)", (int)g_signal);
        report_in_flight(m, -1);
        fflush(NULL);
        _exit(1);
    }
    double now = timer_now();
    if (now < m->next_check) return KDT_OK;
    m->next_check = now + 0.2;
    char host[HOST_MAX] = "";
    gethostname(host, sizeof host - 1);
    for (int r = 1; r < g.size; r++) {
        if (strcmp(g.ranks[r].host, host) != 0) continue;
        if (kill(g.ranks[r].pid, 0) == 0 || errno != ESRCH) continue;
        if (flush_pending(m)) log_error("%s", kdt_errmsg());
        log_error("MPI: rank %d (pid %d on %s) is gone", r, g.ranks[r].pid, host);
        report_in_flight(m, r);
        fflush(NULL);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return KDT_OK;
}

// A send that cannot hang on a dead worker: rank 0 polls (signals, dead ranks) until it is done.
static void master_send_bytes(master *m, const void *data, size_t bytes, int dest, int tag) {
    MPI_Request req;
    MPI_Isend(data, (int)bytes, MPI_BYTE, dest, tag, MPI_COMM_WORLD, &req);
    backoff b = {0, 10, 0};
    for (;;) {
        int done = 0;
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done) return;
        master_poll(m);
        backoff_wait(&b);
    }
}

static void master_send(master *m, const msg *out, int dest, int tag) {
    master_send_bytes(m, out, sizeof *out, dest, tag);
}

static void recv_up(master *m, msg *out, int *source) {
    MPI_Status st;
    wait_probe(MPI_ANY_SOURCE, TAG_UP, &st, master_poll, m);
    *source = st.MPI_SOURCE;
    MPI_Recv(out, (int)sizeof *out, MPI_BYTE, st.MPI_SOURCE, TAG_UP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}

static bool close_to(double a, double b) {
    double d = fabs(a - b), m = fmax(fabs(a), fabs(b));
    return d <= 1e-12 * m || d <= 1e-300;
}

// Whether a journal line is what the run asks for now (what tuner_replay checks in one process).
static bool same_setting(const store_setting *a, const store_setting *b) {
    return a->i == b->i && a->j == b->j && a->position == b->position && a->transfer == b->transfer &&
           a->method == b->method && a->replicate == b->replicate && close_to(a->temperature, b->temperature) &&
           close_to(a->alpha, b->alpha) && close_to(a->fidelity, b->fidelity);
}

// Line q->index of q->run from the store as evaluator_eval would give it: the journal's line, or
// a cached result appended now (*found), or nothing (to train).
static kdt_status master_resolve(master *m, store_eval *q, bool *found) {
    *found = false;
    if (store_has(m->st, &q->run, q->index)) {
        store_eval *lines;
        size_t n;
        kdt_status s = store_run_evals(m->st, &q->run, &lines, &n);
        if (s) return s;
        if ((size_t)q->index < n) {
            if (!same_setting(&lines[q->index].setting, &q->setting)) {
                char key[96], have[200], want[200];
                store_run_key(&q->run, key, sizeof key);
                describe_eval(have, sizeof have, &lines[q->index]);
                describe_eval(want, sizeof want, q);
                free(lines);
                return kdt_fail(KDT_ERR_CONFIG, "%s: run %s: the journal has %s, but the run now asks "
                                "for %s: the run was made with another configuration (space, budget, "
                                "seed, initial points, settings or code); start it over under another name",
                                store_journal_path(m->st), key, have, want);
            }
            *q = lines[q->index];
            *found = true;
        }
        free(lines);
        if (*found) return KDT_OK;
    }
    q->cached = store_lookup(m->st, &q->setting, &q->result);
    if (!q->cached) return KDT_OK;
    *found = true;
    return store_append(m->st, q);
}

static void count_trained(master *m, const store_eval *e) {
    m->trained++;
    if (isfinite(e->result.seconds)) m->train_seconds += e->result.seconds;
}

// Collecting the units of an evaluation phase: tuning_default / tuning_grid run over this remote
// evaluator on rank 0; what the store holds is answered (and counted), the rest becomes a unit with
// a placeholder result (the grid's points do not depend on its results; its recommendation is
// written afterwards from the real ones).
static kdt_status collect_lookup(void *ctx, int worker, store_eval *out, bool *found) {
    (void)worker;
    master *m = ctx;
    kdt_status s = master_resolve(m, out, found);
    if (s || *found) {
        if (!s) tuning_progress_tick(m->prog);
        return s;
    }
    if (m->n_units == m->cap_units) {
        size_t cap = m->cap_units ? 2 * m->cap_units : 256;
        store_eval *u = realloc(m->units, cap * sizeof *u);
        if (!u) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
        m->units = u;
        m->cap_units = cap;
    }
    m->units[m->n_units++] = *out;
    memset(&out->result, 0, sizeof out->result);
    out->result.ok = true;
    *found = true;
    return KDT_OK;
}

static kdt_status collect_append(void *ctx, int worker, store_eval *e, const store_outcomes *mine,
                                 const store_outcomes *peer) {
    (void)ctx, (void)worker, (void)e, (void)mine, (void)peer;
    KDT_ASSERT(!"a collecting evaluator never trains");
    return KDT_ERR_STATE;
}

static kdt_status collect_append_rec(void *ctx, int worker, const store_recommendation *r) {
    (void)ctx, (void)worker, (void)r;
    return KDT_OK; // from placeholder results: dropped
}

static kdt_status collect_run_evals(void *ctx, int worker, const store_run *run, store_eval **out, size_t *n) {
    (void)worker;
    master *m = ctx;
    kdt_status s = store_run_evals(m->st, run, out, n);
    if (!s) for (size_t k = 0; k < *n; k++) tuning_progress_tick(m->prog);
    return s;
}

static void wait_ready(master *m, slot *target);

// Appends the line a worker sent with its DONE. Rank 0 first hands that worker its next unit, so
// that the journal's fsync overlaps the worker's training; until then the line is in flight (a
// crash of rank 0 in between loses it, as it loses what the workers train).
static kdt_status flush_pending(master *m) {
    if (!m->has_pending) return KDT_OK;
    m->has_pending = false;
    kdt_status st = store_append(m->st, &m->pending);
    if (!st) {
        count_trained(m, &m->pending);
        tuning_progress_tick(m->prog);
    }
    return st;
}

// Receives the per-image outcomes that follow a worker's APPEND or EVAL_DONE and records them
// before the line they belong to (a journal line implies its outcomes).
static kdt_status master_outcomes(master *m, const msg *in, int source) {
    if (!in->outcomes) return KDT_OK;
    const data_splits *sp = &m->p->setup.splits;
    size_t bv = ((size_t)sp->val->n + 7) / 8, bt = ((size_t)sp->test->n + 7) / 8;
    size_t len = (size_t)in->outcomes * (bv + bt);
    uint8_t *b = malloc(len);
    KDT_ASSERT(b); // the bytes come next whatever happens: receive them (or abort)
    MPI_Status st;
    wait_probe(source, TAG_OUTCOMES + in->thread, &st, master_poll, m);
    MPI_Recv(b, (int)len, MPI_BYTE, source, TAG_OUTCOMES + in->thread, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    store_outcomes mine = {b, b + bv, sp->val->n, sp->test->n}, peer = {b + bv + bt, b + 2 * bv + bt, sp->val->n, sp->test->n};
    kdt_status s = store_append_outcomes(m->st, &in->eval.setting, &mine, in->outcomes == 2 ? &peer : NULL);
    free(b);
    return s;
}

// Answers one message from a worker thread. Failures of rank 0 itself (the store) go back to the
// worker as its answer's status and are also returned.
static kdt_status master_handle(master *m, msg *in, int source, kdt_status *unit_status, char *unit_msg) {
    slot *s = slot_of(m, source, in->thread);
    kdt_status st = KDT_OK;
    bool found = false;
    switch ((msg_kind)in->kind) {
    case MSG_READY: s->state = SLOT_IDLE; return KDT_OK;
    case MSG_EVAL_DONE:
    case MSG_TUNE_DONE:
        s->state = SLOT_IDLE;
        s->after_done = true;
        m->exchanges += in->ex_count;
        m->exchange_seconds += in->ex_seconds;
        if (in->status) {
            *unit_status = (kdt_status)in->status;
            snprintf(unit_msg, TEXT_MAX, "rank %d: %.990s", source, in->text);
            return KDT_OK;
        }
        if ((st = master_outcomes(m, in, source))) return st;
        if (in->kind == MSG_EVAL_DONE) { // appended by flush_pending, after the next unit is out
            m->pending = in->eval;
            m->has_pending = true;
        }
        return KDT_OK;
    case MSG_LOOKUP:
        st = master_resolve(m, &in->eval, &found);
        if (!st && found) tuning_progress_tick(m->prog);
        if (!st && !found) { // the worker trains it now
            char d[200];
            describe_eval(d, sizeof d, &in->eval);
            snprintf(s->what, sizeof s->what, "%s, training %s", s->unit, d);
        }
        break;
    case MSG_APPEND:
        st = master_outcomes(m, in, source);
        if (!st) st = store_append(m->st, &in->eval);
        if (!st) {
            count_trained(m, &in->eval);
            tuning_progress_tick(m->prog);
        }
        break;
    case MSG_APPEND_REC:
        if (!store_has_recommendation(m->st, &in->rec.run, in->rec.evaluations))
            st = store_append_recommendation(m->st, &in->rec);
        break;
    case MSG_RUN_EVALS: {
        store_eval *lines;
        size_t n;
        if (!(st = store_run_evals(m->st, &in->eval.run, &lines, &n)) && n > INT_MAX / sizeof *lines)
            st = kdt_fail(KDT_ERR_STATE, "a run of %zu lines is too long to send", n);
        in->kind = MSG_ANSWER;
        in->status = (int)st;
        in->found = st ? 0 : (int)n;
        if (st) snprintf(in->text, sizeof in->text, "%s", kdt_errmsg());
        master_send(m, in, source, TAG_DOWN + in->thread);
        if (!st && n) master_send_bytes(m, lines, n * sizeof *lines, source, TAG_DOWN + in->thread);
        if (!st) free(lines);
        return st;
    }
    default: KDT_ASSERT(!"unexpected message to rank 0");
    }
    in->kind = MSG_ANSWER;
    in->status = (int)st;
    in->found = found;
    if (st) snprintf(in->text, sizeof in->text, "%s", kdt_errmsg());
    master_send(m, in, source, TAG_DOWN + in->thread);
    return st;
}

// Hands out n units (make(k, slot) fills the message of unit k) and answers the workers until
// every unit is done; the first failure stops handing out, waits for what is in flight and is
// returned.
typedef void (*make_unit)(master *m, size_t k, msg *out, slot *s);

static kdt_status master_dispatch(master *m, size_t n, make_unit make) {
    msg *in = calloc(1, sizeof *in), *out = calloc(1, sizeof *out);
    if (!in || !out) {
        free(in);
        free(out);
        return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    }
    size_t next = 0;
    int busy = 0;
    kdt_status failed = KDT_OK;
    char fail_msg[TEXT_MAX] = "";
    for (;;) {
        for (int k = 0; k < m->n_slots && next < n && !failed; k++) {
            slot *s = &m->slots[k];
            if (s->state != SLOT_IDLE) continue;
            memset(out, 0, sizeof *out);
            make(m, next++, out, s);
            out->found = s->after_done;
            s->after_done = false;
            s->state = SLOT_BUSY;
            busy++;
            master_send(m, out, s->rank, TAG_DOWN + s->thread);
        }
        kdt_status st = flush_pending(m);
        if (!failed && st) {
            failed = st;
            snprintf(fail_msg, sizeof fail_msg, "%s", kdt_errmsg());
        }
        if (busy == 0 && (next == n || failed)) break;
        int source;
        recv_up(m, in, &source);
        slot *s = slot_of(m, source, in->thread);
        bool was_busy = s->state == SLOT_BUSY;
        kdt_status unit_status = KDT_OK;
        char unit_msg[TEXT_MAX];
        st = master_handle(m, in, source, &unit_status, unit_msg);
        if (was_busy && s->state == SLOT_IDLE) busy--;
        if (!failed && (st || unit_status)) {
            failed = st ? st : unit_status;
            snprintf(fail_msg, sizeof fail_msg, "%s", st ? kdt_errmsg() : unit_msg);
        }
    }
    for (int k = 0; k < m->n_slots; k++) m->slots[k].after_done = false; // the next phase's first unit
    free(in);
    free(out);
    return failed ? kdt_fail(failed, "%s", fail_msg) : KDT_OK;
}

static void make_eval_unit(master *m, size_t k, msg *out, slot *s) {
    out->kind = MSG_UNIT_EVAL;
    out->eval = m->units[k];
    describe_eval(s->unit, sizeof s->unit, &m->units[k]);
    snprintf(s->what, sizeof s->what, "%s", s->unit);
}

// The tuning units of consecutive strategies: strategy-major, then pair.
static tuner_strategy g_unit_strategies[TUNER_N_STRATEGIES];
// gp_transfer's units: the pairs [g_wave_first, g_wave_first + count) of the current wave.
static int g_wave_first = -1;

static void make_tune_unit(master *m, size_t k, msg *out, slot *s) {
    size_t np = (size_t)m->p->n_pairs;
    tuner_strategy strategy;
    if (g_wave_first >= 0) { // one wave of gp_transfer: it learns from the waves before it
        strategy = TUNER_GP_TRANSFER;
        out->pair = m->p->pairs[(size_t)g_wave_first + k];
        out->wave_first = g_wave_first;
    } else {
        strategy = g_unit_strategies[k / np];
        out->pair = m->p->pairs[k % np];
        out->wave_first = 0;
    }
    out->kind = MSG_UNIT_TUNE;
    out->strategy = (int)strategy;
    snprintf(s->unit, sizeof s->unit, "tuning run %s/%d-%d", tuner_strategy_name(strategy),
             out->pair.i, out->pair.j);
    snprintf(s->what, sizeof s->what, "%s", s->unit);
}

static void wait_ready(master *m, slot *target) {
    msg *in = calloc(1, sizeof *in);
    KDT_ASSERT(in);
    while (target->state != SLOT_IDLE) {
        int source;
        recv_up(m, in, &source);
        kdt_status unit_status;
        char unit_msg[TEXT_MAX];
        master_handle(m, in, source, &unit_status, unit_msg);
        if (flush_pending(m)) log_error("%s", kdt_errmsg());
    }
    free(in);
}

static void release_workers(kdt_status status) {
    master *m = g_master;
    if (!m) return;
    msg *out = calloc(1, sizeof *out);
    KDT_ASSERT(out);
    for (int k = 0; k < m->n_slots; k++) {
        slot *s = &m->slots[k];
        if (s->state == SLOT_STOPPED) continue;
        wait_ready(m, s);
        out->kind = MSG_STOP;
        out->status = (int)status;
        master_send(m, out, s->rank, TAG_DOWN + s->thread);
        s->state = SLOT_STOPPED;
    }
    free(out);
    g.gone = true;
}

kdt_status mpi_run_opened(kdt_status mine, int threads) {
    kdt_status s = mpi_run_agree(mine, "opening the run");
    if (s) return s;
    rank_info me = {0, (int)getpid(), ""};
    gethostname(me.host, sizeof me.host - 1);
    if (g.rank > 0) {
        me.threads = g.thread_multiple ? threads : 1;
        if (threads > 1 && !g.thread_multiple)
            log_warn("rank %d: this MPI library has no MPI_THREAD_MULTIPLE: 1 thread evaluates here, "
                     "not %d", g.rank, threads);
    }
    g.ranks = calloc((size_t)g.size, sizeof *g.ranks);
    if (!g.ranks) MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Allgather(&me, (int)sizeof me, MPI_BYTE, g.ranks, (int)sizeof me, MPI_BYTE, MPI_COMM_WORLD);
    if (g.rank == 0) {
        master *m = calloc(1, sizeof *m);
        if (!m || !(m->first_slot = calloc((size_t)g.size, sizeof *m->first_slot))) MPI_Abort(MPI_COMM_WORLD, 1);
        for (int r = 1; r < g.size; r++) m->first_slot[r] = m->n_slots, m->n_slots += g.ranks[r].threads;
        if (!(m->slots = calloc((size_t)m->n_slots, sizeof *m->slots))) MPI_Abort(MPI_COMM_WORLD, 1);
        for (int r = 1; r < g.size; r++)
            for (int t = 0; t < g.ranks[r].threads; t++)
                m->slots[m->first_slot[r] + t] = (slot){.rank = r, .thread = t, .state = SLOT_STARTING};
        g_master = m;
    }
    return KDT_OK;
}

kdt_status mpi_run_pipeline(pipeline *p, const pipeline_phases *ph) {
    if (g.gone) return kdt_fail(KDT_ERR_STATE, "the MPI workers are gone: one run per command");
    const kdt_config *cfg = p->cfg;
    master *m = g_master;
    KDT_ASSERT(m); // made when the run opened
    m->p = p;
    m->st = evaluator_store(p->eval);
    size_t total = pipeline_evals_per_pair(cfg, ph) * (size_t)p->n_pairs;
    tuning_progress prog = {progress_create("evaluations", total), 0, PTHREAD_MUTEX_INITIALIZER};
    m->prog = &prog;
    double t0 = timer_now();
    pipeline_phase phases[PIPELINE_MAX_PHASES];
    int n_phases = pipeline_phase_list(ph, phases);
    evaluator *collect = NULL;
    evaluator_remote cr = {m, store_journal_path(m->st), collect_lookup, collect_append, collect_append_rec,
                           collect_run_evals};
    kdt_status s = evaluator_create_remote(&collect, NULL, cfg, 1, &cr);
    for (int f = 0; f < n_phases && !s; f++) {
        if (phases[f].kind == PIPELINE_TUNE) {
            // The strategies' runs are independent of each other (a setting one of them evaluated
            // is a cache hit for the next only by chance of timing, with the same result), so they
            // are handed out together: the critical path is one tuning run, not one per strategy.
            // gp_transfer goes after them, wave by wave, each wave learning from the ones before.
            int n = 0, span = 0;
            bool transfer = false;
            while (f + span < n_phases && phases[f + span].kind == PIPELINE_TUNE) {
                if (phases[f + span].strategy == TUNER_GP_TRANSFER) transfer = true;
                else g_unit_strategies[n++] = phases[f + span].strategy;
                span++;
            }
            g_wave_first = -1;
            if (n) s = master_dispatch(m, (size_t)n * (size_t)p->n_pairs, make_tune_unit);
            for (int first = 0; transfer && !s && first < p->n_pairs; first += cfg->tuner.transfer_wave) {
                int last = first + cfg->tuner.transfer_wave < p->n_pairs ? first + cfg->tuner.transfer_wave : p->n_pairs;
                g_wave_first = first;
                s = master_dispatch(m, (size_t)(last - first), make_tune_unit);
            }
            g_wave_first = -1;
            f += span - 1;
            continue;
        }
        // The phase's evaluations, in pair order; then the workers train them.
        m->n_units = 0;
        for (int q = 0; q < p->n_pairs && !s; q++)
            s = phases[f].kind == PIPELINE_DEFAULT ? tuning_default(collect, 0, cfg, p->pairs[q], NULL)
                                                : tuning_grid(collect, 0, cfg, p->pairs[q], NULL);
        if (!s) s = master_dispatch(m, m->n_units, make_eval_unit);
        // Every line is in the store now: the same calls over it only add the grid's
        // recommendations (and would train here whatever a worker had not sent).
        for (int q = 0; q < p->n_pairs && !s; q++)
            s = phases[f].kind == PIPELINE_DEFAULT ? tuning_default(p->eval, 0, cfg, p->pairs[q], NULL)
                                                : tuning_grid(p->eval, 0, cfg, p->pairs[q], NULL);
    }
    evaluator_destroy(collect);
    progress_finish(prog.bar);
    double wall = timer_now() - t0;
    if (s) log_error("%s", kdt_errmsg());
    release_workers(s ? s : KDT_OK);
    int workers = m->n_slots;
    log_info("MPI: %zu evaluations over %d pairs in %.2f s on %d ranks (%d worker threads): %d KD rounds "
             "trained (%.2f s), parallel efficiency %.3f; %d exchanges with rank 0, %.1f us each", prog.done,
             p->n_pairs, wall, g.size, workers, m->trained, m->train_seconds,
             wall > 0 && workers > 0 ? m->train_seconds / (wall * workers) : 0.0, m->exchanges,
             m->exchanges ? 1e6 * m->exchange_seconds / m->exchanges : 0.0);
    return s;
}

#endif
