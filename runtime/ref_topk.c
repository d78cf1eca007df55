/*
 * ref_topk.c — the reference kernel of topk, the one operator with two
 * results (values and indices), so it has the multi-result kernel shape
 * (RefKernelN).
 *
 * Semantics are torch.topk's: along `dim`, the k largest (largest = true)
 * or smallest entries, in descending or ascending order. NaN counts as
 * larger than every number, as in PyTorch. Equal entries are ordered by
 * index, lower first, so results are deterministic (PyTorch leaves this
 * unspecified); sorted = false returns the same order. Indices are carried
 * as f32 like every interpreter value (exact below 2^24 elements per row).
 */
#include "ref_kernels.h"
#include "../ir/geometry.h"

#include <math.h>
#include <stdlib.h>

#define FAIL(...) return (snprintf(err, errlen, __VA_ARGS__), false)

/* a ranks before b: larger (or smaller) first, NaN as the largest, then
 * lower index first. */
static bool ranks_before(float a, int64_t ia, float b, int64_t ib, bool largest)
{
    bool na = isnan(a), nb = isnan(b);
    if (na != nb)
        return largest ? na : nb;
    if (!na && a != b)
        return largest ? a > b : a < b;
    return ia < ib;
}

bool ref_topk(const IrNode *n, const Tensor *const *in, Tensor *const *out, char *err, size_t errlen)
{
    const IrAttr *ka = ir_attr(n, "k"), *da = ir_attr(n, "dim"), *la = ir_attr(n, "largest");
    if (n->nin != 1 || !ka || !da || !la)
        FAIL("topk needs one input and attributes k, dim, largest");
    const Shape *s = &in[0]->shape;
    int64_t dim = da->i < 0 ? da->i + s->rank : da->i, k = ka->i;
    if (s->rank < 1 || dim < 0 || dim >= s->rank)
        FAIL("topk dim %lld is out of range for rank %d", (long long)da->i, s->rank);
    int64_t len = s->d[dim];
    if (k < 0 || k > len)
        FAIL("topk k = %lld is out of range for size %lld", (long long)k, (long long)len);
    Shape want = *s;
    want.d[dim] = k;
    for (int r = 0; r < 2; r++)
        if (!shape_equal(&out[r]->shape, &want))
            FAIL("topk result %d has the wrong shape", r + 1);
    int64_t inner = geom_dims_product(s->d, (int)dim + 1, s->rank), outer = geom_dims_product(s->d, 0, (int)dim);
    const float *x = in[0]->data;
    float *vals = out[0]->data, *idx = out[1]->data;
    int64_t *best = malloc((size_t)(k ? k : 1) * sizeof *best);
    if (!best)
        FAIL("out of memory");
    /* Insertion into a sorted list of the k best: O(len * k), plain and
     * obviously right, which is what an oracle is for. */
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            const float *row = x + o * len * inner + j;
            int64_t have = 0;
            for (int64_t i = 0; i < len && k > 0; i++) {
                float v = row[i * inner];
                int64_t at = have;
                while (at > 0 && ranks_before(v, i, row[best[at - 1] * inner], best[at - 1], la->i))
                    at--;
                if (at >= k)
                    continue;
                for (int64_t m = (have < k ? have : k - 1); m > at; m--)
                    best[m] = best[m - 1];
                best[at] = i;
                have += have < k;
            }
            for (int64_t m = 0; m < k; m++) {
                vals[(o * k + m) * inner + j] = row[best[m] * inner];
                idx[(o * k + m) * inner + j] = (float)best[m];
            }
        }
    free(best);
    return true;
}
