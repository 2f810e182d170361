// One KD evaluation as the application records it: which strategy asked for it, the pair and
// setting, and every metric of the round. Each is one line of the run's journal (trials.jsonl);
// the tuner writes its own fields (run, strategy, i, x, value) and the application adds these.
// A tuning run ends with one more line, a recommendation: the index of the evaluation the
// strategy recommends (for gp the best by posterior mean, not always the best seen).
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

enum { TRIAL_NAME_MAX = 32 };

typedef struct {
    char strategy[TRIAL_NAME_MAX]; // "default", "grid", "gp", "random", "bobyqa", ...
    int i, j;                      // the unordered pair, i < j
    int fixed_position;            // -1, or the position a run tuned with it fixed (ordered mode)
    int index;                     // 0-based order of the evaluation within its run ("i")
    bool is_recommendation;        // a recommendation line: only the fields above and `recommended`
    int recommended;               // recommendation lines: the index of the recommended evaluation
    int student, teacher;
    double temperature, alpha;
    int transfer_set, position;    // cfg_transfer, cfg_position
    bool ok;
    char reason[160];              // why a failed round failed
    double val_gain, test_gain, forgetting;
    double student_val_before, student_val_after, student_test_before, student_test_after;
    double teacher_test, seconds;
    bool cached;                   // the result of an earlier identical evaluation
} trial;

// The application's fields of an evaluation as a new JSON object (the caller owns the reference):
// what goes into tuner_tell as the extra fields. It has neither "strategy" nor "i", which the
// tuner writes; lines the application writes itself add them (trial_line).
json_t *trial_to_json(const trial *t);

// A whole journal line for an evaluation or a recommendation that no tuner writes: the fields of
// trial_to_json plus "run", "strategy" and "i".
json_t *trial_line(const trial *t, const char *run_key);

// Reads a journal line back; fields missing from the line are a KDT_ERR_FORMAT naming the key.
kdt_status trial_from_json(const json_t *line, trial *t);

// Every trial of a journal file, in file order (a damaged last line is dropped with a warning).
kdt_status trial_read_all(const char *journal, trial **out, size_t *n);
