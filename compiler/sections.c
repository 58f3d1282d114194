/* sections.c: the config sections (data, codebook, loss, optimizer, train):
 * which keys each accepts, their types, ranges and defaults, and the checks
 * that relate keys to each other or to the graph.
 *
 * Every key of a section ends up in its ir_section, in table order, with
 * is_default marking the ones the .vq did not write, so `--dump=graph` shows
 * every default that applies. Unknown keys get "did you mean"; a key that
 * has no effect given the others (decay without update = ema) is an error.
 */
#include <stdio.h>
#include <string.h>

#include "checker.h"

typedef enum ktype {
    K_INT, K_FLOAT, K_BOOL,
    K_ENUM,      /* bare name from choices */
    K_FLOATS,    /* list<float> of n_floats items */
    K_NAMES,     /* list of parameter prefixes: [encoder, decoder, quantize] */
    K_PATH,      /* one parameter name: decoder.conv_out.weight */
    K_STRING,
} ktype;

typedef enum krange { KR_ANY, KR_POS, KR_NONNEG, KR_UNIT /* each in [0, 1) */ } krange;

typedef struct key_spec {
    const char *key;
    ktype type;
    int required;           /* no default: must be written */
    int optional;           /* no default: "off" (IR_V_NONE) unless written */
    int64_t di; double df; const char *ds; double d2[2];
    const char *choices;
    krange range;
    int n_floats;
    const char *needs_key, *needs_value;   /* meaningful only when needs_key == needs_value */
    int needs_disc;         /* meaningful only with a discriminator section */
} key_spec;

static const key_spec data_keys[] = {
    {.key = "channels", .type = K_INT, .required = 1, .range = KR_POS},
    {.key = "resolution", .type = K_INT, .required = 1, .range = KR_POS},
    {.key = "range", .type = K_FLOATS, .n_floats = 2, .d2 = {-1.0, 1.0}},
    {.key = "pad_to", .type = K_INT, .optional = 1, .range = KR_POS},
    {.key = "dataset", .type = K_STRING, .optional = 1},
};

static const key_spec codebook_keys[] = {
    {.key = "entries", .type = K_INT, .required = 1, .range = KR_POS},
    {.key = "dim", .type = K_INT, .required = 1, .range = KR_POS},
    {.key = "beta", .type = K_FLOAT, .df = 0.25, .range = KR_NONNEG},
    {.key = "loss", .type = K_ENUM, .ds = "legacy", .choices = "legacy|corrected"},
    {.key = "update", .type = K_ENUM, .ds = "gradient", .choices = "gradient|ema"},
    {.key = "decay", .type = K_FLOAT, .df = 0.99, .range = KR_UNIT, .needs_key = "update", .needs_value = "ema"},
    {.key = "eps", .type = K_FLOAT, .df = 1e-5, .range = KR_POS, .needs_key = "update", .needs_value = "ema"},
    {.key = "init", .type = K_ENUM, .ds = "uniform", .choices = "uniform|normal|kmeans"},
    {.key = "restart_after", .type = K_INT, .di = 0, .range = KR_NONNEG},
    {.key = "restart_threshold", .type = K_FLOAT, .df = 0.0, .range = KR_NONNEG},
    {.key = "distance", .type = K_ENUM, .ds = "l2", .choices = "l2|cosine"},
    {.key = "lookup_dim", .type = K_INT, .optional = 1, .range = KR_POS},
    {.key = "naming", .type = K_ENUM, .ds = "taming", .choices = "taming|rosinality"},
};

static const key_spec loss_keys[] = {
    {.key = "reconstruction", .type = K_ENUM, .ds = "l1", .choices = "l1|l2"},
    {.key = "reconstruction_weight", .type = K_FLOAT, .df = 1.0, .range = KR_NONNEG},
    {.key = "codebook_weight", .type = K_FLOAT, .df = 1.0, .range = KR_NONNEG},
    {.key = "perceptual_weight", .type = K_FLOAT, .df = 0.0, .range = KR_NONNEG},
    {.key = "disc_loss", .type = K_ENUM, .ds = "hinge", .choices = "hinge|vanilla", .needs_disc = 1},
    {.key = "disc_weight", .type = K_FLOAT, .df = 1.0, .range = KR_NONNEG, .needs_disc = 1},
    {.key = "disc_factor", .type = K_FLOAT, .df = 1.0, .range = KR_NONNEG, .needs_disc = 1},
    {.key = "disc_start", .type = K_INT, .di = 0, .range = KR_NONNEG, .needs_disc = 1},
    {.key = "disc_warmup", .type = K_INT, .di = 0, .range = KR_NONNEG, .needs_disc = 1},
    {.key = "adaptive_weight_layer", .type = K_PATH, .optional = 1, .needs_disc = 1},
};

static const key_spec optimizer_keys[] = {
    {.key = "kind", .type = K_ENUM, .ds = "adam", .choices = "adam|adamw|sgd"},
    {.key = "lr", .type = K_FLOAT, .required = 1, .range = KR_POS},
    {.key = "lr_scale", .type = K_ENUM, .ds = "none", .choices = "none|batch"},
    {.key = "betas", .type = K_FLOATS, .n_floats = 2, .d2 = {0.9, 0.999}, .range = KR_UNIT},
    {.key = "eps", .type = K_FLOAT, .df = 1e-8, .range = KR_POS},
    {.key = "weight_decay", .type = K_FLOAT, .df = 0.0, .range = KR_NONNEG},
    {.key = "momentum", .type = K_FLOAT, .df = 0.0, .range = KR_UNIT, .needs_key = "kind", .needs_value = "sgd"},
    {.key = "nesterov", .type = K_BOOL, .di = 0, .needs_key = "kind", .needs_value = "sgd"},
    {.key = "clip_grad_norm", .type = K_FLOAT, .df = 0.0, .range = KR_NONNEG},
    {.key = "schedule", .type = K_ENUM, .ds = "constant", .choices = "constant|warmup|cosine"},
    {.key = "warmup_steps", .type = K_INT, .di = 0, .range = KR_NONNEG},
    {.key = "params", .type = K_NAMES, .required = 1},
};

static const key_spec train_keys[] = {
    {.key = "batch", .type = K_INT, .di = 8, .range = KR_POS},
    {.key = "steps", .type = K_INT, .di = 1000, .range = KR_POS},
    {.key = "seed", .type = K_INT, .di = 0, .range = KR_NONNEG},
    {.key = "eval_every", .type = K_INT, .di = 0, .range = KR_NONNEG},
    {.key = "ckpt_every", .type = K_INT, .di = 0, .range = KR_NONNEG},
    {.key = "threads", .type = K_INT, .di = 0, .range = KR_NONNEG},
};

#define KEYS(k) k, (int)(sizeof k / sizeof k[0])

static const struct section_info {
    const char *kind;
    int named;              /* 1: needs a name; 0: must not have one */
    int graph;              /* an ir_graph_kind + 1, or 0 for config sections */
    const key_spec *keys;
    int n_keys;
} sections[] = {
    {"data", 0, 0, KEYS(data_keys)},
    {"codebook", 1, 0, KEYS(codebook_keys)},
    {"encoder", 0, IR_ENCODER + 1, NULL, 0},
    {"decoder", 0, IR_DECODER + 1, NULL, 0},
    {"discriminator", 0, IR_DISCRIMINATOR + 1, NULL, 0},
    {"loss", 0, 0, KEYS(loss_keys)},
    {"optimizer", 1, 0, KEYS(optimizer_keys)},
    {"train", 0, 0, KEYS(train_keys)},
};
#define N_SECTIONS (int)(sizeof sections / sizeof sections[0])

static const struct section_info *section_find(const char *kind)
{
    for (int i = 0; i < N_SECTIONS; i++)
        if (strcmp(sections[i].kind, kind) == 0) return &sections[i];
    return NULL;
}

const char *const *section_kinds(void)
{
    static const char *names[N_SECTIONS + 1];
    for (int i = 0; i < N_SECTIONS; i++) names[i] = sections[i].kind;
    return names;
}

int section_is_config(const char *kind)
{
    const struct section_info *s = section_find(kind);
    return s && !s->graph;
}

int section_is_graph(const char *kind, ir_graph_kind *g)
{
    const struct section_info *s = section_find(kind);
    if (!s || !s->graph) return 0;
    *g = (ir_graph_kind)(s->graph - 1);
    return 1;
}

int section_needs_name(const char *kind)
{
    const struct section_info *s = section_find(kind);
    return s && s->named;
}

/* ---- values ------------------------------------------------------------------ */

/* `decoder.conv_out.weight` or `encoder` written as names, not evaluated */
static const char *dotted(checker *c, const ast_expr *e)
{
    if (e->kind == EXPR_NAME) return e->s;
    if (e->kind == EXPR_STRING) return e->s;
    if (e->kind == EXPR_MEMBER && e->lhs) {
        const char *l = dotted(c, e->lhs);
        return l ? c_printf(c, "%s.%s", l, e->s) : NULL;
    }
    return NULL;
}

static int key_range_ok(checker *c, const key_spec *k, double x, src_loc loc)
{
    static const char *const what[] = {"", "> 0", ">= 0", "in [0, 1)"};
    int ok = k->range == KR_ANY || (k->range == KR_POS && x > 0) || (k->range == KR_NONNEG && x >= 0) ||
             (k->range == KR_UNIT && x >= 0 && x < 1);
    if (!ok) diag_error(c->d, loc, "'%s' must be %s, got %g", k->key, what[k->range], x);
    return ok;
}

static const char *ktype_name(ktype t)
{
    static const char *const n[] = {"an int", "a float", "a bool", "a name", "a list of floats",
                                    "a list of parameter names", "a parameter name", "a string"};
    return n[t];
}

static int key_eval(checker *c, const key_spec *k, const ast_expr *e, ir_value *out)
{
    memset(out, 0, sizeof *out);
    if (k->type == K_ENUM) {
        const char *name;
        const char *const *choices = split_choices(c, k->choices);
        if (!symbol_arg(c, &c->globals, e, choices, &name)) return 0;
        for (int i = 0; choices[i]; i++)
            if (strcmp(choices[i], name) == 0) {
                out->kind = IR_V_STRING;
                out->s = name;
                return 1;
            }
        char dym[128];
        did_you_mean_suffix(dym, sizeof dym, name, choices);
        diag_error(c->d, e->loc, "'%s' is not a valid %s (one of: %s)%s", name, k->key, k->choices, dym);
        return 0;
    }
    if (k->type == K_PATH) {
        const char *p = dotted(c, e);
        if (!p) { diag_error(c->d, e->loc, "'%s' must be a parameter name like decoder.conv_out.weight", k->key); return 0; }
        out->kind = IR_V_STRING;
        out->s = p;
        return 1;
    }
    if (k->type == K_NAMES) {
        if (e->kind != EXPR_LIST) { diag_error(c->d, e->loc, "'%s' must be a list of parameter prefixes", k->key); return 0; }
        int n = 0;
        for (const ast_expr *it = e->items; it; it = it->next) n++;
        const char **names = ast_alloc(c->a, (size_t)(n + 1) * sizeof *names);
        n = 0;
        for (const ast_expr *it = e->items; it; it = it->next) {
            names[n] = dotted(c, it);
            if (!names[n]) { diag_error(c->d, it->loc, "expected a parameter prefix like encoder or loss.discriminator"); return 0; }
            n++;
        }
        out->kind = IR_V_STRINGS;
        out->n = n;
        out->strs = names;
        return 1;
    }
    value v = eval(c, &c->globals, e);
    if (v.kind == V_POISON) return 0;
    switch (k->type) {
    case K_INT:
        if (v.kind != V_INT) break;
        out->kind = IR_V_INT;
        out->i = v.i;
        return key_range_ok(c, k, (double)v.i, e->loc);
    case K_FLOAT:
        if (v.kind != V_INT && v.kind != V_FLOAT) break;
        out->kind = IR_V_FLOAT;
        out->f = v.kind == V_INT ? (double)v.i : v.f;
        return key_range_ok(c, k, out->f, e->loc);
    case K_BOOL:
        if (v.kind != V_BOOL) break;
        out->kind = IR_V_BOOL;
        out->b = v.b;
        return 1;
    case K_STRING:
        if (v.kind != V_STRING) break;
        out->kind = IR_V_STRING;
        out->s = v.s;
        return 1;
    case K_FLOATS: {
        if (v.kind != V_LIST || v.n != k->n_floats) break;
        double *f = ast_alloc(c->a, (size_t)v.n * sizeof *f);
        for (int i = 0; i < v.n; i++) {
            if (v.items[i].kind != V_INT && v.items[i].kind != V_FLOAT) goto bad;
            f[i] = v.items[i].kind == V_INT ? (double)v.items[i].i : v.items[i].f;
            if (!key_range_ok(c, k, f[i], e->loc)) return 0;
        }
        if (strcmp(k->key, "range") == 0 && !(f[0] < f[1])) {
            diag_error(c->d, e->loc, "'range' must be [lo, hi] with lo < hi");
            return 0;
        }
        out->kind = IR_V_FLOATS;
        out->n = v.n;
        out->floats = f;
        return 1;
    }
    default: break;
    }
bad:
    if (k->type == K_FLOATS)
        diag_error(c->d, e->loc, "'%s' must be a list of %d numbers, got %s", k->key, k->n_floats, value_type_str(c, &v));
    else
        diag_error(c->d, e->loc, "'%s' must be %s, got %s", k->key, ktype_name(k->type), value_type_str(c, &v));
    return 0;
}

static void key_default(checker *c, const key_spec *k, ir_value *out)
{
    memset(out, 0, sizeof *out);
    if (k->required || k->optional) { out->kind = IR_V_NONE; return; }
    switch (k->type) {
    case K_INT: out->kind = IR_V_INT; out->i = k->di; break;
    case K_FLOAT: out->kind = IR_V_FLOAT; out->f = k->df; break;
    case K_BOOL: out->kind = IR_V_BOOL; out->b = (int)k->di; break;
    case K_ENUM: out->kind = IR_V_STRING; out->s = k->ds; break;
    case K_FLOATS: {
        double *f = ast_alloc(c->a, 2 * sizeof *f);
        f[0] = k->d2[0];
        f[1] = k->d2[1];
        out->kind = IR_V_FLOATS; out->n = 2; out->floats = f;
        break;
    }
    default: out->kind = IR_V_NONE; break;
    }
}

/* ---- checking a section ---------------------------------------------------------- */

static const char *section_title(checker *c, const ast_item *it)
{
    return it->name ? c_printf(c, "%s '%s'", it->section, it->name) : c_printf(c, "'%s'", it->section);
}

void section_defaults(checker *c, const char *kind, ir_section *out)
{
    const struct section_info *si = section_find(kind);
    memset(out, 0, sizeof *out);
    out->kind = si->kind;
    out->n_set = si->n_keys;
    out->set = ast_alloc(c->a, (size_t)si->n_keys * sizeof *out->set);
    for (int i = 0; i < si->n_keys; i++) {
        out->set[i].key = si->keys[i].key;
        out->set[i].is_default = 1;
        key_default(c, &si->keys[i], &out->set[i].v);
    }
}

void section_check(checker *c, const ast_item *it, ir_section *out)
{
    const struct section_info *si = section_find(it->section);
    section_defaults(c, it->section, out);
    out->name = it->name;
    out->present = 1;
    out->loc = it->loc;
    const ast_stmt **given = ast_alloc(c->a, (size_t)(si->n_keys + 1) * sizeof *given);
    int unknown = 0;            /* a misspelled key is likely the missing one: no second error */
    const char **names = ast_alloc(c->a, (size_t)(si->n_keys + 1) * sizeof *names);
    for (int i = 0; i < si->n_keys; i++) names[i] = si->keys[i].key;

    for (const ast_stmt *st = it->body; st; st = st->next) {
        if (st->kind == STMT_ERROR) continue;
        if (st->kind != STMT_ASSIGN || !st->names || st->names->next) {
            diag_error(c->d, st->loc, "only 'key = value;' is allowed in a %s section", it->section);
            continue;
        }
        const char *key = st->names->name;
        int k = -1;
        for (int i = 0; i < si->n_keys; i++)
            if (strcmp(names[i], key) == 0) k = i;
        if (k < 0) {
            char dym[128];
            did_you_mean_suffix(dym, sizeof dym, key, names);
            diag_error(c->d, st->names->loc, "unknown key '%s' in %s section%s", key, section_title(c, it), dym);
            unknown = 1;
            continue;
        }
        if (given[k]) {
            diag_error(c->d, st->names->loc, "key '%s' is set twice", key);
            diag_note(c->d, given[k]->names->loc, "first set here");
            continue;
        }
        given[k] = st;
        out->set[k].loc = st->names->loc;
        if (key_eval(c, &si->keys[k], st->value, &out->set[k].v)) out->set[k].is_default = 0;
        else out->set[k].v.kind = IR_V_NONE;
    }
    for (int i = 0; i < si->n_keys; i++) {
        const key_spec *k = &si->keys[i];
        if (!given[i]) {
            out->set[i].loc = it->loc;
            if (k->required && !unknown)
                diag_error(c->d, it->section_loc, "%s section needs key '%s'", section_title(c, it), k->key);
            continue;
        }
        if (k->needs_key) {
            const char *v = ir_get_string(out, k->needs_key, "");
            if (strcmp(v, k->needs_value) != 0)
                diag_error(c->d, given[i]->names->loc, "key '%s' has no effect unless %s = %s", k->key,
                           k->needs_key, k->needs_value);
        }
        if (k->needs_disc && !c->m->graphs[IR_DISCRIMINATOR].present)
            diag_error(c->d, given[i]->names->loc, "key '%s' has no effect without a discriminator section", k->key);
    }
}

/* ---- checks against the built graph ------------------------------------------------ */

static int prefix_matches(const char *prefix, const char *name)
{
    size_t n = strlen(prefix);
    return strncmp(prefix, name, n) == 0 && (name[n] == 0 || name[n] == '.');
}

static const char **module_names(checker *c)
{
    const char **names = ast_alloc(c->a, (size_t)(c->m->n_params + 1) * sizeof *names);
    int n = 0;
    for (int i = 0; i < c->m->n_params; i++) {
        const char *full = c->m->params[i].name;
        const char *dot = strchr(full, '.');
        const char *mod = dot ? ast_strdup(c->a, full, (size_t)(dot - full)) : full;
        int seen = 0;
        for (int j = 0; j < n; j++) seen |= strcmp(names[j], mod) == 0;
        if (!seen) names[n++] = mod;
    }
    return names;
}

void sections_cross_check(checker *c, const ast_item *items)
{
    ir_model *m = c->m;
    int *covered = ast_alloc(c->a, (size_t)(m->n_params + 1) * sizeof *covered);   /* optimizer + 1 */
    for (int o = 0; o < m->n_optimizers; o++) {
        const ir_setting *p = ir_setting_find(&m->optimizers[o], "params");
        if (!p || p->v.kind != IR_V_STRINGS) continue;
        int twice = -1;
        for (int i = 0; i < p->v.n; i++) {
            int hits = 0;
            for (int j = 0; j < m->n_params; j++) {
                if (!prefix_matches(p->v.strs[i], m->params[j].name)) continue;
                hits++;
                if (covered[j] && covered[j] != o + 1 && m->params[j].role == IR_TRAINABLE && twice < 0) twice = j;
                covered[j] = o + 1;
            }
            if (hits == 0) {
                char dym[128];
                did_you_mean_suffix(dym, sizeof dym, p->v.strs[i], module_names(c));
                diag_error(c->d, p->loc, "optimizer '%s': params entry '%s' matches no parameter%s",
                           m->optimizers[o].name, p->v.strs[i], dym);
            }
        }
        if (twice >= 0)
            diag_error(c->d, p->loc, "parameter '%s' is trained by two optimizers", m->params[twice].name);
    }
    if (m->n_optimizers > 0) {
        int missed = 0, first = -1;
        for (int j = 0; j < m->n_params; j++)
            if (m->params[j].role == IR_TRAINABLE && !covered[j]) {
                if (first < 0) first = j;
                missed++;
            }
        if (missed)
            diag_warning(c->d, m->optimizers[0].loc, "%d trainable parameters are trained by no optimizer (the first: %s)",
                         missed, m->params[first].name);
    }
    const ir_setting *aw = ir_setting_find(&m->loss, "adaptive_weight_layer");
    if (aw && aw->v.kind == IR_V_STRING) {
        int found = 0;
        for (int j = 0; j < m->n_params; j++)
            found |= strcmp(m->params[j].name, aw->v.s) == 0 && m->params[j].role == IR_TRAINABLE;
        if (!found) {
            const char **names = ast_alloc(c->a, (size_t)(m->n_params + 1) * sizeof *names);
            for (int j = 0; j < m->n_params; j++) names[j] = m->params[j].name;
            char dym[160];
            did_you_mean_suffix(dym, sizeof dym, aw->v.s, names);
            diag_error(c->d, aw->loc, "adaptive_weight_layer '%s' is not a trainable parameter%s", aw->v.s, dym);
        }
    }
    (void)items;
}
