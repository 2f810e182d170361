// `kdtune export`: the run's recommended.yaml in the formats other tools read: per pair a
// torchdistill KD criterion (YAML), and one tidy CSV of every strategy's pick for every pair.
// recommended.yaml is read with libyaml and checked strictly (types, ranges, choices), but keys
// this version does not know are skipped, since that format grows.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "app/commands.h"
#include "app/recommend.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/text.h"

typedef struct {
    char name[64];      // "recommended", "default", "grid", or a tuner's name ("gp")
    char from[64];      // recommended row: the strategy it came from; else ""
    int student, teacher;
    double temperature, alpha, val_gain, test_gain;
    char transfer_set[32], position[16];
    int evaluations;    // -1 when the file does not say
} export_row;

typedef struct {
    int i, j;
    export_row *rows;   // rows[0] is the recommendation
    int n_rows;
} export_pair;

typedef struct {
    const char *path;
    yaml_document_t *doc;
} export_ctx;

// ---- reading recommended.yaml -------------------------------------------------------------------

static yaml_node_t *map_get(const export_ctx *c, yaml_node_t *map, const char *key) {
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        if (k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(c->doc, p->value);
    }
    return NULL;
}

static size_t line_of(const yaml_node_t *n) { return n->start_mark.line + 1; }

static kdt_status bad(const export_ctx *c, const yaml_node_t *at, const char *what, const char *key) {
    return kdt_fail(KDT_ERR_FORMAT, "%s:%zu: %s '%s'; regenerate the file with 'kdtune report -o "
                    "RUN_DIR'", c->path, line_of(at), what, key);
}

static kdt_status get_text(const export_ctx *c, yaml_node_t *map, const char *key, const char **out) {
    yaml_node_t *v = map_get(c, map, key);
    if (!v) return bad(c, map, "missing key", key);
    if (v->type != YAML_SCALAR_NODE) return bad(c, v, "expected a scalar for", key);
    *out = (const char *)v->data.scalar.value;
    return KDT_OK;
}

static kdt_status get_double(const export_ctx *c, yaml_node_t *map, const char *key, double lo,
                             double hi, double *out) {
    const char *t = NULL;
    kdt_status s = get_text(c, map, key, &t);
    if (s) return s;
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    if (end == t || *end || errno == ERANGE || !isfinite(v))
        return kdt_fail(KDT_ERR_FORMAT, "%s:%zu: '%s' is '%s', not a finite number; regenerate the "
                        "file with 'kdtune report -o RUN_DIR'", c->path,
                        line_of(map_get(c, map, key)), key, t);
    if (v < lo || v > hi)
        return kdt_fail(KDT_ERR_FORMAT, "%s:%zu: '%s' is %s, outside [%g, %g]; regenerate the file "
                        "with 'kdtune report -o RUN_DIR'", c->path, line_of(map_get(c, map, key)),
                        key, t, lo, hi);
    *out = v;
    return KDT_OK;
}

static kdt_status get_int(const export_ctx *c, yaml_node_t *map, const char *key, int *out) {
    double v;
    kdt_status s = get_double(c, map, key, 0, 1e9, &v);
    if (s) return s;
    if (v != floor(v)) return bad(c, map_get(c, map, key), "expected a whole number for", key);
    *out = (int)v;
    return KDT_OK;
}

// A choice of config key `path` (kd.transfer_set, kd.position), named as the config names it.
static kdt_status get_choice(const export_ctx *c, yaml_node_t *map, const char *key,
                             const char *path, char *out, size_t cap) {
    const char *t = NULL;
    kdt_status s = get_text(c, map, key, &t);
    if (s) return s;
    strbuf known = {0};
    bool ok = false;
    for (int v = 0; v < 64; v++) {
        const char *name = config_choice_name(path, v);
        if (strcmp(name, "?") == 0) break;
        sb_printf(&known, "%s%s", v ? ", " : "", name);
        ok |= strcmp(name, t) == 0;
    }
    char *list = sb_take(&known);
    if (!ok || strlen(t) >= cap)
        s = kdt_fail(KDT_ERR_FORMAT, "%s:%zu: '%s' is '%s', expected one of %s; regenerate the file "
                     "with 'kdtune report -o RUN_DIR'", c->path, line_of(map_get(c, map, key)), key,
                     t, list);
    else
        snprintf(out, cap, "%s", t);
    free(list);
    return s;
}

// The setting and gains every row has.
static kdt_status get_setting(const export_ctx *c, yaml_node_t *m, export_row *r) {
    kdt_status s = get_double(c, m, "temperature", 1e-6, 1e6, &r->temperature);
    if (!s) s = get_double(c, m, "alpha", 0, 1, &r->alpha);
    if (!s) s = get_choice(c, m, "transfer_set", "kd.transfer_set", r->transfer_set, sizeof r->transfer_set);
    if (!s) s = get_choice(c, m, "position", "kd.position", r->position, sizeof r->position);
    if (!s) s = get_double(c, m, "val_gain", -1, 1, &r->val_gain);
    if (!s) s = get_double(c, m, "test_gain", -1, 1, &r->test_gain);
    return s;
}

// A strategy's row name from its key: grid_best -> grid, tuned_gp -> gp.
static void row_name(char *out, size_t cap, const char *key) {
    if (strcmp(key, "grid_best") == 0) snprintf(out, cap, "grid");
    else if (strncmp(key, "tuned_", 6) == 0) snprintf(out, cap, "%s", key + 6);
    else snprintf(out, cap, "%s", key);
}

static kdt_status read_pair(const export_ctx *c, yaml_node_t *e, export_pair *p) {
    if (e->type != YAML_MAPPING_NODE) return bad(c, e, "expected a mapping for a", "pairs entry");
    yaml_node_t *pr = map_get(c, e, "pair");
    if (!pr) return bad(c, e, "missing key", "pair");
    yaml_node_item_t *it = pr->type == YAML_SEQUENCE_NODE ? pr->data.sequence.items.start : NULL;
    if (!it || pr->data.sequence.items.top - it != 2) return bad(c, pr, "expected [I, J] for", "pair");
    int ij[2];
    for (int k = 0; k < 2; k++) {
        yaml_node_t *v = yaml_document_get_node(c->doc, it[k]);
        char *end;
        const char *t = v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : "";
        long x = strtol(t, &end, 10);
        if (!*t || *end || x < 0 || x > 1000000) return bad(c, v, "expected a participant number in", "pair");
        ij[k] = (int)x;
    }
    if (ij[0] >= ij[1]) return bad(c, pr, "expected I < J in", "pair");
    p->i = ij[0], p->j = ij[1];
    // rows: the recommendation, then every nested mapping that holds a setting
    size_t n_maps = (size_t)(e->data.mapping.pairs.top - e->data.mapping.pairs.start);
    p->rows = calloc(n_maps + 1, sizeof *p->rows);
    if (!p->rows) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    export_row *r = &p->rows[0];
    snprintf(r->name, sizeof r->name, "recommended");
    const char *from = NULL;
    kdt_status s = get_text(c, e, "strategy", &from);
    if (!s) snprintf(r->from, sizeof r->from, "%s", from);
    if (!s) s = get_int(c, e, "student", &r->student);
    if (!s) s = get_int(c, e, "teacher", &r->teacher);
    if (!s && !((r->student == p->i && r->teacher == p->j) || (r->student == p->j && r->teacher == p->i)))
        s = kdt_fail(KDT_ERR_FORMAT, "%s:%zu: student %d and teacher %d are not the pair [%d, %d]; "
                     "regenerate the file with 'kdtune report -o RUN_DIR'", c->path, line_of(e),
                     r->student, r->teacher, p->i, p->j);
    if (!s) s = get_setting(c, e, r);
    if (!s) s = get_int(c, e, "evaluations", &r->evaluations);
    p->n_rows = 1;
    for (yaml_node_pair_t *q = e->data.mapping.pairs.start; !s && q < e->data.mapping.pairs.top; q++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, q->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, q->value);
        if (k->type != YAML_SCALAR_NODE || v->type != YAML_MAPPING_NODE || !map_get(c, v, "temperature"))
            continue; // not a strategy's setting: a key from a later version
        export_row *x = &p->rows[p->n_rows++];
        row_name(x->name, sizeof x->name, (const char *)k->data.scalar.value);
        x->evaluations = -1;
        s = get_setting(c, v, x);
        bool forward = strcmp(x->position, "forward") == 0; // forward: the lower number teaches
        x->teacher = forward ? p->i : p->j;
        x->student = forward ? p->j : p->i;
    }
    return s;
}

static void pairs_free(export_pair *pairs, int n) {
    for (int k = 0; k < n; k++) free(pairs[k].rows);
    free(pairs);
}

static kdt_status read_recommended(const char *path, export_pair **out, int *n_out) {
    *out = NULL, *n_out = 0;
    yaml_document_t doc;
    yaml_node_t *pairs;
    kdt_status s = recommend_load(path, &doc, &pairs);
    if (s == KDT_ERR_IO) return kdt_fail_context(s, "run 'kdtune report -o RUN_DIR' first, or name the file with "
                                                 "--recommended");
    if (s) return s;
    export_ctx c = {path, &doc};
    {
        int n = (int)(pairs->data.sequence.items.top - pairs->data.sequence.items.start);
        *out = calloc((size_t)n + 1, sizeof **out);
        if (!*out) s = kdt_fail(KDT_ERR_NOMEM, "out of memory");
        for (int k = 0; !s && k < n; k++) {
            s = read_pair(&c, yaml_document_get_node(&doc, pairs->data.sequence.items.start[k]), &(*out)[k]);
            *n_out = k + 1;
            for (int q = 0; !s && q < k; q++)
                if ((*out)[q].i == (*out)[k].i && (*out)[q].j == (*out)[k].j)
                    s = kdt_fail(KDT_ERR_FORMAT, "%s: pair [%d, %d] appears twice", path, (*out)[k].i,
                                 (*out)[k].j);
        }
    }
    yaml_document_delete(&doc);
    if (s) {
        pairs_free(*out, *n_out);
        *out = NULL, *n_out = 0;
    }
    return s;
}

// ---- writing ------------------------------------------------------------------------------------

static void num(strbuf *sb, double x) {
    char b[64];
    text_format_double(b, sizeof b, x);
    sb_printf(sb, "%s", b);
}

static kdt_status write_torchdistill(const export_pair *p, const char *src, const char *dir) {
    const export_row *r = &p->rows[0];
    strbuf sb = {0};
    sb_printf(&sb, "# kdtune's recommendation for pair [%d, %d] as a torchdistill criterion (from %s).\n"
                   "# Participant %d teaches participant %d; chosen by kdtune's strategy '%s' with\n"
                   "# val_gain ", p->i, p->j, src, r->teacher, r->student, r->from);
    num(&sb, r->val_gain);
    sb_printf(&sb, " and test_gain ");
    num(&sb, r->test_gain);
    sb_printf(&sb, " (fractions of accuracy).\n#\n"
                   "# ALPHA IS CONVERTED. torchdistill's KDLoss is alpha * CE + (1 - alpha) * T^2 * KL:\n"
                   "# its alpha weights the HARD (label) loss. kdtune's alpha weights the SOFT term\n"
                   "# (alpha_weights: soft_target). So alpha here = 1 - alpha_kdtune = 1 - ");
    num(&sb, r->alpha);
    sb_printf(&sb, ".\n#\n");
    if (strcmp(r->transfer_set, "student_data") == 0)
        sb_printf(&sb, "# Transfer set student_data: train on the student's own labelled data, as\n"
                       "# torchdistill's KDLoss does with the dataset's labels; the match is exact.\n");
    else if (strcmp(r->transfer_set, "unlabelled") == 0)
        sb_printf(&sb, "# Transfer set unlabelled: kdtune trained on a public unlabelled set, and its hard\n"
                       "# term used the TEACHER's argmax as the label. To reproduce it, feed the public\n"
                       "# set with the teacher's argmax predictions as targets.\n");
    else
        sb_printf(&sb, "# Transfer set %s: kdtune's hard term was T^2 * KL toward the student's own\n"
                       "# frozen pre-KD model, which KDLoss does not express; this criterion keeps T and\n"
                       "# the soft weight and uses label cross-entropy for the other term.\n",
                  r->transfer_set);
    sb_printf(&sb, "train:\n  criterion:\n    key: 'WeightedSumLoss'\n    kwargs:\n      sub_terms:\n"
                   "        kd:\n          criterion:\n            key: 'KDLoss'\n            kwargs:\n"
                   "              student_module_path: '.'\n              student_module_io: 'output'\n"
                   "              teacher_module_path: '.'\n              teacher_module_io: 'output'\n"
                   "              temperature: ");
    num(&sb, r->temperature);
    sb_printf(&sb, "\n              alpha: ");
    num(&sb, 1.0 - r->alpha);
    sb_printf(&sb, "  # = 1 - ");
    num(&sb, r->alpha);
    sb_printf(&sb, " (kdtune's alpha)\n              reduction: 'batchmean'\n          weight: 1.0\n");
    char name[64], path[4096];
    snprintf(name, sizeof name, "pair_%d_%d.yaml", p->i, p->j);
    kdt_status s = fs_join(path, sizeof path, dir, name);
    char *text = sb_take(&sb);
    if (!s) s = fs_write_atomic(path, text, strlen(text));
    free(text);
    return s;
}

// One CSV field, RFC 4180: quoted (with doubled quotes) when it holds a comma, quote or newline.
static void csv_field(strbuf *sb, const char *t, bool last) {
    if (strpbrk(t, ",\"\r\n")) {
        sb_printf(sb, "\"");
        for (const char *q = t; *q; q++) {
            if (*q == '"') sb_printf(sb, "\"\"");
            else sb_printf(sb, "%c", *q);
        }
        sb_printf(sb, "\"");
    } else {
        sb_printf(sb, "%s", t);
    }
    sb_printf(sb, last ? "\r\n" : ",");
}

static void csv_num(strbuf *sb, double x) {
    char b[64];
    text_format_double(b, sizeof b, x);
    csv_field(sb, b, false);
}

static kdt_status write_csv(const export_pair *pairs, int n, const char *path) {
    static const char *cols[] = {"pair_i", "pair_j", "strategy", "recommended_from", "student",
                                 "teacher", "temperature", "alpha", "alpha_torchdistill",
                                 "transfer_set", "position", "val_gain", "test_gain", "evaluations"};
    enum { NCOLS = sizeof cols / sizeof cols[0] };
    strbuf sb = {0};
    for (int k = 0; k < NCOLS; k++) csv_field(&sb, cols[k], k == NCOLS - 1);
    for (int q = 0; q < n; q++)
        for (int k = 0; k < pairs[q].n_rows; k++) {
            const export_row *r = &pairs[q].rows[k];
            char b[32];
            sb_printf(&sb, "%d,%d,", pairs[q].i, pairs[q].j);
            csv_field(&sb, r->name, false);
            csv_field(&sb, r->from, false);
            sb_printf(&sb, "%d,%d,", r->student, r->teacher);
            csv_num(&sb, r->temperature);
            csv_num(&sb, r->alpha);
            csv_num(&sb, 1.0 - r->alpha);
            csv_field(&sb, r->transfer_set, false);
            csv_field(&sb, r->position, false);
            csv_num(&sb, r->val_gain);
            csv_num(&sb, r->test_gain);
            if (r->evaluations >= 0) snprintf(b, sizeof b, "%d", r->evaluations);
            else b[0] = '\0';
            csv_field(&sb, b, true);
        }
    char *text = sb_take(&sb);
    kdt_status s = fs_write_atomic(path, text, strlen(text));
    free(text);
    return s;
}

// ---- the command --------------------------------------------------------------------------------

static int run(const cli_args *args) {
    if (args->n_overrides > 0) {
        log_error("export: takes no key=value overrides (it reads the run's recommended.yaml)");
        return 2;
    }
    const char *formats = args->opt['f'] ? args->opt['f'] : "torchdistill,csv";
    bool td = false, csv = false;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", formats);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "torchdistill") == 0) td = true;
        else if (strcmp(t, "csv") == 0) csv = true;
        else {
            log_error("export: unknown format '%s'; expected torchdistill, csv or both "
                      "(--format torchdistill,csv)", t);
            return 2;
        }
    }
    if (!td && !csv) {
        log_error("export: --format is empty; expected torchdistill, csv or both");
        return 2;
    }
    const char *run_dir = args->output_dir ? args->output_dir : "runs/default";
    char rec[4096], dest[4096], path[4096];
    kdt_status s = KDT_OK;
    if (args->opt['r']) snprintf(rec, sizeof rec, "%s", args->opt['r']);
    else s = fs_join(rec, sizeof rec, run_dir, "recommended.yaml");
    if (!s) {
        if (args->opt['t']) snprintf(dest, sizeof dest, "%s", args->opt['t']);
        else s = fs_join(dest, sizeof dest, run_dir, "export");
    }
    export_pair *pairs = NULL;
    int n = 0;
    if (!s) s = read_recommended(rec, &pairs, &n);
    if (!s && td) {
        if (!(s = fs_join(path, sizeof path, dest, "torchdistill"))) s = fs_mkdir_p(path);
        for (int q = 0; !s && q < n; q++) s = write_torchdistill(&pairs[q], rec, path);
        if (!s) log_info("wrote %d torchdistill criteria to %s/", n, path);
    }
    if (!s && csv) {
        if (!(s = fs_mkdir_p(dest)) && !(s = fs_join(path, sizeof path, dest, "recommendations.csv")))
            s = write_csv(pairs, n, path);
        if (!s) log_info("wrote %s", path);
    }
    pairs_free(pairs, n);
    if (s) log_error("%s", kdt_errmsg());
    return kdt_exit_code(s);
}

static const struct option options[] = {{"format", required_argument, NULL, 'f'},
                                        {"to", required_argument, NULL, 't'},
                                        {"recommended", required_argument, NULL, 'r'},
                                        {0}};

const cli_command cmd_export = {
    .name = "export",
    .summary = "Export recommended.yaml as torchdistill criteria and a CSV.",
    .usage = "-o RUN_DIR [--format torchdistill,csv] [--to DIR] [--recommended FILE]",
    .help = "  -f, --format LIST     torchdistill, csv or both (the default)\n"
            "  -t, --to DIR          where to write (default RUN_DIR/export)\n"
            "  -r, --recommended F   read F instead of RUN_DIR/recommended.yaml\n"
            "\nWrites DIR/torchdistill/pair_I_J.yaml (a KDLoss criterion per pair; torchdistill's\n"
            "alpha weights the hard loss, so it is 1 - kdtune's alpha) and DIR/recommendations.csv\n"
            "(one row per pair and strategy: the recommendation, the default, the grid and each\n"
            "tuner; RFC 4180, gains are fractions).\n",
    .options = options,
    .shortopts = "f:t:r:",
    .run = run,
};
