/*
 * npy_top1.c — top-1 accuracy of a classifier's logits, for the tests of the
 * trained digits models (tests/digits_test.sh), without Python.
 *
 *   npy_top1 LOGITS.npy LABELS.npy
 *
 * LOGITS is [N, K] in any float dtype, LABELS is [N] in any integer dtype.
 * The predicted class of a row is the index of its largest logit, the lower
 * index on ties (numpy.argmax; a row holding NaN predicts nothing). Prints
 * `CORRECT/N` and exits 0, or 1 after an error.
 */
#include "../runtime/npy.h"

#include <stdio.h>

/* The index of the largest of x[0..k), -1 when some x[i] is NaN. */
static int64_t top1_argmax(const float *x, int64_t k)
{
    int64_t best = 0;
    for (int64_t i = 0; i < k; i++) {
        if (x[i] != x[i])
            return -1;
        if (x[i] > x[best])
            best = i;
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: npy_top1 LOGITS.npy LABELS.npy\n");
        return 2;
    }
    Diag *d = diag_new(stderr);
    Tensor *logits = rt_npy_read(argv[1], d), *labels = rt_npy_read(argv[2], d);
    int status = 1;
    if (logits && labels) {
        char s1[160], s2[160];
        if (logits->shape.rank != 2 || labels->shape.rank != 1 ||
            logits->shape.d[0] != labels->shape.d[0] || !dtype_is_float(logits->dtype) ||
            dtype_is_float(labels->dtype)) {
            fprintf(stderr, "npy_top1: need float logits [N, K] and integer labels [N], got %s %s and %s %s\n",
                    dtype_name(logits->dtype), shape_str(&logits->shape, s1, sizeof s1),
                    dtype_name(labels->dtype), shape_str(&labels->shape, s2, sizeof s2));
        } else {
            Tensor *fl = tensor_to_f32(logits), *fy = tensor_to_f32(labels);
            const float *x = fl->data, *y = fy->data;
            int64_t n = logits->shape.d[0], k = logits->shape.d[1], correct = 0;
            for (int64_t i = 0; i < n; i++)
                correct += top1_argmax(x + i * k, k) == (int64_t)y[i];
            printf("%lld/%lld\n", (long long)correct, (long long)n);
            status = 0;
            tensor_free(fl);
            tensor_free(fy);
        }
    }
    tensor_free(logits);
    tensor_free(labels);
    diag_free(d);
    return status;
}
