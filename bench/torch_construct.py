"""Baseline for bench/bench_frontend.c: median time PyTorch takes to construct
each torchvision model (the Python equivalent of parsing and elaborating a
network description; parameter initialisation included, as torchvision
always initialises). Run with /usr/bin/python3 (Debian's python3-torch)."""
import statistics
import sys
import time

import torch
import torchvision
from torchvision.models.vision_transformer import VisionTransformer

torch.set_num_threads(1)
runs = int(sys.argv[1]) if len(sys.argv) > 1 else 11
builders = {
    "resnet18": torchvision.models.resnet18,
    "resnet50": torchvision.models.resnet50,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
    "vgg16": torchvision.models.vgg16,
    "vit_b_16": torchvision.models.vit_b_16,
    "vit_ti_16": lambda: VisionTransformer(224, 16, 12, 3, 192, 768),
    "squeezenet1_1": torchvision.models.squeezenet1_1,
    "shufflenet_v2_x1_0": torchvision.models.shufflenet_v2_x1_0,
    "efficientnet_b0": torchvision.models.efficientnet_b0,
    "densenet121": torchvision.models.densenet121,
    "convnext_tiny": torchvision.models.convnext_tiny,
}
print(f"{'model':<14} {'torch median ms':>16}")
for name, build in builders.items():
    build()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        build()
        times.append((time.perf_counter() - t0) * 1e3)
    print(f"{name:<14} {statistics.median(times):16.1f}")
