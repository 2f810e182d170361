// Writing and reading recommended.yaml. The reader takes the file as untrusted: a regular file of
// bounded size, nesting refused past what the format has (before libyaml builds a document),
// every value checked as the config checks it.
#include "app/recommend.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/fs.h"
#include "common/rng.h"
#include "common/strbuf.h"
#include "kdtune_version.h"

void recommend_config_hash(const kdt_config *cfg, char out[17]) {
    char *yaml = config_to_yaml(cfg, false);
    snprintf(out, 17, "%016llx", (unsigned long long)rng_hash_str(yaml));
    free(yaml);
}

static void gains(strbuf *sb, const char *name, const store_eval *t) {
    if (!t) return;
    sb_printf(sb, "    %s: {val_gain: ", name);
    sb_double(sb, t->result.val_gain);
    sb_printf(sb, ", test_gain: ");
    sb_double(sb, t->result.test_gain);
    sb_printf(sb, ", temperature: ");
    sb_double(sb, t->setting.temperature);
    sb_printf(sb, ", alpha: ");
    sb_double(sb, t->setting.alpha);
    sb_printf(sb, ", transfer_set: %s, position: %s}\n",
              kd_transfer_name(t->setting.transfer),
              kd_position_name(t->setting.position));
}

kdt_status recommend_write(const summary *s, const kdt_config *cfg, const char *path) {
    strbuf sb = {0};
    char hash[17];
    recommend_config_hash(cfg, hash);
    sb_printf(&sb, "# kdtune recommendations: the KD setting to use for each pair, chosen by the\n"
                   "# validation gain (val_gain); gains are fractions of accuracy (0.01 = 1 point).\n"
                   "# val_gain is the selected figure (optimistic: a maximum over evaluations);\n"
                   "# heldout_val_gain is the cross-fit estimate of selecting this way (null without\n"
                   "# per-image outcomes) and test_gain is on images never used to select;\n"
                   "# significant_vs_default: better than the default on test (paired test, Holm, 0.05).\n"
                   "# alpha weights the teacher's soft term (Hinton's convention).\n");
    sb_printf(&sb, "kdtune_version: \"%s\"\nconfig_hash: \"%s\"\nobjective: val_gain\n"
                   "alpha_weights: soft_target\ndefault:\n  temperature: ", KDTUNE_VERSION, hash);
    sb_double(&sb, cfg->kd.temperature);
    sb_printf(&sb, "\n  alpha: ");
    sb_double(&sb, cfg->kd.alpha);
    sb_printf(&sb, "\n  transfer_set: %s\n  position: %s\npairs:\n",
              kd_transfer_name(cfg->kd.transfer_set),
              kd_position_name(cfg->kd.position));
    for (int q = 0; q < s->n_pairs; q++) {
        const summary_pair *p = &s->pairs[q];
        const store_eval *best = p->recommended;
        const char *from = p->recommended_from;
        int evals = p->evaluations;
        if (!best) continue;
        sb_printf(&sb, "  - pair: [%d, %d]\n    student: %d\n    teacher: %d\n    temperature: ",
                  p->i, p->j, store_student(&best->setting), store_teacher(&best->setting));
        sb_double(&sb, best->setting.temperature);
        sb_printf(&sb, "\n    alpha: ");
        sb_double(&sb, best->setting.alpha);
        sb_printf(&sb, "\n    transfer_set: %s\n    position: %s\n    strategy: %s\n"
                       "    evaluations: %d\n    val_gain: ",
                  kd_transfer_name(best->setting.transfer),
                  kd_position_name(best->setting.position), from, evals);
        sb_double(&sb, best->result.val_gain);
        sb_printf(&sb, "\n    heldout_val_gain: ");
        if (isnan(p->heldout_val_gain)) sb_printf(&sb, "null");
        else sb_double(&sb, p->heldout_val_gain);
        sb_printf(&sb, "\n    test_gain: ");
        sb_double(&sb, best->result.test_gain);
        sb_printf(&sb, "\n    significant_vs_default: %s\n", p->significant_vs_default ? "true" : "false");
        gains(&sb, "default", p->deflt.best);
        gains(&sb, "grid_best", p->grid.best);
        for (int k = 0; k < s->n_strategies; k++) {
            char name[64];
            snprintf(name, sizeof name, "tuned_%s", s->strategies[k].name);
            gains(&sb, name, p->tuned[k].best);
        }
    }
    if (s->n_pairs == 0) sb_printf(&sb, "  []\n");
    char *text = sb_take(&sb);
    kdt_status st = fs_write_atomic(path, text, strlen(text));
    free(text);
    return st;
}

// ---- reading ------------------------------------------------------------------------------------

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key) {
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

static const char *scalar(yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

// A participant number: a decimal integer in [0, CFG_LIST_MAX).
static bool participant_id(const char *text, int *out) {
    if (!text || !*text) return false;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (*end || errno || v < 0 || v >= CFG_LIST_MAX) return false;
    *out = (int)v;
    return true;
}

static kdt_status entry_setting(const char *path, yaml_document_t *doc, yaml_node_t *e,
                                recommend_setting *out) {
    kdt_config *tmp = malloc(sizeof *tmp); // validate the values as config overrides would
    if (!tmp) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    config_default(tmp);
    static const char *keys[] = {"temperature", "alpha", "transfer_set", "position"};
    kdt_status s = KDT_OK;
    for (int k = 0; k < 4 && !s; k++) {
        yaml_node_t *v = map_get(doc, e, keys[k]);
        const char *text = scalar(v);
        if (!text) {
            s = kdt_fail(KDT_ERR_FORMAT, "%s:%zu: the pair's entry has no '%s'", path,
                         e->start_mark.line + 1, keys[k]);
            break;
        }
        char assign[256];
        snprintf(assign, sizeof assign, "kd.%s=%s", keys[k], text);
        if ((s = config_set(tmp, assign)))
            s = kdt_fail_context(KDT_ERR_FORMAT, "%s:%zu", path, v->start_mark.line + 1);
    }
    const char *student = scalar(map_get(doc, e, "student")), *teacher = scalar(map_get(doc, e, "teacher"));
    if (!s && (!student || !teacher))
        s = kdt_fail(KDT_ERR_FORMAT, "%s:%zu: the pair's entry has no student or teacher", path,
                     e->start_mark.line + 1);
    int sid = -1, tid = -1;
    if (!s && (!participant_id(student, &sid) || !participant_id(teacher, &tid)))
        s = kdt_fail(KDT_ERR_FORMAT, "%s:%zu: the pair's student and teacher must be participant "
                     "numbers 0..%d", path, e->start_mark.line + 1, CFG_LIST_MAX - 1);
    if (!s) {
        out->temperature = tmp->kd.temperature;
        out->alpha = tmp->kd.alpha;
        out->transfer_set = tmp->kd.transfer_set;
        out->position = tmp->kd.position;
        out->student = sid;
        out->teacher = tid;
    }
    free(tmp);
    return s;
}

// recommended.yaml nests a list of pairs, each a mapping holding a list: far less than this.
enum { RECOMMEND_MAX_DEPTH = 16 };
#define RECOMMEND_MAX_BYTES ((size_t)64 << 20)

// Refuses nesting deeper than RECOMMEND_MAX_DEPTH from libyaml's event stream, which stops there.
static kdt_status check_depth(const char *path, const char *text, size_t len) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    yaml_mark_t at;
    kdt_status s = KDT_OK;
    switch (config_yaml_check_nesting(&parser, RECOMMEND_MAX_DEPTH, &at)) {
    case CONFIG_YAML_MALFORMED:
        s = kdt_fail(KDT_ERR_FORMAT, "%s:%zu:%zu: malformed YAML: %s", path, parser.problem_mark.line + 1,
                     parser.problem_mark.column + 1, parser.problem ? parser.problem : "?");
        break;
    case CONFIG_YAML_TOO_DEEP:
        s = kdt_fail(KDT_ERR_FORMAT, "%s:%zu:%zu: nested deeper than %d levels: not a kdtune recommended.yaml",
                     path, at.line + 1, at.column + 1, RECOMMEND_MAX_DEPTH);
        break;
    case CONFIG_YAML_OK: break;
    }
    yaml_parser_delete(&parser);
    return s;
}

kdt_status recommend_load(const char *path, yaml_document_t *doc, yaml_node_t **pairs) {
    char *text;
    size_t len;
    kdt_status s = fs_read_all_limited(path, RECOMMEND_MAX_BYTES, &text, &len);
    if (s) return s;
    if ((s = check_depth(path, text, len))) {
        free(text);
        return s;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, doc)) {
        s = kdt_fail(KDT_ERR_FORMAT, "%s:%zu:%zu: malformed YAML: %s", path,
                     parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                     parser.problem ? parser.problem : "?");
        yaml_parser_delete(&parser);
        free(text);
        return s;
    }
    yaml_parser_delete(&parser);
    free(text);
    yaml_node_t *root = yaml_document_get_root_node(doc);
    const char *weights = scalar(map_get(doc, root, "alpha_weights"));
    *pairs = map_get(doc, root, "pairs");
    if (!weights || strcmp(weights, "soft_target") != 0 || !*pairs || (*pairs)->type != YAML_SEQUENCE_NODE) {
        yaml_document_delete(doc);
        return kdt_fail(KDT_ERR_FORMAT, "%s: not a kdtune recommended.yaml (no 'alpha_weights: soft_target' and "
                        "'pairs:' list); give the one `kdtune report` writes", path);
    }
    return KDT_OK;
}

kdt_status recommend_read(const char *path, int i, int j, recommend_setting *out) {
    yaml_document_t doc;
    yaml_node_t *pairs;
    kdt_status s = recommend_load(path, &doc, &pairs);
    if (s) return s;
    s = kdt_fail(KDT_ERR_CONFIG, "%s: no recommendation for pair %d,%d", path, i, j);
    for (yaml_node_item_t *it = pairs->data.sequence.items.start; it < pairs->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(&doc, *it);
        yaml_node_t *pr = map_get(&doc, e, "pair");
        if (!pr || pr->type != YAML_SEQUENCE_NODE || pr->data.sequence.items.top - pr->data.sequence.items.start != 2)
            continue;
        const char *a = scalar(yaml_document_get_node(&doc, pr->data.sequence.items.start[0]));
        const char *b = scalar(yaml_document_get_node(&doc, pr->data.sequence.items.start[1]));
        if (a && b && atoi(a) == i && atoi(b) == j) {
            s = entry_setting(path, &doc, e, out);
            break;
        }
    }
    yaml_document_delete(&doc);
    return s;
}
