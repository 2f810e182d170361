// Reading, overriding, checking and printing the YAML configuration (libyaml's document API).
// Every message names the file with line and column, or the override, and the key path, and says
// what was expected. Hostile input is refused early: nesting deeper than a config can be (before
// the document is built), strings that are not UTF-8, and models or datasets larger than memory
// (before anything is allocated). Strings are written back escaped, so config.yaml always reads
// back to the same config.
#include "app/config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "app/config_schema.h"
#include "common/fs.h"
#include "model/model.h"
#include "common/strbuf.h"
#include "common/text.h"

// Where a value came from, for messages: "cfg.yaml:12:5" or "override 'kd.alpha=2'".
typedef struct {
    const char *origin;
    bool is_file;
} source;

static kdt_status fail_at(const source *src, const yaml_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static kdt_status fail_at(const source *src, const yaml_mark_t *mark, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (src->is_file && mark)
        return kdt_fail(KDT_ERR_CONFIG, "%s:%zu:%zu: %s", src->origin, mark->line + 1,
                        mark->column + 1, msg);
    return kdt_fail(KDT_ERR_CONFIG, "%s: %s", src->origin, msg);
}

static long utf8_invalid_at(const char *str);

// ---- schema look-ups ---------------------------------------------------------------------------

static const cfg_key *key_find(const char *path) {
    for (size_t i = 0; i < config_schema_len; i++)
        if (strcmp(config_schema[i].path, path) == 0) return &config_schema[i];
    return NULL;
}

// True when `path` names a section (a proper prefix of some key, ending at a dot).
static bool section_exists(const char *path) {
    size_t n = strlen(path);
    for (size_t i = 0; i < config_schema_len; i++)
        if (strncmp(config_schema[i].path, path, n) == 0 && config_schema[i].path[n] == '.')
            return true;
    return false;
}

// The closest known key or section to an unknown path, or NULL when nothing is close.
static const char *closest_path(const char *path, char *buf, size_t cap) {
    size_t best = (size_t)-1;
    const char *best_path = NULL;
    for (size_t i = 0; i < config_schema_len; i++) {
        // Compare with the key and with each of its section prefixes.
        char cand[256];
        snprintf(cand, sizeof cand, "%s", config_schema[i].path);
        for (;;) {
            size_t d = text_edit_distance(path, cand);
            if (d < best) {
                best = d;
                snprintf(buf, cap, "%s", cand);
                best_path = buf;
            }
            char *dot = strrchr(cand, '.');
            if (!dot) break;
            *dot = '\0';
        }
    }
    size_t len = strlen(path);
    size_t limit = len < 6 ? 1 : len < 12 ? 2 : 3;
    return best <= limit ? best_path : NULL;
}

static kdt_status fail_unknown_key(const source *src, const yaml_mark_t *mark, const char *path) {
    char buf[256];
    const char *near = closest_path(path, buf, sizeof buf);
    if (near) return fail_at(src, mark, "unknown key '%s'; did you mean '%s'?", path, near);
    return fail_at(src, mark, "unknown key '%s'; `kdtune validate --commented` lists every key", path);
}

// Every enum the parser fills is stored as an int.
_Static_assert(sizeof(data_source) == sizeof(int) && sizeof(kd_transfer) == sizeof(int) &&
               sizeof(tuner_strategy) == sizeof(int) && sizeof(model_arch) == sizeof(int),
               "enums are stored as int");

const char *config_labels_name(config_cifar100_labels l) {
    static const char *const names[CONFIG_N_LABELS] = {"fine", "coarse"};
    return (int)l >= 0 && l < CONFIG_N_LABELS ? names[l] : NULL;
}
const char *config_scale_name(config_scale s) {
    static const char *const names[CONFIG_N_SCALES] = {"log", "linear"};
    return (int)s >= 0 && s < CONFIG_N_SCALES ? names[s] : NULL;
}

static int choice_index(const cfg_key *k, const char *name) {
    for (int v = 0; v < k->n_choices; v++) {
        const char *c = k->choice(v);
        if (c && strcmp(c, name) == 0) return v;
    }
    return -1;
}

// "a|b|c": the allowed names of an enum key, for messages and comments.
static void choice_list(const cfg_key *k, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (int v = 0; v < k->n_choices; v++) {
        const char *c = k->choice(v);
        if (!c) continue;
        int n = snprintf(buf + used, cap - used, "%s%s", used ? "|" : "", c);
        if (n < 0 || (size_t)n >= cap - used) break;
        used += (size_t)n;
    }
}

const char *config_choice_name(const char *path, int value) {
    const cfg_key *k = key_find(path);
    const char *c = k && k->choice ? k->choice(value) : NULL;
    return c ? c : "?";
}

// ---- typed values --------------------------------------------------------------------------------

static void *field(kdt_config *cfg, const cfg_key *k) { return (char *)cfg + k->offset; }
static const void *cfield(const kdt_config *cfg, const cfg_key *k) {
    return (const char *)cfg + k->offset;
}

static kdt_status parse_number(const source *src, const yaml_mark_t *mark, const cfg_key *k,
                               const char *text, bool integer, double *out) {
    const char *what = integer ? "an integer" : "a number";
    if (!*text) return fail_at(src, mark, "%s: expected %s, got nothing", k->path, what);
    char *end;
    errno = 0;
    double v;
    if (integer) {
        long long i = strtoll(text, &end, 10);
        v = (double)i;
    } else {
        v = strtod(text, &end);
    }
    if (*end != '\0' || errno == ERANGE || !isfinite(v))
        return fail_at(src, mark, "%s: expected %s, got '%s'", k->path, what, text);
    if (v < k->min || v > k->max) {
        char lo[64], hi[64];
        if (integer) {
            snprintf(lo, sizeof lo, "%.0f", k->min);
            snprintf(hi, sizeof hi, "%.0f", k->max);
        } else {
            text_format_double(lo, sizeof lo, k->min);
            text_format_double(hi, sizeof hi, k->max);
        }
        return fail_at(src, mark, "%s: %s is out of range; expected a value in [%s, %s]", k->path,
                       text, lo, hi);
    }
    *out = v;
    return KDT_OK;
}

static kdt_status parse_choice(const source *src, const yaml_mark_t *mark, const cfg_key *k,
                               const char *text, int *out) {
    int idx = choice_index(k, text);
    if (idx >= 0) {
        *out = idx;
        return KDT_OK;
    }
    // Suggest the closest choice.
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (int v = 0; v < k->n_choices; v++) {
        const char *c = k->choice(v);
        size_t d = c ? text_edit_distance(text, c) : (size_t)-1;
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    char all[256];
    choice_list(k, all, sizeof all);
    if (best && best_d <= 3)
        return fail_at(src, mark, "%s: unknown choice '%s' (did you mean '%s'?); expected one of %s",
                       k->path, text, best, all);
    return fail_at(src, mark, "%s: unknown choice '%s'; expected one of %s", k->path, text, all);
}

static kdt_status parse_bool(const source *src, const yaml_mark_t *mark, const cfg_key *k,
                             const char *text, bool *out) {
    static const char *yes[] = {"true", "yes", "on"}, *no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(text, yes[i]) == 0) { *out = true; return KDT_OK; }
        if (strcasecmp(text, no[i]) == 0) { *out = false; return KDT_OK; }
    }
    return fail_at(src, mark, "%s: expected true or false, got '%s'", k->path, text);
}

static bool is_list(cfg_type t) {
    return t == CFG_INT_LIST || t == CFG_FLOAT_LIST || t == CFG_ENUM_LIST;
}

static const char *type_name(cfg_type t) {
    switch (t) {
    case CFG_INT: return "an integer";
    case CFG_FLOAT: return "a number";
    case CFG_BOOL: return "true or false";
    case CFG_STRING: return "a string";
    case CFG_ENUM: return "one name";
    default: return "a list such as [a, b]";
    }
}

// Parses one list element (or a scalar value) into the field; `i` is the list index or -1.
static kdt_status set_scalar(kdt_config *cfg, const cfg_key *k, const source *src,
                             const yaml_mark_t *mark, const char *text, int i) {
    void *f = field(cfg, k);
    double v;
    kdt_status s;
    switch (k->type) {
    case CFG_INT:
    case CFG_INT_LIST:
        if ((s = parse_number(src, mark, k, text, true, &v))) return s;
        if (i < 0) *(int *)f = (int)v;
        else ((cfg_ints *)f)->v[i] = (int)v;
        return KDT_OK;
    case CFG_FLOAT:
    case CFG_FLOAT_LIST:
        if ((s = parse_number(src, mark, k, text, false, &v))) return s;
        if (i < 0) *(double *)f = v;
        else ((cfg_floats *)f)->v[i] = v;
        return KDT_OK;
    case CFG_BOOL: return parse_bool(src, mark, k, text, (bool *)f);
    case CFG_STRING: {
        if (strlen(text) >= CFG_STR_MAX)
            return fail_at(src, mark, "%s: string longer than %d characters", k->path, CFG_STR_MAX - 1);
        long bad = utf8_invalid_at(text);
        if (bad >= 0)
            return fail_at(src, mark, "%s: not valid UTF-8 (byte %ld is 0x%02x); names and paths "
                           "must be UTF-8 so that config.yaml reads back: rename it", k->path, bad + 1,
                           (unsigned char)text[bad]);
    }
        snprintf((char *)f, CFG_STR_MAX, "%s", text);
        return KDT_OK;
    case CFG_ENUM: return parse_choice(src, mark, k, text, (int *)f);
    case CFG_ENUM_LIST: return parse_choice(src, mark, k, text, &((cfg_ints *)f)->v[i]);
    }
    return KDT_OK;
}

static void set_list_len(kdt_config *cfg, const cfg_key *k, int n) {
    if (k->type == CFG_FLOAT_LIST) ((cfg_floats *)field(cfg, k))->n = n;
    else ((cfg_ints *)field(cfg, k))->n = n;
}

// Sets key k from a YAML node: a scalar, or a sequence of scalars for lists (a lone scalar is a
// one-element list). Writes into a copy so that a bad element leaves the key unchanged.
static kdt_status set_from_node(kdt_config *cfg, const cfg_key *k, const source *src,
                                yaml_document_t *doc, yaml_node_t *node) {
    const yaml_mark_t *mark = &node->start_mark;
    if (node->type == YAML_MAPPING_NODE)
        return fail_at(src, mark, "%s: expected %s, got a mapping", k->path, type_name(k->type));
    if (node->type == YAML_SCALAR_NODE) {
        const char *text = (const char *)node->data.scalar.value;
        if (!is_list(k->type)) return set_scalar(cfg, k, src, mark, text, -1);
        if (k->min_len > 1)
            return fail_at(src, mark, "%s: expected a list of %d to %d values such as [1.0, 2.0], got '%s'",
                           k->path, k->min_len, k->max_len, text);
        kdt_config tmp = *cfg;
        kdt_status s = set_scalar(&tmp, k, src, mark, text, 0);
        if (s) return s;
        set_list_len(&tmp, k, 1);
        *cfg = tmp;
        return KDT_OK;
    }
    if (!is_list(k->type))
        return fail_at(src, mark, "%s: expected %s, got a list", k->path, type_name(k->type));
    yaml_node_item_t *items = node->data.sequence.items.start;
    int n = (int)(node->data.sequence.items.top - items);
    if (n < k->min_len || n > k->max_len) {
        if (k->min_len == k->max_len)
            return fail_at(src, mark, "%s: expected a list of exactly %d values, got %d", k->path,
                           k->min_len, n);
        return fail_at(src, mark, "%s: expected a list of %d to %d values, got %d", k->path,
                       k->min_len, k->max_len, n);
    }
    kdt_config *tmp = malloc(sizeof *tmp);
    if (!tmp) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    *tmp = *cfg;
    kdt_status s = KDT_OK;
    for (int i = 0; i < n && !s; i++) {
        yaml_node_t *item = yaml_document_get_node(doc, items[i]);
        if (item->type != YAML_SCALAR_NODE)
            s = fail_at(src, &item->start_mark, "%s: element %d must be a single value", k->path, i + 1);
        else
            s = set_scalar(tmp, k, src, &item->start_mark, (const char *)item->data.scalar.value, i);
    }
    if (!s) {
        set_list_len(tmp, k, n);
        *cfg = *tmp;
    }
    free(tmp);
    return s;
}

// ---- documents ---------------------------------------------------------------------------------

static kdt_status load_mapping(kdt_config *cfg, const source *src, yaml_document_t *doc,
                               yaml_node_t *map, const char *prefix) {
    yaml_node_pair_t *begin = map->data.mapping.pairs.start, *end = map->data.mapping.pairs.top;
    for (yaml_node_pair_t *p = begin; p < end; p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(doc, p->value);
        if (kn->type != YAML_SCALAR_NODE)
            return fail_at(src, &kn->start_mark, "a key must be a plain name");
        const char *name = (const char *)kn->data.scalar.value;
        for (yaml_node_pair_t *q = begin; q < p; q++) {
            yaml_node_t *other = yaml_document_get_node(doc, q->key);
            if (other->type == YAML_SCALAR_NODE &&
                strcmp((const char *)other->data.scalar.value, name) == 0)
                return fail_at(src, &kn->start_mark, "duplicate key '%s%s%s' (first at line %zu)",
                               prefix, *prefix ? "." : "", name, other->start_mark.line + 1);
        }
        char path[256];
        if (snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name) >= (int)sizeof path)
            return fail_at(src, &kn->start_mark, "key path too long");
        const cfg_key *k = key_find(path);
        kdt_status s;
        if (k) {
            s = set_from_node(cfg, k, src, doc, vn);
        } else if (section_exists(path)) {
            if (vn->type != YAML_MAPPING_NODE)
                return fail_at(src, &vn->start_mark, "'%s' is a section: expected a mapping of its keys",
                               path);
            s = load_mapping(cfg, src, doc, vn, path);
        } else {
            s = fail_unknown_key(src, &kn->start_mark, path);
        }
        if (s) return s;
    }
    return KDT_OK;
}

static kdt_status yaml_problem(const source *src, const yaml_parser_t *parser) {
    const char *problem = parser->problem ? parser->problem : "malformed YAML";
    if (src->is_file)
        return kdt_fail(KDT_ERR_CONFIG, "%s:%zu:%zu: malformed YAML: %s%s%s", src->origin,
                        parser->problem_mark.line + 1, parser->problem_mark.column + 1, problem,
                        parser->context ? " " : "", parser->context ? parser->context : "");
    return kdt_fail(KDT_ERR_CONFIG, "%s: malformed YAML value: %s", src->origin, problem);
}

// A config nests sections at most three deep, plus a list: anything deeper is refused from the
// event stream, before libyaml builds a document (100,000 levels would take it many seconds).
enum { CONFIG_MAX_DEPTH = 16 };

config_yaml_nesting config_yaml_check_nesting(yaml_parser_t *parser, int max_depth, yaml_mark_t *at) {
    for (int depth = 0;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(parser, &ev)) return CONFIG_YAML_MALFORMED;
        yaml_event_type_t type = ev.type;
        *at = ev.start_mark;
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT) return CONFIG_YAML_OK;
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (++depth > max_depth) return CONFIG_YAML_TOO_DEEP;
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
    }
}

static kdt_status check_depth(const source *src, const char *text, size_t len) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    yaml_mark_t at;
    kdt_status s = KDT_OK;
    switch (config_yaml_check_nesting(&parser, CONFIG_MAX_DEPTH, &at)) {
    case CONFIG_YAML_MALFORMED: s = yaml_problem(src, &parser); break;
    case CONFIG_YAML_TOO_DEEP:
        s = fail_at(src, &at, "nested deeper than %d levels; a config has sections, keys and lists of values, "
                    "no deeper (see `kdtune validate --commented`)", CONFIG_MAX_DEPTH);
        break;
    case CONFIG_YAML_OK: break;
    }
    yaml_parser_delete(&parser);
    return s;
}

// The byte offset of the first invalid UTF-8 sequence in s, or -1 when s is valid UTF-8 (no
// overlong forms, no surrogates, nothing above U+10FFFF).
static long utf8_invalid_at(const char *str) {
    const unsigned char *s = (const unsigned char *)str, *p = s;
    while (*p) {
        unsigned c = *p;
        int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0) return (long)(p - s);
        unsigned cp = n == 0 ? c : n == 1 ? c & 0x1F : n == 2 ? c & 0x0F : c & 0x07;
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80) return (long)(p - s);
            cp = cp << 6 | (p[i] & 0x3F);
        }
        static const unsigned least[] = {0, 0x80, 0x800, 0x10000};
        if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return (long)(p - s);
        p += n + 1;
    }
    return -1;
}

// Parses one YAML document; *root is NULL for an empty document.
static kdt_status parse_document(const source *src, const char *text, size_t len,
                                 yaml_document_t *doc, yaml_node_t **root) {
    kdt_status depth = check_depth(src, text, len);
    if (depth) return depth;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, doc)) {
        kdt_status s = yaml_problem(src, &parser);
        yaml_parser_delete(&parser);
        return s;
    }
    // A second document in the same stream is almost certainly a mistake: refuse it.
    yaml_document_t extra;
    if (!yaml_parser_load(&parser, &extra)) {
        kdt_status s = yaml_problem(src, &parser);
        yaml_document_delete(doc);
        yaml_parser_delete(&parser);
        return s;
    }
    bool has_extra = yaml_document_get_root_node(&extra) != NULL;
    yaml_document_delete(&extra);
    yaml_parser_delete(&parser);
    if (has_extra) {
        yaml_document_delete(doc);
        return fail_at(src, NULL, "more than one YAML document ('---'); give one config per file");
    }
    *root = yaml_document_get_root_node(doc);
    return KDT_OK;
}

kdt_status config_load_string(kdt_config *cfg, const char *yaml, size_t len, const char *origin) {
    source src = {origin, true};
    yaml_document_t doc;
    yaml_node_t *root = NULL;
    kdt_status s = parse_document(&src, yaml, len, &doc, &root);
    if (s) return s;
    if (root && root->type == YAML_MAPPING_NODE) {
        kdt_config *tmp = malloc(sizeof *tmp); // all or nothing: a bad key leaves cfg unchanged
        if (!tmp) s = kdt_fail(KDT_ERR_NOMEM, "out of memory");
        else {
            *tmp = *cfg;
            s = load_mapping(tmp, &src, &doc, root, "");
            if (!s) *cfg = *tmp;
            free(tmp);
        }
    } else if (root && !(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)) {
        s = fail_at(&src, &root->start_mark,
                    "expected a mapping of sections (experiment:, data:, ...) at the top level");
    }
    yaml_document_delete(&doc);
    return s;
}

kdt_status config_load_file(kdt_config *cfg, const char *path) {
    char *text;
    size_t len;
    // A config is a few kilobytes: 16 MiB is generous, and bounds what a wrong path can cost.
    kdt_status s = fs_read_all_limited(path, (size_t)16 << 20, &text, &len);
    if (s) return kdt_fail(KDT_ERR_CONFIG, "%s; check the path given with -c", kdt_errmsg());
    s = config_load_string(cfg, text, len, path);
    free(text);
    return s;
}

kdt_status config_set(kdt_config *cfg, const char *assignment) {
    char origin[600];
    snprintf(origin, sizeof origin, "override '%s'", assignment);
    source src = {origin, false};
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return kdt_fail(KDT_ERR_USAGE, "%s: expected key.path=value, e.g. kd.alpha=0.3", origin);
    char path[256];
    size_t n = (size_t)(eq - assignment);
    if (n >= sizeof path) return fail_at(&src, NULL, "key path too long");
    memcpy(path, assignment, n);
    path[n] = '\0';
    const cfg_key *k = key_find(path);
    if (!k) {
        if (section_exists(path))
            return fail_at(&src, NULL, "'%s' is a section; set one of its keys, e.g. %s.<key>=...",
                           path, path);
        return fail_unknown_key(&src, NULL, path);
    }
    const char *value = eq + 1;
    if (k->type == CFG_STRING) { // taken verbatim: paths need no YAML quoting
        yaml_mark_t none = {0};
        return set_scalar(cfg, k, &src, &none, value, -1);
    }
    yaml_document_t doc;
    yaml_node_t *root = NULL;
    kdt_status s = parse_document(&src, value, strlen(value), &doc, &root);
    if (s) return s;
    if (!root) s = fail_at(&src, NULL, "%s: missing value after '='", path);
    else s = set_from_node(cfg, k, &src, &doc, root);
    yaml_document_delete(&doc);
    return s;
}

void config_default(kdt_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < config_schema_len; i++) {
        char assignment[512];
        snprintf(assignment, sizeof assignment, "%s=%s", config_schema[i].path, config_schema[i].def);
        kdt_status s = config_set(cfg, assignment);
        if (s) { // a broken default in the schema is a programmer error
            fprintf(stderr, "kdtune: bad schema default: %s\n", kdt_errmsg());
            abort();
        }
    }
}

// ---- relations between keys --------------------------------------------------------------------

static bool has_duplicates(const int *v, int n) {
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (v[i] == v[j]) return true;
    return false;
}

// The image shape and class count the data source gives (the real datasets' are fixed).
static void source_shape(const kdt_config *c, int *ch, int *h, int *w, int *classes) {
    switch (c->data.source) {
    case DATA_CIFAR10: *ch = 3, *h = *w = 32, *classes = 10; return;
    case DATA_CIFAR100: *ch = 3, *h = *w = 32, *classes = c->data.cifar100_labels == CONFIG_LABELS_COARSE ? 20 : 100; return;
    case DATA_MNIST:
    case DATA_FASHION_MNIST: *ch = 1, *h = *w = 28, *classes = 10; return;
    default:
        *ch = c->data.synthetic.channels, *h = *w = c->data.synthetic.image_size;
        *classes = c->data.synthetic.classes;
    }
}

// Sizes computed from the config, checked against memory before anything is allocated: the
// participants' models (each holds parameters, gradients and activations for its largest batch)
// and the synthetic splits. The message names the keys and the bytes.
static kdt_status check_sizes(const kdt_config *c, const char *where) {
    int ch, h, w, classes, P = c->federation.participants;
    source_shape(c, &ch, &h, &w, &classes);
    size_t limit = model_memory_limit();
    int batch = c->pretrain.sgd.batch_size > c->kd.sgd.batch_size ? c->pretrain.sgd.batch_size
                                                                  : c->kd.sgd.batch_size;
    if (batch < 64) batch = 64; // evaluation runs in batches of at least 64
    double total = 0, largest = 0;
    for (int i = 0; i < P && i < CFG_LIST_MAX; i++) {
        int arch = c->model.arch.v[c->model.arch.n == 1 ? 0 : i];
        model_spec m = {.arch = (model_arch)arch, .in_c = ch, .in_h = h, .in_w = w, .num_classes = classes};
        if (arch == MODEL_MLP) {
            if (c->model.mlp_hidden.n > MODEL_MAX_HIDDEN)
                return kdt_fail(KDT_ERR_CONFIG, "%s: model.mlp_hidden has %d layers; the mlp takes at "
                                "most %d", where, c->model.mlp_hidden.n, MODEL_MAX_HIDDEN);
            m.num_hidden = c->model.mlp_hidden.n;
            for (int k = 0; k < m.num_hidden; k++) m.hidden[k] = c->model.mlp_hidden.v[k];
        }
        size_t bytes;
        kdt_status s = model_bytes_needed(&m, batch, &bytes);
        if (s) return kdt_fail_context(KDT_ERR_CONFIG, "%s: model.arch / model.mlp_hidden", where);
        total += (double)bytes;
        if ((double)bytes > largest) largest = (double)bytes;
    }
    total += largest; // a KD round trains a copy of the student
    if (total > (double)limit)
        return kdt_fail(KDT_ERR_CONFIG, "%s: the %d participants' models (model.arch, model.mlp_hidden "
                        "for %dx%dx%d inputs, batch %d from pretrain.sgd.batch_size / kd.sgd.batch_size) "
                        "need %.1f MiB (the largest %.1f MiB), more than this machine's %.1f MiB of "
                        "memory; use smaller model.mlp_hidden or model.arch, fewer "
                        "federation.participants or smaller batches", where, P, ch, h, w, batch,
                        total / 1048576.0, largest / 1048576.0, (double)limit / 1048576.0);
    if (c->data.source == DATA_SYNTHETIC) {
        double n = (double)c->data.pool_size + c->data.transfer_size + c->data.val_size + c->data.test_size;
        double bytes = n * ch * h * w * sizeof(float);
        if (bytes > (double)limit / 2)
            return kdt_fail(KDT_ERR_CONFIG, "%s: data.pool_size + data.transfer_size + data.val_size + "
                            "data.test_size = %.0f synthetic images of %dx%dx%d need %.1f MiB, more than "
                            "half of this machine's %.1f MiB of memory; use fewer or smaller images "
                            "(data.synthetic.image_size)", where, n, ch, h, w, bytes / 1048576.0,
                            (double)limit / 1048576.0);
    }
    return KDT_OK;
}

kdt_status config_check(const kdt_config *c) {
    const char *where = "config";
    int p = c->federation.participants;
    // Strings may also come from the command line (-o): every one must be UTF-8.
    for (size_t i = 0; i < config_schema_len; i++) {
        const cfg_key *k = &config_schema[i];
        if (k->type != CFG_STRING) continue;
        const char *text = cfield(c, k);
        long bad = utf8_invalid_at(text);
        if (bad >= 0)
            return kdt_fail(KDT_ERR_CONFIG, "%s: %s is not valid UTF-8 (byte %ld is 0x%02x); names "
                            "and paths must be UTF-8 so that the run's config.yaml reads back: rename "
                            "it", where, k->path, bad + 1, (unsigned char)text[bad]);
    }
    if (c->model.arch.n != 1 && c->model.arch.n != p)
        return kdt_fail(KDT_ERR_CONFIG,
                        "%s: model.arch has %d entries; give 1 (for all participants) or %d (one per "
                        "participant, as federation.participants)", where, c->model.arch.n, p);
    if (c->space.temperature.v[0] > c->space.temperature.v[1])
        return kdt_fail(KDT_ERR_CONFIG, "%s: space.temperature is [min, max] with min <= max", where);
    if (c->space.alpha.v[0] > c->space.alpha.v[1])
        return kdt_fail(KDT_ERR_CONFIG, "%s: space.alpha is [min, max] with min <= max", where);
    const struct { const char *path; const int *v; int n; } sets[] = {
        {"space.transfer_sets", (const int *)c->space.transfer_sets.v, c->space.transfer_sets.n},
        {"space.positions", (const int *)c->space.positions.v, c->space.positions.n},
        {"grid.transfer_sets", (const int *)c->grid.transfer_sets.v, c->grid.transfer_sets.n},
        {"grid.positions", (const int *)c->grid.positions.v, c->grid.positions.n},
        {"tuner.strategies", (const int *)c->tuner.strategies.v, c->tuner.strategies.n},
        {"space.methods", (const int *)c->space.methods.v, c->space.methods.n},
        {"grid.methods", (const int *)c->grid.methods.v, c->grid.methods.n},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (has_duplicates(sets[i].v, sets[i].n))
            return kdt_fail(KDT_ERR_CONFIG, "%s: %s lists a value twice", where, sets[i].path);
    if (c->tuner.replicates > 1 && c->tuner.final_candidates * (c->tuner.replicates - 1) >= c->tuner.budget)
        return kdt_fail(KDT_ERR_CONFIG, "%s: tuner.final_candidates x (tuner.replicates - 1) = %d re-evaluations "
                        "leave nothing of tuner.budget (%d) for the search; raise the budget or lower them", where,
                        c->tuner.final_candidates * (c->tuner.replicates - 1), c->tuner.budget);
    if (c->data.pool_size < p)
        return kdt_fail(KDT_ERR_CONFIG, "%s: data.pool_size (%d) is smaller than the number of "
                        "participants (%d)", where, c->data.pool_size, p);
    if (c->partition.scheme == PARTITION_FROM_FILE && !c->partition.file[0])
        return kdt_fail(KDT_ERR_CONFIG, "%s: partition.scheme is from_file but partition.file is "
                        "empty; give the path of a saved partition/indices.bin", where);
    if (c->data.source != DATA_SYNTHETIC && !c->data.path[0])
        return kdt_fail(KDT_ERR_CONFIG, "%s: data.source is %s but data.path is empty; give the "
                        "directory holding its files", where,
                        config_choice_name("data.source", c->data.source));
    if (c->data.source == DATA_SYNTHETIC &&
        c->data.augment.crop_padding >= c->data.synthetic.image_size)
        return kdt_fail(KDT_ERR_CONFIG, "%s: data.augment.crop_padding (%d) must be smaller than "
                        "data.synthetic.image_size (%d)", where, c->data.augment.crop_padding,
                        c->data.synthetic.image_size);
    return check_sizes(c, where);
}

// ---- printing ------------------------------------------------------------------------------------

// A YAML double-quoted string that libyaml reads back to the same bytes: quote and backslash
// escaped, and every code point libyaml would refuse or fold (controls, DEL, C1 controls, line and
// paragraph separators, the BOM and the two non-characters) written as an escape. s is UTF-8.
static void sb_yaml_string(strbuf *sb, const char *str) {
    sb_printf(sb, "\"");
    const unsigned char *p = (const unsigned char *)str;
    while (*p) {
        unsigned c = *p;
        int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        unsigned cp = n <= 0 ? c : n == 1 ? c & 0x1F : n == 2 ? c & 0x0F : c & 0x07;
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80) { // not UTF-8 (config_check refuses it): never read past it
                n = -1;
                break;
            }
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if (n < 0) {
            cp = c;
            n = 0;
        }
        if (cp == '"' || cp == '\\') sb_printf(sb, "\\%c", (char)cp);
        else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) sb_printf(sb, "\\x%02x", cp);
        else if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF)
            sb_printf(sb, "\\u%04x", cp);
        else sb_printf(sb, "%.*s", n + 1, (const char *)p);
        p += n + 1;
    }
    sb_printf(sb, "\"");
}

static void sb_value(strbuf *sb, const kdt_config *cfg, const cfg_key *k) {
    const void *f = cfield(cfg, k);
    switch (k->type) {
    case CFG_INT: sb_printf(sb, "%d", *(const int *)f); break;
    case CFG_FLOAT: sb_double(sb, *(const double *)f); break;
    case CFG_BOOL: sb_printf(sb, "%s", *(const bool *)f ? "true" : "false"); break;
    case CFG_STRING: sb_yaml_string(sb, (const char *)f); break;
    case CFG_ENUM: sb_printf(sb, "%s", config_choice_name(k->path, *(const int *)f)); break;
    case CFG_INT_LIST:
    case CFG_ENUM_LIST: {
        const cfg_ints *l = f;
        sb_printf(sb, "[");
        for (int i = 0; i < l->n; i++) {
            if (k->type == CFG_INT_LIST) sb_printf(sb, "%s%d", i ? ", " : "", l->v[i]);
            else sb_printf(sb, "%s%s", i ? ", " : "", config_choice_name(k->path, l->v[i]));
        }
        sb_printf(sb, "]");
        break;
    }
    case CFG_FLOAT_LIST: {
        const cfg_floats *l = f;
        sb_printf(sb, "[");
        for (int i = 0; i < l->n; i++) {
            sb_printf(sb, "%s", i ? ", " : "");
            sb_double(sb, l->v[i]);
        }
        sb_printf(sb, "]");
        break;
    }
    }
}

// The range or choices of a key, for its comment.
static void sb_domain(strbuf *sb, const cfg_key *k) {
    char lo[64], hi[64];
    switch (k->type) {
    case CFG_ENUM:
    case CFG_ENUM_LIST: {
        char all[256];
        choice_list(k, all, sizeof all);
        sb_printf(sb, " (%s)", all);
        break;
    }
    case CFG_INT:
    case CFG_INT_LIST: sb_printf(sb, " [%.0f, %.0f]", k->min, k->max); break;
    case CFG_FLOAT:
    case CFG_FLOAT_LIST:
        text_format_double(lo, sizeof lo, k->min);
        text_format_double(hi, sizeof hi, k->max);
        sb_printf(sb, " [%s, %s]", lo, hi);
        break;
    default: break;
    }
}

char *config_to_yaml(const kdt_config *cfg, bool commented) {
    strbuf sb = {0};
    if (commented)
        sb_printf(&sb, "# kdtune configuration: every key with its default. Generated by\n"
                       "# `kdtune validate --commented`; give only the keys you change.\n");
    char prev[256] = "";
    for (size_t i = 0; i < config_schema_len; i++) {
        const cfg_key *k = &config_schema[i];
        // Open the sections this key enters: compare its dotted prefix with the previous key's.
        char parts[4][64];
        int depth = 0;
        for (const char *p = k->path; depth < 4;) {
            const char *dot = strchr(p, '.');
            size_t len = dot ? (size_t)(dot - p) : strlen(p);
            snprintf(parts[depth++], sizeof parts[0], "%.*s", (int)len, p);
            if (!dot) break;
            p = dot + 1;
        }
        char prefix[320] = "";
        for (int d = 0; d < depth - 1; d++) {
            if (d) strcat(prefix, ".");
            strcat(prefix, parts[d]); // fits: 4 parts of at most 63 characters
            size_t n = strlen(prefix);
            bool open = strncmp(prev, prefix, n) == 0 && prev[n] == '.';
            if (open) continue;
            if (d == 0) {
                sb_printf(&sb, "%s", i ? "\n" : "");
                if (commented) sb_printf(&sb, "# %s\n", config_section_doc(parts[0]));
            }
            sb_printf(&sb, "%*s%s:\n", 2 * d, "", parts[d]);
        }
        if (commented) {
            sb_printf(&sb, "%*s# %s", 2 * (depth - 1), "", k->doc);
            sb_domain(&sb, k);
            sb_printf(&sb, "\n");
        }
        sb_printf(&sb, "%*s%s: ", 2 * (depth - 1), "", parts[depth - 1]);
        sb_value(&sb, cfg, k);
        sb_printf(&sb, "\n");
        snprintf(prev, sizeof prev, "%s", k->path);
    }
    return sb_take(&sb);
}
