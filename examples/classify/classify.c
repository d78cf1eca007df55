/*
 * classify.c — an image classifier built from a netc bundle: what using
 * `netc build` output in your own program looks like.
 *
 *   netc build examples/resnet18.net --weights resnet18.safetensors -o bundle
 *   cc -O2 -Ibundle classify.c bundle/resnet18.o -lm -lpthread -o classify
 *   ./classify bundle/resnet18.weights image.npy [logits.npy]
 *
 * image.npy holds one normalized image, f32 [1, 3, H, W] at the size the
 * bundle was built for (CMake builds it at 64×64 so CI runs it quickly;
 * build with the default 224 for real ImageNet images). It prints the five
 * most likely ImageNet class indices with their softmax probabilities and
 * optionally writes the raw logits.
 */
#include "resnet18.h"

#include "npy_lite.h"

#include <math.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s resnet18.weights image.npy [logits.npy]\n", argv[0]);
        return 2;
    }
    /* The weights file is loaded once into the aligned blob the kernels
     * read (repacking any integer layer stored below 8 bits). */
    size_t wlen = 0, ilen = 0;
    void *wfile = npy_lite_slurp(argv[1], &wlen);
    void *weights = aligned_alloc(64, (RESNET18_WEIGHTS_BYTES + 63) & ~(size_t)63);
    if (!wfile || wlen != RESNET18_WEIGHTS_FILE_BYTES || !weights || resnet18_load_weights(wfile, weights) != 0) {
        fprintf(stderr, "%s: %s is not this bundle's weights file (%u bytes)\n", argv[0], argv[1],
                RESNET18_WEIGHTS_FILE_BYTES);
        return 1;
    }
    free(wfile);
    char *file = npy_lite_slurp(argv[2], &ilen);
    const float *image = file ? npy_lite_f32(file, ilen, RESNET18_INPUT_0_ELEMS) : NULL;
    if (!image) {
        static const long long want[] = RESNET18_INPUT_0_SHAPE;
        fprintf(stderr, "%s: %s is not an f32 .npy of shape [%lld, %lld, %lld, %lld]\n", argv[0], argv[2], want[0],
                want[1], want[2], want[3]);
        return 1;
    }

    /* All working memory is allocated here, once; resnet18_run allocates
     * nothing. */
    void *activations = aligned_alloc(64, RESNET18_ACTIVATIONS_BYTES);
    float logits[RESNET18_OUTPUT_0_ELEMS];
    const float *inputs[] = {image};
    float *outputs[] = {logits};
    resnet18_run(weights, activations, inputs, outputs);

    double max = logits[0], sum = 0;
    for (int i = 1; i < RESNET18_OUTPUT_0_ELEMS; i++)
        max = logits[i] > max ? logits[i] : max;
    for (int i = 0; i < RESNET18_OUTPUT_0_ELEMS; i++)
        sum += exp(logits[i] - max);
    int taken[5];
    for (int k = 0; k < 5; k++) {
        int best = -1;
        for (int i = 0; i < RESNET18_OUTPUT_0_ELEMS; i++) {
            int used = 0;
            for (int j = 0; j < k; j++)
                used |= taken[j] == i;
            if (!used && (best < 0 || logits[i] > logits[best]))
                best = i;
        }
        taken[k] = best;
        printf("class %4d  p = %.4f\n", best, exp(logits[best] - max) / sum);
    }
    int rc = 0;
    if (argc > 3) {
        static const long long shape[] = RESNET18_OUTPUT_0_SHAPE;
        rc = npy_lite_write(argv[3], logits, shape, RESNET18_OUTPUT_0_RANK);
    }
    free(weights);
    free(file);
    free(activations);
    return rc;
}
