/*
 * npy_compare.c — compares two .npy tensors for the numerical tests.
 *
 *   npy_compare ACTUAL.npy EXPECTED.npy [RTOL]
 *
 * Passes when the shapes are equal and every element satisfies
 * |actual - expected| <= RTOL * max|expected| (default RTOL 1e-4): the error
 * is measured relative to the scale of the expected output, so elements
 * near zero do not make the test meaningless. Prints the worst element.
 */
#include "../runtime/npy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: npy_compare ACTUAL.npy EXPECTED.npy [RTOL]\n");
        return 2;
    }
    double rtol = argc == 4 ? strtod(argv[3], NULL) : 1e-4;
    Diag *d = diag_new(stderr);
    Tensor *a = rt_npy_read(argv[1], d), *b = rt_npy_read(argv[2], d);
    int status = 1;
    if (a && b) {
        Tensor *fa = tensor_to_f32(a), *fb = tensor_to_f32(b);
        char sa[160], sb[160];
        if (!shape_equal(&a->shape, &b->shape)) {
            printf("FAIL shape %s != expected %s\n", shape_str(&a->shape, sa, sizeof sa),
                   shape_str(&b->shape, sb, sizeof sb));
        } else {
            const float *x = fa->data, *y = fb->data;
            int64_t n = tensor_numel(fa), worst = 0;
            double scale = 0, err = 0;
            for (int64_t i = 0; i < n; i++)
                scale = fmax(scale, fabs(y[i]));
            for (int64_t i = 0; i < n; i++) {
                double e = fabs((double)x[i] - y[i]);
                if (e > err || isnan(e))
                    err = isnan(e) ? INFINITY : e, worst = i;
            }
            double rel = scale > 0 ? err / scale : err;
            status = rel <= rtol ? 0 : 1;
            printf("%s %s: %lld elements, max |expected| %.4g, max error %.3g (relative %.3g, "
                   "tolerance %.1g) at element %lld\n",
                   status ? "FAIL" : "ok", argv[1], (long long)n, scale, err, rel, rtol, (long long)worst);
        }
        tensor_free(fa);
        tensor_free(fb);
    }
    tensor_free(a);
    tensor_free(b);
    diag_free(d);
    return status;
}
