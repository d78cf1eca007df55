/*
 * weights.c — strict state_dict-style binding; see weights.h.
 *
 * One pass matches every parameter against a hash map of the file's keys
 * and records the outcome; the report comes after, grouped the way PyTorch
 * groups it (missing, unexpected, size mismatches), so a user fixing a
 * network sees the whole picture at once instead of one error per run.
 */
#include "weights.h"
#include "../support/arena.h"
#include "../support/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* PyTorch's BatchNorm counter; never a parameter of an inference graph. */
static bool is_ignored_key(const char *key)
{
    static const char tail[] = "num_batches_tracked";
    size_t n = strlen(key), t = sizeof tail - 1;
    return n >= t && strcmp(key + n - t, tail) == 0 && (n == t || key[n - t - 1] == '.');
}

static Loc file_loc(const char *path) { return (Loc){.file = path}; }

/*
 * If many of the keys in `have` are keys of `want` with one extra leading
 * prefix (e.g. "module."), returns that prefix's length and sets *example;
 * else 0. Only keys that failed to match on both sides are compared.
 */
static size_t common_prefix(const char **have, int nhave, const char **want, int nwant,
                            const char **example)
{
    size_t best = 0;
    int best_count = 0;
    for (int i = 0; i < nhave && i < 64; i++) { /* candidates from the first few */
        size_t hl = strlen(have[i]);
        for (int j = 0; j < nwant; j++) {
            size_t wl = strlen(want[j]);
            if (wl >= hl || have[i][hl - wl - 1] != '.' || strcmp(have[i] + hl - wl, want[j]))
                continue;
            size_t plen = hl - wl;
            int count = 0;
            for (int k = 0; k < nhave; k++)
                count += strncmp(have[k], have[i], plen) == 0;
            if (count > best_count) {
                best = plen;
                best_count = count;
                *example = have[i];
            }
            break;
        }
    }
    return best_count * 2 >= nhave ? best : 0;
}

/* The notes that explain a systematic key mismatch. */
static void prefix_hints(const char *path, const char **missing, int nmiss,
                         const char **unexpected, int nunexp, Diag *d)
{
    const char *ex = NULL;
    size_t p = common_prefix(unexpected, nunexp, missing, nmiss, &ex);
    if (p) {
        diag_note(d, file_loc(path),
                  "the file's keys carry a prefix the network's lack: '%.*s' (e.g. '%s'); saved "
                  "from a wrapper such as nn.DataParallel? strip the prefix",
                  (int)p, ex, ex);
        return;
    }
    p = common_prefix(missing, nmiss, unexpected, nunexp, &ex);
    if (p)
        diag_note(d, file_loc(path),
                  "the network's keys carry a prefix the file's lack: '%.*s' (e.g. '%s')", (int)p,
                  ex, ex);
}

static const char *plural(int n, const char *one, const char *many) { return n == 1 ? one : many; }

bool rt_weights_bind(IrGraph *g, TensorList *w, const char *path, bool strict, Diag *d)
{
    StrMap *index = strmap_new();
    int errors_before = diag_errors(d);
    for (int i = 0; i < w->n; i++) {
        if (strmap_get(index, w->items[i].name))
            diag_file_error(d, path, "key '%s' appears twice", w->items[i].name);
        else
            strmap_put(index, w->items[i].name, (void *)(intptr_t)(i + 1));
    }
    /* match[p] = index into w of param p's tensor, or -1 */
    int *match = xmalloc((size_t)(g->nparams ? g->nparams : 1) * sizeof *match);
    bool *used = xcalloc((size_t)(w->n ? w->n : 1), sizeof *used);
    const char **missing = xmalloc((size_t)(g->nparams ? g->nparams : 1) * sizeof *missing);
    const char **unexpected = xmalloc((size_t)(w->n ? w->n : 1) * sizeof *unexpected);
    int nmiss = 0, nunexp = 0, nsize = 0;
    for (int p = 0; p < g->nparams; p++) {
        intptr_t k = (intptr_t)strmap_get(index, g->params[p]->name);
        match[p] = (int)k - 1;
        if (k)
            used[k - 1] = true;
        else
            missing[nmiss++] = g->params[p]->name;
    }
    for (int i = 0; i < w->n; i++)
        if (!used[i] && !is_ignored_key(w->items[i].name))
            unexpected[nunexp++] = w->items[i].name;

    /* The report: missing, unexpected, size mismatches, then a summary. */
    char a[160], b[160];
    for (int p = 0; strict && p < g->nparams; p++)
        if (match[p] < 0)
            diag_file_error(d, path, "missing key '%s': the network expects a tensor of shape %s",
                            g->params[p]->name, shape_str(&g->params[p]->shape, a, sizeof a));
    for (int i = 0; strict && i < nunexp; i++) {
        const Tensor *t = rt_tlist_find(w, unexpected[i])->t;
        diag_file_error(d, path, "unexpected key '%s' (shape %s): the network has no such parameter",
                        unexpected[i], t ? shape_str(&t->shape, a, sizeof a) : "?");
    }
    for (int p = 0; p < g->nparams; p++) {
        if (match[p] < 0)
            continue;
        const IrValue *v = g->params[p];
        const Tensor *t = w->items[match[p]].t;
        if (!t) {
            diag_file_error(d, path, "tensor '%s' was already taken", v->name);
            continue;
        }
        if (shape_equal(&t->shape, &v->shape))
            continue;
        nsize++;
        diag_file_error(d, path, "size mismatch for %s: file has %s, network expects %s", v->name,
                        shape_str(&t->shape, a, sizeof a), shape_str(&v->shape, b, sizeof b));
        if (v->loc.file)
            diag_note(d, v->loc, "'%s' is created here", v->name);
    }
    if (strict && (nmiss || nunexp))
        prefix_hints(path, missing, nmiss, unexpected, nunexp, d);

    bool ok = diag_errors(d) == errors_before;
    if (!ok) {
        char sum[240];
        int n = 0;
        if (nmiss && strict)
            n += snprintf(sum + n, sizeof sum - (size_t)n, "%d missing %s, ", nmiss,
                          plural(nmiss, "key", "keys"));
        if (nunexp && strict)
            n += snprintf(sum + n, sizeof sum - (size_t)n, "%d unexpected %s, ", nunexp,
                          plural(nunexp, "key", "keys"));
        if (nsize)
            n += snprintf(sum + n, sizeof sum - (size_t)n, "%d size %s, ", nsize,
                          plural(nsize, "mismatch", "mismatches"));
        if (n)
            sum[n - 2] = '\0';
        diag_note(d, file_loc(path), "cannot load weights into '%s'%s%s; nothing was bound",
                  g->name, n ? ": " : "", n ? sum : "");
    } else if (!strict && (nmiss || nunexp)) {
        diag_warning(d, file_loc(path),
                     "non-strict load: %d %s of the network not in the file, %d %s of the file "
                     "not used",
                     nmiss, plural(nmiss, "parameter", "parameters"), nunexp,
                     plural(nunexp, "key", "keys"));
    }
    for (int p = 0; ok && p < g->nparams; p++) {
        if (match[p] < 0)
            continue;
        NamedTensor *e = &w->items[match[p]];
        Tensor *t = e->t;
        /* Integer parameters (quantization zero points, masks) keep their
         * dtype when the file has it; everything else is computed in f32. */
        if (t->dtype != DT_F32 && t->dtype != g->params[p]->dtype) {
            Tensor *f = tensor_to_f32(t);
            if (!f) {
                diag_file_error(d, path, "out of memory converting '%s' to f32", e->name);
                ok = false; /* what is bound so far stays bound */
                break;
            }
            tensor_free(t);
            t = f;
        }
        e->t = NULL;
        ir_bind(g->params[p], t);
    }
    free(match);
    free(used);
    free(missing);
    free(unexpected);
    strmap_free(index);
    return ok;
}

bool rt_weights_export(const IrGraph *g, TensorList *out, Diag *d)
{
    bool ok = true;
    out->borrowed = true;
    for (int p = 0; p < g->nparams; p++) {
        const IrValue *v = g->params[p];
        if (!v->data) {
            diag_error(d, v->loc, "parameter '%s' has no weights bound", v->name);
            ok = false;
            continue;
        }
        rt_tlist_add(out, v->name, v->data);
    }
    return ok;
}

bool rt_weights_load(IrGraph *g, const char *path, bool strict, Diag *d)
{
    TensorList w = {0};
    bool ok = rt_safetensors_read(path, &w, true, d) && rt_weights_bind(g, &w, path, strict, d);
    rt_tlist_free(&w);
    return ok;
}

bool rt_weights_save(const IrGraph *g, const char *path, Diag *d)
{
    TensorList w = {0};
    bool ok = rt_weights_export(g, &w, d) && rt_safetensors_write(path, &w, d);
    rt_tlist_free(&w);
    return ok;
}
