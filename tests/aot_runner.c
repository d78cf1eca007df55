/*
 * aot_runner.c — runs an AOT bundle on one .npy input and writes its output
 * as .npy: what tests/native_test.sh links against every example's bundle.
 *
 * Compiled by the test with the bundle's header forced in:
 *   cc -include DIR/NAME.h -DNET=NAME -DNETU=NAME_IN_CAPITALS aot_runner.c DIR/NAME.o -lm -lpthread
 * so it works for any network with one input and one output.
 *
 *   aot_runner WEIGHTS IN.npy OUT.npy [THREADS]
 */
#include "../examples/classify/npy_lite.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define RUN CAT(NET, _run)
#define SET_THREADS CAT(NET, _set_threads)
#define LOAD CAT(NET, _load_weights)
#define M(suffix) CAT(NETU, suffix)

_Static_assert(M(_NUM_INPUTS) == 1 && M(_NUM_OUTPUTS) == 1, "the runner handles one input and one output");

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s WEIGHTS IN.npy OUT.npy [THREADS]\n", argv[0]);
        return 2;
    }
    size_t wlen = 0, ilen = 0;
    void *file = npy_lite_slurp(argv[1], &wlen);
    char *in = npy_lite_slurp(argv[2], &ilen);
    void *weights = aligned_alloc(64, (M(_WEIGHTS_BYTES) + 64) & ~(size_t)63);
    if (!file || wlen != M(_WEIGHTS_FILE_BYTES) || !in || !weights || LOAD(file, weights) != 0) {
        fprintf(stderr, "%s: cannot read %zu bytes of weights or the input\n", argv[0],
                (size_t)M(_WEIGHTS_FILE_BYTES));
        return 1;
    }
    free(file);
    const float *x = npy_lite_f32(in, ilen, M(_INPUT_0_ELEMS));
    if (!x) {
        fprintf(stderr, "%s: %s is not an f32 .npy of %d elements\n", argv[0], argv[2], (int)M(_INPUT_0_ELEMS));
        return 1;
    }
    void *act = aligned_alloc(64, (M(_ACTIVATIONS_BYTES) + 64) & ~(size_t)63);
    float *y = malloc(M(_OUTPUT_0_ELEMS) * sizeof *y);
    if (argc > 4)
        SET_THREADS(atoi(argv[4]));
    const float *ins[1] = {x};
    float *outs[1] = {y};
    RUN(weights, act, ins, outs);
    static const long long shape[] = M(_OUTPUT_0_SHAPE);
    int rc = npy_lite_write(argv[3], y, shape, M(_OUTPUT_0_RANK));
    free(weights);
    free(in);
    free(act);
    free(y);
    return rc;
}
