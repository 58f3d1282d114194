/* sema.c: the checker's driver (sema.h): from a parsed file to an ir_model.
 *
 * Order: top-level items of the file and its imports in file order (params
 * with their -D overrides, lets, blocks), then the sections: data (the image
 * shape), codebooks (their tensors), encoder, decoder, discriminator (each
 * elaborated into nodes), loss, optimizers, train, and last the checks that
 * need the whole model (unused codebooks, optimizer prefixes). Every problem
 * goes to the diag_sink; the model is returned only when there were none.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checker.h"
#include "parse.h"

/* ---- -D overrides ------------------------------------------------------------- */

static const vqc_define *define_find(checker *c, const char *name)
{
    const vqc_define *found = NULL;
    for (int i = 0; i < c->opt->n_defines; i++)           /* the last -D wins */
        if (strcmp(c->opt->defines[i].name, name) == 0) found = &c->opt->defines[i];
    return found;
}

/* Parses and evaluates a -D value (a constant expression) on a source
 * named "<command line>", so errors show the value with a caret. */
static value define_value(checker *c, const vqc_define *def)
{
    src_file *src = source_from_string(c->a, "<command line>", def->value, strlen(def->value));
    ast_expr *e = parse_expr_source(c->a, src, c->d);
    if (!e) return v_poison();
    scope empty = {NULL, NULL};
    return eval(c, &empty, e);
}

static void check_unknown_defines(checker *c)
{
    const char **names = visible_names(c, &c->globals);
    for (int i = 0; i < c->opt->n_defines; i++) {
        binding *b = scope_find_local(&c->globals, c->opt->defines[i].name);
        if (b && b->kind == B_PARAM) continue;
        int n = 0;
        const char **params = ast_alloc(c->a, (size_t)(c->m->n_defs + 1) * sizeof *params);
        for (int j = 0; j < c->m->n_defs; j++) params[n++] = c->m->defs[j].key;
        (void)names;
        char dym[128];
        did_you_mean_suffix(dym, sizeof dym, c->opt->defines[i].name, params);
        diag_error(c->d, loc_none(), "-D %s: the model has no param '%s'%s", c->opt->defines[i].name,
                   c->opt->defines[i].name, dym);
    }
}

/* ---- top-level items ------------------------------------------------------------ */

static void global_dup(checker *c, const char *name, src_loc loc, src_loc prev)
{
    diag_error(c->d, loc, "'%s' is already defined", name);
    diag_note(c->d, prev, "previous definition is here");
}

static void item_param(checker *c, const ast_item *it)
{
    binding *prev = scope_find_local(&c->globals, it->name);
    if (prev) { global_dup(c, it->name, it->name_loc, prev->loc); return; }
    value v = eval(c, &c->globals, it->value);
    if (!value_fits(&v, it->type)) {
        diag_error(c->d, it->value->loc, "param '%s' is declared %s but its default is %s", it->name,
                   type_str(c, it->type), value_type_str(c, &v));
        v = v_poison();
    }
    int overridden = 0;
    const vqc_define *def = define_find(c, it->name);
    if (def) {
        value dv = define_value(c, def);
        if (dv.kind != V_POISON && !value_fits(&dv, it->type)) {
            diag_error(c->d, loc_none(), "-D %s=%s: param '%s' is %s, not %s", def->name, def->value, it->name,
                       type_str(c, it->type), value_type_str(c, &dv));
            diag_note(c->d, it->name_loc, "'%s' is declared here", it->name);
            dv = v_poison();
        }
        v = dv;
        overridden = 1;
    }
    scope_bind(c, &c->globals, it->name, v, it->name_loc, B_PARAM);

    ir_model *m = c->m;
    m->defs = grow(c, m->defs, m->n_defs, &c->cap_defs, sizeof *m->defs);
    ir_setting *s = &m->defs[m->n_defs++];
    memset(s, 0, sizeof *s);
    s->key = it->name;
    s->is_default = !overridden;
    s->loc = it->name_loc;
    char buf[256];
    value_str(buf, sizeof buf, &v);
    s->v.kind = IR_V_STRING;      /* params are shown as written; their uses carry typed values */
    s->v.s = c_strdup(c, buf);
}

static void item_let(checker *c, const ast_item *it)
{
    binding *prev = scope_find_local(&c->globals, it->name);
    if (prev) { global_dup(c, it->name, it->name_loc, prev->loc); return; }
    scope_bind(c, &c->globals, it->name, eval(c, &c->globals, it->value), it->name_loc, B_LET);
}

static void item_block(checker *c, const ast_item *it)
{
    block_def *prev = block_find(c, it->name);
    if (prev) { global_dup(c, it->name, it->name_loc, prev->item->name_loc); return; }
    if (op_lookup(it->name) >= 0) {
        diag_error(c->d, it->name_loc, "block '%s' has the name of an op", it->name);
        return;
    }
    for (const ast_formal *f = it->formals; f; f = f->next)
        for (const ast_formal *g = it->formals; g != f; g = g->next)
            if (strcmp(f->name, g->name) == 0) {
                diag_error(c->d, f->loc, "argument '%s' is declared twice", f->name);
                diag_note(c->d, g->loc, "previous declaration is here");
            }
    block_def *b = ast_alloc(c->a, sizeof *b);
    b->name = it->name;
    b->item = it;
    b->next = c->blocks;
    c->blocks = b;
}

/* ---- imports ------------------------------------------------------------------------ */

static void process_items(checker *c, const ast_file *f, int is_main, const ast_item **model_item,
                          const ast_item ***sections, int *n_sections, int *cap_sections);

static const char *dir_of(checker *c, const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? ast_strdup(c->a, path, (size_t)(slash - path)) : ".";
}

static const char *canonical(checker *c, const char *path)
{
    char buf[PATH_MAX];
    return realpath(path, buf) ? c_strdup(c, buf) : path;
}

static void item_import(checker *c, const ast_file *from, const ast_item *it,
                        const ast_item ***sections, int *n_sections, int *cap_sections)
{
    const char *found = NULL;
    if (it->path[0] == '/') {
        if (access(it->path, R_OK) == 0) found = it->path;
    } else {
        const char *dir = dir_of(c, from->src->path);
        const char *p = strcmp(dir, ".") == 0 ? it->path : c_printf(c, "%s/%s", dir, it->path);
        if (access(p, R_OK) == 0) found = p;
        for (int i = 0; !found && i < c->opt->n_include_dirs; i++) {
            p = c_printf(c, "%s/%s", c->opt->include_dirs[i], it->path);
            if (access(p, R_OK) == 0) found = p;
        }
    }
    if (!found) {
        c->import_failed = 1;
        diag_error(c->d, it->loc, "import \"%s\": file not found (searched %s%s)", it->path,
                   dir_of(c, from->src->path), c->opt->n_include_dirs ? " and the -I directories" : "");
        return;
    }
    const char *canon = canonical(c, found);
    for (int i = 0; i < c->n_import_stack; i++)
        if (strcmp(c->import_stack[i], canon) == 0) {
            char chain[1024];
            size_t used = 0;
            for (int j = i; j < c->n_import_stack && used < sizeof chain; j++)
                used += (size_t)snprintf(chain + used, sizeof chain - used, "%s -> ", c->import_shown[j]);
            if (used < sizeof chain) snprintf(chain + used, sizeof chain - used, "%s", found);
            diag_error(c->d, it->loc, "import cycle: %s", chain);
            return;
        }
    for (int i = 0; i < c->n_imported; i++)
        if (strcmp(c->imported[i], canon) == 0) return;       /* already read (a diamond) */
    if (c->n_import_stack >= (int)(sizeof c->import_stack / sizeof c->import_stack[0])) {
        diag_error(c->d, it->loc, "imports nested too deeply");
        return;
    }
    src_file *src = source_read(c->a, found, it->loc, c->d);
    ast_file *f = src ? parse_source(c->a, src, c->d) : NULL;
    if (!f) { c->import_failed = 1; return; }
    c->import_shown[c->n_import_stack] = found;
    c->import_stack[c->n_import_stack++] = canon;
    process_items(c, f, 0, NULL, sections, n_sections, cap_sections);
    c->n_import_stack--;
    c->imported = grow(c, c->imported, c->n_imported, &c->cap_imported, sizeof *c->imported);
    c->imported[c->n_imported++] = canon;
}

static void process_items(checker *c, const ast_file *f, int is_main, const ast_item **model_item,
                          const ast_item ***sections, int *n_sections, int *cap_sections)
{
    for (const ast_item *it = f->items; it; it = it->next) {
        if (!is_main && it->kind != ITEM_BLOCK && it->kind != ITEM_LET && it->kind != ITEM_IMPORT &&
            it->kind != ITEM_ERROR) {
            diag_error(c->d, it->loc, "an imported file may contain only blocks, lets and imports");
            continue;
        }
        switch (it->kind) {
        case ITEM_MODEL:
            if (*model_item) {
                diag_error(c->d, it->loc, "'model' is declared twice");
                diag_note(c->d, (*model_item)->loc, "first declared here");
            } else {
                *model_item = it;
            }
            break;
        case ITEM_IMPORT: item_import(c, f, it, sections, n_sections, cap_sections); break;
        case ITEM_PARAM: item_param(c, it); break;
        case ITEM_LET: item_let(c, it); break;
        case ITEM_BLOCK: item_block(c, it); break;
        case ITEM_SECTION:
            *sections = grow(c, (void *)*sections, *n_sections, cap_sections, sizeof **sections);
            (*sections)[(*n_sections)++] = it;
            break;
        case ITEM_ERROR: break;
        }
    }
}

/* ---- graphs: input and output -------------------------------------------------------- */

void graph_input(checker *c, scope *s, const ast_stmt *st)
{
    ir_graph *g = &c->m->graphs[c->graph];
    for (const ast_name *n = st->names; n; n = n->next) {
        int t = -1;
        if (c->graph == IR_DECODER) {
            /* a decoder input names an encoder output: the same tensor */
            const ir_graph *enc = &c->m->graphs[IR_ENCODER];
            for (int i = 0; i < enc->n_out; i++)
                if (strcmp(enc->out_names[i], n->name) == 0) t = enc->out[i];
            if (t < 0) {
                char dym[128];
                const char **names = ast_alloc(c->a, (size_t)(enc->n_out + 1) * sizeof *names);
                for (int i = 0; i < enc->n_out; i++) names[i] = enc->out_names[i];
                did_you_mean_suffix(dym, sizeof dym, n->name, names);
                diag_error(c->d, n->loc, "decoder input '%s' names no encoder output%s", n->name, dym);
                scope_bind(c, s, n->name, v_poison(), n->loc, B_LOCAL);
                continue;
            }
        } else {
            if (g->n_in > 0 || n != st->names) {
                diag_error(c->d, n->loc, "the %s takes one input, the image", ir_graph_name(c->graph));
                continue;
            }
            t = c->m->image.rank ? irb_tensor(c, &c->m->image, IR_F32, -1, 0) : -1;
            if (t >= 0) c->m->tensors[t].name = n->name;
        }
        int *in = ast_alloc(c->a, (size_t)(g->n_in + 1) * sizeof *in);
        const char **names = ast_alloc(c->a, (size_t)(g->n_in + 1) * sizeof *names);
        if (g->n_in) {
            memcpy(in, g->in, (size_t)g->n_in * sizeof *in);
            memcpy(names, g->in_names, (size_t)g->n_in * sizeof *names);
        }
        in[g->n_in] = t;
        names[g->n_in] = n->name;
        g->in = in;
        g->in_names = names;
        g->n_in++;
        value v = {0};
        v.kind = t >= 0 ? V_TENSOR : V_POISON;
        v.t = t;
        scope_bind(c, s, n->name, v, n->loc, B_LOCAL);
    }
}

static void shape_text(char *buf, size_t n, const ir_shape *s) { ir_shape_str(buf, n, s); }

void graph_output(checker *c, scope *s, const ast_stmt *st)
{
    ir_graph *g = &c->m->graphs[c->graph];
    if (g->n_out > 0) {
        diag_error(c->d, st->loc, "the %s has a second 'output'", ir_graph_name(c->graph));
        return;
    }
    int n = 0;
    for (const ast_expr *e = st->value; e; e = e->next) n++;
    int *out = ast_alloc(c->a, (size_t)n * sizeof *out);
    const char **names = ast_alloc(c->a, (size_t)n * sizeof *names);
    int k = 0, ok = 1;
    if (c->graph != IR_ENCODER && n != 1) {
        diag_error(c->d, st->loc, "the %s has exactly one output", ir_graph_name(c->graph));
        return;
    }
    for (const ast_expr *e = st->value; e; e = e->next) {
        value v = eval(c, s, e);
        if (v.kind == V_POISON) { ok = 0; continue; }
        if (v.kind != V_TENSOR) {
            diag_error(c->d, e->loc, "an output must be a tensor, got %s", value_type_str(c, &v));
            ok = 0;
            continue;
        }
        const ir_tensor *t = &c->m->tensors[v.t];
        if (c->graph == IR_ENCODER) {
            int prod = t->producer;
            if (prod < 0 || c->m->nodes[prod].op != IR_OP_QUANTIZE || t->producer_out != 0) {
                diag_error(c->d, e->loc, "an encoder output must be the result of quantize, not of %s",
                           prod < 0 ? "the input" : ir_op_name(c->m->nodes[prod].op));
                ok = 0;
                continue;
            }
            if (e->kind != EXPR_NAME) {
                diag_error(c->d, e->loc, "an encoder output must be a name the decoder's 'input' can refer to");
                ok = 0;
                continue;
            }
        }
        if (c->graph == IR_DECODER && c->m->image.rank) {
            const ir_shape *a = &t->shape, *b = &c->m->image;
            int same = a->rank == b->rank;
            for (int i = 0; same && i < a->rank; i++) same = a->d[i] == b->d[i];
            if (!same) {
                char sa[96], sb[96];
                shape_text(sa, sizeof sa, a);
                shape_text(sb, sizeof sb, b);
                diag_error(c->d, e->loc, "the decoder's output %s does not match the images %s", sa, sb);
                ok = 0;
                continue;
            }
        }
        out[k] = v.t;
        names[k] = e->kind == EXPR_NAME ? e->s : c_printf(c, "out%d", k);
        k++;
    }
    if (!ok) return;
    g->out = out;
    g->out_names = names;
    g->n_out = k;
}

static void graph_run(checker *c, const ast_item *it, ir_graph_kind gk)
{
    ir_graph *g = &c->m->graphs[gk];
    g->kind = gk;
    g->loc = it->loc;
    g->first_node = c->m->n_nodes;
    c->graph = gk;
    c->in_graph = 1;
    c->prefix = "";
    scope gs = {&c->globals, NULL};
    int errors = c->d->errors;
    elab_body(c, &gs, it->body);
    c->in_graph = 0;
    g->n_nodes = c->m->n_nodes - g->first_node;
    if (c->d->errors > errors) return;
    if (g->n_in == 0)
        diag_error(c->d, it->section_loc, "the %s has no 'input'", ir_graph_name(gk));
    if (g->n_out == 0)
        diag_error(c->d, it->section_loc, "the %s has no 'output'", ir_graph_name(gk));
}

/* ---- codebooks --------------------------------------------------------------------- */

static void codebook_build(checker *c, const ast_item *it)
{
    ir_model *m = c->m;
    m->codebooks = grow(c, m->codebooks, m->n_codebooks, &c->cap_codebooks, sizeof *m->codebooks);
    ir_codebook *cb = &m->codebooks[m->n_codebooks++];
    memset(cb, 0, sizeof *cb);
    cb->name = it->name;
    cb->loc = it->name_loc;
    cb->node = -1;
    int errors = c->d->errors;
    section_check(c, it, &cb->settings);
    const ir_section *s = &cb->settings;
    cb->entries = ir_get_int(s, "entries", 1);
    cb->dim = ir_get_int(s, "dim", 1);
    cb->lookup_dim = ir_get_int(s, "lookup_dim", 0);
    cb->beta = ir_get_float(s, "beta", 0.25);
    cb->decay = ir_get_float(s, "decay", 0.99);
    cb->eps = ir_get_float(s, "eps", 1e-5);
    cb->restart_threshold = ir_get_float(s, "restart_threshold", 0);
    cb->restart_after = ir_get_int(s, "restart_after", 0);
    cb->loss = ir_get_string(s, "loss", "legacy");
    cb->update = ir_get_string(s, "update", "gradient");
    cb->init = ir_get_string(s, "init", "uniform");
    cb->distance = ir_get_string(s, "distance", "l2");
    cb->naming = ir_get_string(s, "naming", "taming");
    if (cb->lookup_dim && cb->lookup_dim >= cb->dim) {
        const ir_setting *ld = ir_setting_find(s, "lookup_dim");
        diag_error(c->d, ld->loc, "lookup_dim %lld must be smaller than dim %lld", (long long)cb->lookup_dim,
                   (long long)cb->dim);
    }
    if (c->d->errors > errors) return;

    /* taming: NAME.embedding.weight (K, d), U(-1/K, 1/K);
     * rosinality: NAME.embed (d, K), N(0, 1) (torch.randn); EMA adds cluster_size (K) and embed_avg;
     * d = lookup_dim (projected lookup) or D. */
    int ema = strcmp(cb->update, "ema") == 0, ros = strcmp(cb->naming, "rosinality") == 0;
    int64_t k = cb->entries, d = cb->lookup_dim ? cb->lookup_dim : cb->dim;
    ir_init init = {.kind = IR_INIT_UNIFORM, .a = -1.0 / (double)k, .b = 1.0 / (double)k};
    if (strcmp(cb->init, "normal") == 0) init = (ir_init){.kind = IR_INIT_NORMAL, .a = 0.0, .b = 1.0};
    if (strcmp(cb->init, "kmeans") == 0) init = (ir_init){.kind = IR_INIT_KMEANS};
    ir_shape table = ros ? (ir_shape){2, {d, k, 0, 0, 0}} : (ir_shape){2, {k, d, 0, 0, 0}};
    ir_shape kvec = {1, {k, 0, 0, 0, 0}};
    int *params = ast_alloc(c->a, 7 * sizeof *params);
    int n = 0;
    int idx = (int)(cb - m->codebooks);
    const char *wname = ros ? c_printf(c, "%s.embed", cb->name) : c_printf(c, "%s.embedding.weight", cb->name);
    int w = irb_param(c, wname, &table, ema ? IR_BUFFER : IR_TRAINABLE, init, -1, idx, cb->loc);
    if (w < 0) return;
    params[n++] = w;
    if (ema) {
        int p = irb_param(c, c_printf(c, "%s.cluster_size", cb->name), &kvec, IR_BUFFER,
                          (ir_init){.kind = IR_INIT_ZEROS}, -1, idx, cb->loc);
        if (p >= 0) params[n++] = p;
        p = irb_param(c, c_printf(c, "%s.embed_avg", cb->name), &table, IR_BUFFER,
                      (ir_init){.kind = IR_INIT_COPY, .source = w}, -1, idx, cb->loc);
        if (p >= 0) params[n++] = p;
    }
    if (cb->lookup_dim) {
        /* The projections z (D) -> d and back, nn.Linear layout and init (U(+-1/sqrt(fan_in)));
         * trainable under both update rules (EMA moves only the table). Always the last four. */
        int64_t big = cb->dim;
        const struct { const char *suffix; ir_shape shape; int64_t fan_in; } pr[4] = {
            {"proj_in.weight", {2, {d, big, 0, 0, 0}}, big},  {"proj_in.bias", {1, {d, 0, 0, 0, 0}}, big},
            {"proj_out.weight", {2, {big, d, 0, 0, 0}}, d},   {"proj_out.bias", {1, {big, 0, 0, 0, 0}}, d},
        };
        for (int i = 0; i < 4; i++) {
            double bound = 1.0 / sqrt((double)pr[i].fan_in);
            ir_init li = {.kind = IR_INIT_PYTORCH, .a = -bound, .b = bound, .fan_in = pr[i].fan_in};
            int p = irb_param(c, c_printf(c, "%s.%s", m->codebooks[idx].name, pr[i].suffix), &pr[i].shape,
                              IR_TRAINABLE, li, -1, idx, m->codebooks[idx].loc);
            if (p >= 0) params[n++] = p;
        }
    }
    cb = &m->codebooks[idx];
    cb->param = params;
    cb->n_param = n;
}

/* ---- the driver ------------------------------------------------------------------------ */

static const ast_item *find_section(const ast_item **secs, int n, const char *kind)
{
    for (int i = 0; i < n; i++)
        if (secs[i] && strcmp(secs[i]->section, kind) == 0) return secs[i];
    return NULL;
}

/* Unknown kinds, names where none belongs, duplicates; returns the valid ones. */
static void sections_validate(checker *c, const ast_item **secs, int n)
{
    for (int i = 0; i < n; i++) {
        const ast_item *it = secs[i];
        ir_graph_kind g;
        if (!section_is_config(it->section) && !section_is_graph(it->section, &g)) {
            char dym[128];
            did_you_mean_suffix(dym, sizeof dym, it->section, section_kinds());
            diag_error(c->d, it->section_loc, "unknown section '%s'%s", it->section, dym);
            secs[i] = NULL;
            continue;
        }
        int named = section_needs_name(it->section);
        if (named && !it->name) {
            diag_error(c->d, it->section_loc, "a %s section needs a name: %s NAME { ... }", it->section, it->section);
            secs[i] = NULL;
            continue;
        }
        if (!named && it->name) {
            diag_error(c->d, it->name_loc, "a %s section takes no name", it->section);
            secs[i] = NULL;
            continue;
        }
        for (int j = 0; j < i; j++) {
            const ast_item *p = secs[j];
            if (!p || strcmp(p->section, it->section) != 0) continue;
            if (named && strcmp(p->name, it->name) != 0) continue;
            if (named) diag_error(c->d, it->name_loc, "%s '%s' is defined twice", it->section, it->name);
            else diag_error(c->d, it->section_loc, "section '%s' is defined twice", it->section);
            diag_note(c->d, named ? p->name_loc : p->section_loc, "previous definition is here");
            secs[i] = NULL;
            break;
        }
    }
}

static void data_run(checker *c, const ast_item *it)
{
    if (!it) { section_defaults(c, "data", &c->m->data); return; }
    int errors = c->d->errors;
    section_check(c, it, &c->m->data);
    if (c->d->errors > errors) return;
    int64_t size = ir_get_int(&c->m->data, "pad_to", 0);
    int64_t res = ir_get_int(&c->m->data, "resolution", 0);
    if (size && size < res) {
        diag_error(c->d, ir_setting_find(&c->m->data, "pad_to")->loc, "pad_to %lld is smaller than resolution %lld",
                   (long long)size, (long long)res);
        return;
    }
    if (!size) size = res;
    ir_shape img = {4, {IR_BATCH, ir_get_int(&c->m->data, "channels", 0), size, size, 0}};
    c->m->image = img;
}

static void required_parts(checker *c, const ast_file *file, const ast_item *model_item,
                           const ast_item **secs, int n)
{
    src_loc start = {file->src, 1, 1, 1, 1};
    if (!file->items) {
        diag_error(c->d, start, "empty model file: expected 'model NAME;' and data, codebook, encoder and decoder sections");
        return;
    }
    if (!model_item) diag_error(c->d, start, "missing 'model NAME;' declaration");
    static const char *const needed[] = {"data", "codebook", "encoder", "decoder"};
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
        if (!find_section(secs, n, needed[i])) diag_error(c->d, start, "missing required section '%s'", needed[i]);
}

ir_model *sema_check(ast_arena *a, const ast_file *file, const sema_options *opt, diag_sink *d)
{
    static const sema_options none = {0};
    checker cs, *c = &cs;
    memset(c, 0, sizeof cs);
    c->a = a;
    c->d = d;
    c->opt = opt ? opt : &none;
    c->m = ast_alloc(a, sizeof *c->m);
    c->prefix = "";
    ir_model *m = c->m;
    m->src = file->src;
    for (int g = 0; g < IR_GRAPH_COUNT; g++) m->graphs[g].kind = (ir_graph_kind)g;
    int errors0 = d->errors;

    const ast_item *model_item = NULL, **secs = NULL;
    int n_secs = 0, cap_secs = 0;
    c->import_shown[c->n_import_stack] = file->src->path;
    c->import_stack[c->n_import_stack++] = canonical(c, file->src->path);
    process_items(c, file, 1, &model_item, &secs, &n_secs, &cap_secs);
    check_unknown_defines(c);
    if (model_item) m->name = model_item->name;
    sections_validate(c, secs, n_secs);
    required_parts(c, file, model_item, secs, n_secs);

    data_run(c, find_section(secs, n_secs, "data"));
    for (int i = 0; i < n_secs; i++)
        if (secs[i] && strcmp(secs[i]->section, "codebook") == 0) codebook_build(c, secs[i]);
    if (find_section(secs, n_secs, "discriminator")) m->graphs[IR_DISCRIMINATOR].present = 1;
    static const ir_graph_kind order[] = {IR_ENCODER, IR_DECODER, IR_DISCRIMINATOR};
    for (int k = 0; k < 3; k++) {
        const ast_item *it = find_section(secs, n_secs, ir_graph_name(order[k]));
        if (!it) continue;
        m->graphs[order[k]].present = 1;
        if (order[k] == IR_DECODER && m->graphs[IR_ENCODER].n_out == 0) continue;   /* nothing to decode */
        if (m->image.rank || order[k] == IR_DECODER) graph_run(c, it, order[k]);
    }

    const ast_item *loss = find_section(secs, n_secs, "loss"), *train = find_section(secs, n_secs, "train");
    if (loss) section_check(c, loss, &m->loss); else section_defaults(c, "loss", &m->loss);
    if (train) section_check(c, train, &m->train); else section_defaults(c, "train", &m->train);
    int cap_opt = 0;
    for (int i = 0; i < n_secs; i++) {
        if (!secs[i] || strcmp(secs[i]->section, "optimizer") != 0) continue;
        m->optimizers = grow(c, m->optimizers, m->n_optimizers, &cap_opt, sizeof *m->optimizers);
        section_check(c, secs[i], &m->optimizers[m->n_optimizers++]);
    }

    if (d->errors == errors0) {
        for (int i = 0; i < m->n_codebooks; i++)
            if (m->codebooks[i].n_users == 0)
                diag_error(c->d, m->codebooks[i].loc, "codebook '%s' is never used by a quantize op",
                           m->codebooks[i].name);
        sections_cross_check(c, file->items);
    }
    return d->errors == errors0 ? m : NULL;
}
