/*
 * conv_geom.h — facts about a convolution's geometry that the float
 * (conv.c, NkConv) and integer (qconv.c, NkQConv) kernels both decide on.
 * The two descriptors share their geometry field names, so each fact is
 * written once here, for either. Private to runtime/native.
 */
#ifndef NETC_NK_CONV_GEOM_H
#define NETC_NK_CONV_GEOM_H

/* One filter per channel (MobileNet's depthwise convs). */
#define NK_CONV_IS_DEPTHWISE(d) ((d)->groups > 1 && (d)->groups == (d)->c && (d)->oc == (d)->c)
/* 1x1, stride 1, no padding: the input rows are the GEMM's A as they are. */
#define NK_CONV_IS_POINTWISE(d)                                                                 \
    ((d)->kh == 1 && (d)->kw == 1 && (d)->sh == 1 && (d)->sw == 1 && (d)->ph == 0 &&           \
     (d)->pw == 0 && (d)->oh == (d)->h && (d)->ow == (d)->w)
/* Per-group GEMM sizes: input and output channels, reduction depth. */
#define NK_CONV_CG(d) ((d)->c / (d)->groups)
#define NK_CONV_OG(d) ((d)->oc / (d)->groups)
#define NK_CONV_K(d) ((d)->kh * (d)->kw * NK_CONV_CG(d))

#endif
