// The store: the one owner of a run directory's evaluations. It alone reads and writes the
// journal (RUN/trials.jsonl, one fsynced JSON line per evaluation or recommendation; the format
// is docs/formats.md) and its sidecar files, validates every line it reads, cuts a torn last line,
// indexes the lines by run (strategy, pair, fixed position, budget) for replays, and serves the
// evaluation cache: a setting evaluated before under the same identity is read back, not trained.
//
// Identity. An evaluation depends on the participants (data, partition, federation, model and
// pre-training, and the seed: the run directory's fingerprint), on every KD training setting
// (kd.epochs, kd.lr, ...), and on its setting (pair, position, T, alpha, transfer set, method, replicate,
// fidelity). The first two are hashed into one `kd_config` id that every line carries; the store
// sees only the lines of its own id, so results of another KD configuration in the same journal
// are kept apart (never returned, never replayed, never summarized) and survive untouched.
//
// Use:
//   store *st;  store_open(&st, &(store_options){run_dir, kd_config_id, participants}, names, n);
//   if (!store_lookup(st, &setting, &result)) { ...train...; }
//   store_append(st, &eval);   // durable before it returns
//   store_close(st);
// Thread-safe: lookups and appends may come from several threads at once.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "kd/vocab.h"

enum { STORE_NAME_MAX = 32, STORE_REASON_MAX = 160 };

// What was evaluated: the pair, who teaches whom and the KD hyper-parameters.
typedef struct {
    int i, j;                  // the unordered pair, 0 <= i < j < participants
    kd_position position;      // forward: i teaches j
    double temperature, alpha; // T > 0, alpha in [0, 1]
    kd_transfer transfer;
    kd_method method;
    int replicate;             // >= 0: which draw of the KD randomness (batch order, augmentation)
    double fidelity;           // (0, 1]: the fraction of the transfer and validation sets; 1 = full
} store_setting;

// Whether two settings are the same point, whatever their replicates (draws of the KD randomness).
bool store_same_point(const store_setting *a, const store_setting *b);

// The student and the teacher of a setting.
static inline int store_student(const store_setting *s) { return kd_student_of(s->i, s->j, s->position); }
static inline int store_teacher(const store_setting *s) { return kd_teacher_of(s->i, s->j, s->position); }

// What an evaluation measured. Accuracies and gains are fractions. A failed evaluation (a
// diverged round) has ok = false, a reason and NaN metrics, and is never a number to a tuner.
typedef struct {
    bool ok;
    char reason[STORE_REASON_MAX];
    double val_gain, test_gain, forgetting;
    double student_val_before, student_val_after, student_test_before, student_test_after;
    double teacher_test;
    double peer_val_gain, peer_test_gain, peer_forgetting; // dml: the other participant's; else NaN
    double routed_fraction;                                // dpkd: share routed to the teacher; else NaN
    double seconds;                                        // wall time of the round that made it
} store_result;

// Which run an evaluation belongs to: a strategy ("default", "grid", "eval", or a tuner
// strategy's name) on a pair, with the position fixed (ordered tuning) or free (-1), and for a
// tuner its budget (runs of other budgets are other runs: a tuner plans for its budget).
typedef struct {
    char strategy[STORE_NAME_MAX];
    int i, j;
    int fixed_position;        // -1, or a kd_position
    int budget;                // tuners: evaluations per run; 0 for default, grid and eval
} store_run;

// One journal line of an evaluation.
typedef struct {
    store_run run;
    int index;                 // 0-based order within its run
    store_setting setting;
    store_result result;
    bool cached;               // read back from an earlier identical evaluation when it was made
} store_eval;

// One journal line closing a tuning run: which of its evaluations the strategy recommends.
typedef struct {
    store_run run;
    int evaluations;           // evaluations of the run when it was recommended
    int recommended;           // the index of the recommended evaluation in the run
} store_recommendation;

typedef struct {
    const char *run_dir;
    uint64_t kd_config;        // the identity of the participants and KD training (store_identity)
    int participants;          // pairs must lie in [0, participants)
} store_options;

typedef struct store store;

// Opens (creating it if need be) run_dir's journal and reads it: lines of this identity are
// indexed, lines of other identities kept apart, a torn last line cut off with a warning, and any
// other malformed or invalid line refused with the file, the line and the field. strategies: the
// names a line's "strategy" may take (the tuner's, plus default, grid and eval).
kdt_status store_open(store **out, const store_options *opt, const char *const *strategies,
                      size_t n_strategies);
void store_close(store *s);

// ---- per-image outcomes (RUN/outcomes.bin) ------------------------------------------------------
// Which images a model gets right, as bitsets: bit i of byte i / 8, least significant bit first.
typedef struct {
    const uint8_t *val, *test;
    int n_val, n_test;
} store_outcomes;

// Reads outcomes.bin (done on first use; call it first to see a read error, which the lookups
// below can only report as "no outcomes").
kdt_status store_outcomes_ready(store *s);

// Records the outcomes of an evaluation after KD (the student's; for DML also its peer's, else
// NULL), durably. Call it before store_append, so that a journal line implies its outcomes.
kdt_status store_append_outcomes(store *s, const store_setting *set, const store_outcomes *student,
                                 const store_outcomes *peer);
// The outcomes of an evaluated setting (views into the store, valid until it is closed); false
// when none were recorded. peer may be NULL; it gets n_val = n_test = 0 when there is no peer.
bool store_outcomes_of(store *s, const store_setting *set, store_outcomes *student, store_outcomes *peer);
// A participant's outcomes before KD: recorded once; a different second record is an error.
kdt_status store_put_participant_outcomes(store *s, int cid, const store_outcomes *o);
bool store_participant_outcomes(store *s, int cid, store_outcomes *o);

// A cached result without opening the store, for one-shot lookups in a large journal: scans the
// journal's text for the first evaluation line of opt's identity with this setting, and parses
// (and validates) only the lines that can match. Other lines are not read as JSON, so a damaged
// one is not reported here (store_open reports it). *found = false when there is none.
kdt_status store_peek(const store_options *opt, const char *const *strategies, size_t n_strategies,
                      const store_setting *set, store_result *out, bool *found);

// The journal's path (for messages).
const char *store_journal_path(const store *s);

// Lines of other KD configurations (kept apart) and lines of this one, read at open.
size_t store_foreign_lines(const store *s);

// The cached result of an identical evaluation (same identity and setting); false when none.
bool store_lookup(store *s, const store_setting *set, store_result *out);

// Whether line `index` of a run is in the journal (for the lines the application writes itself).
bool store_has(store *s, const store_run *run, int index);

// Appends an evaluation (durably: written and fsynced before return) and adds it to the cache and
// the run index. An ok result with a non-finite gain or accuracy is recorded (and left in *e) as
// failed: a tuner never sees it as a number.
kdt_status store_append(store *s, store_eval *e);
kdt_status store_append_recommendation(store *s, const store_recommendation *r);

// Whether a run's recommendation after `evaluations` evaluations is in the journal.
bool store_has_recommendation(store *s, const store_run *run, int evaluations);

// The evaluations of a run in index order, for replaying a tuner: a malloc'ed copy (free it) of
// its lines 0..n-1; a gap in the indices ends the copy (what follows a gap cannot be replayed).
kdt_status store_run_evals(store *s, const store_run *run, store_eval **out, size_t *n);

// Every evaluation and recommendation of this identity in journal order (for reports). The
// arrays stay valid until the next append.
size_t store_all_evals(store *s, const store_eval **out);
size_t store_all_recommendations(store *s, const store_recommendation **out);

// The kd_config id of a run directory's fingerprint (hex text of the participants' config) and
// the KD training settings, as text in a fixed order (the caller formats it, e.g. the resolved
// kd.sgd section): a 64-bit hash.
uint64_t store_identity(const char *fingerprint, const char *kd_training_text);

// The journal line of an evaluation or a recommendation, and the other way round (for tests,
// fuzzers and `kdtune eval`'s output). store_format_* return a malloc'ed NUL-terminated line
// without its newline. store_parse_line fills exactly one of *e (returns 1) or *r (returns 2);
// 0 with a KDT_ERR_FORMAT message naming the field on a malformed or invalid line; kd_config
// gets the line's identity.
char *store_format_eval(const store_eval *e, uint64_t kd_config);
char *store_format_recommendation(const store_recommendation *r, uint64_t kd_config);
int store_parse_line(const char *text, size_t len, int participants, const char *const *strategies,
                     size_t n_strategies, uint64_t *kd_config, store_eval *e, store_recommendation *r);

// The run's key as people read it: "gp/0-3" or "gp/0-3/reverse".
void store_run_key(const store_run *run, char *out, size_t cap);
