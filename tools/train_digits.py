#!/usr/bin/python3
"""train_digits.py -- train examples/digits_cnn.net and digits_vit.net.

There are no pretrained ImageNet weights on this machine, so the two
small models that measure what quantization costs in accuracy are trained
here, in seconds on one CPU thread, on scikit-learn's handwritten digits
(load_digits: 1797 grey images 8x8, pixel values 0..16, 10 classes).

Data: pixels are divided by 16 (range [0, 1]); there is no mean/std
normalisation, so netc sees exactly the arrays stored here. A permutation
of the 1797 images by numpy RandomState(0) puts the first 360 in the test
split and the other 1437 in the training split; the calibration set for
quantization is the first 64 images of the training split.

Models (the .net files reproduce their state_dict keys):
  digits_cnn  conv1 3x3 16 (pad 1), bn1, relu, conv2 3x3 32 (pad 1), bn2,
              relu, maxpool 2, conv3 3x3 64 (pad 1), relu, maxpool 2,
              flatten (64x2x2), fc1 256->64, relu, fc2 64->10
  digits_vit  torchvision's VisionTransformer(image_size 8, patch 2,
              2 layers, 4 heads, hidden 48, mlp 96) with a 1-channel
              conv_proj: 16 patch tokens and the class token
Training (RECIPES): Adam (cnn, 30 epochs) / AdamW (vit, 100 epochs) with
a one-cycle learning-rate schedule, minibatches of 64 drawn by a seeded
torch.Generator; the vit also sees each training image shifted by at most
one pixel (zero fill), drawn from the same generator. About 5 s and 35 s
of CPU.

Writes into OUT (default examples/digits/):
  digits_cnn.safetensors, digits_vit.safetensors   weights (F32; bn
      num_batches_tracked left out: netc does not model it)
  test_x.npy  f32 [360, 1, 8, 8]     test_y.npy  i64 [360]
  calib_x.npy f32 [64, 1, 8, 8]      (training images)
  digits_cnn.logits.npy, digits_vit.logits.npy   f32 [360, 10], PyTorch's
      eval-mode logits on the test split
  accuracy.json   each model's top-1 on the test split (correct count and
      fraction) as PyTorch computed it from those logits
Everything is deterministic (fixed seeds, deterministic algorithms, one
thread): running the script twice gives byte-identical files.

Usage: tools/train_digits.py [OUT]        (/usr/bin/python3: torch 1.13,
                                           torchvision 0.14, sklearn)
"""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_golden import write_safetensors  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

TEST_SIZE = 360
CALIB_SIZE = 64


def load_split():
    """(train_x, train_y, test_x, test_y) as float32 [N,1,8,8] / int64 [N]."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    perm = np.random.RandomState(0).permutation(len(y))
    test, train = perm[:TEST_SIZE], perm[TEST_SIZE:]
    return x[train], y[train], x[test], y[test]


class DigitsCNN(nn.Module):
    """examples/digits_cnn.net."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 2 * 2, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def digits_vit():
    """examples/digits_vit.net: torchvision's ViT with a 1-channel patch
    embedding (torchvision hard-codes 3 input channels), initialised as
    torchvision initialises its own conv_proj."""
    from torchvision.models.vision_transformer import VisionTransformer
    model = VisionTransformer(image_size=8, patch_size=2, num_layers=2,
                              num_heads=4, hidden_dim=48, mlp_dim=96,
                              num_classes=10)
    proj = nn.Conv2d(1, 48, kernel_size=2, stride=2)
    fan_in = proj.in_channels * proj.kernel_size[0] * proj.kernel_size[1]
    nn.init.trunc_normal_(proj.weight, std=(1.0 / fan_in) ** 0.5)
    nn.init.zeros_(proj.bias)
    model.conv_proj = proj
    return model


def shift(x, gen):
    """Each image moved by dy, dx in {-1, 0, 1} (drawn from GEN), zero fill."""
    padded = F.pad(x, (1, 1, 1, 1))
    crops = torch.stack([padded[:, :, dy:dy + 8, dx:dx + 8]
                         for dy in range(3) for dx in range(3)])
    pick = torch.randint(0, 9, (x.shape[0],), generator=gen)
    return crops[pick, torch.arange(x.shape[0])]


def train(model, x, y, epochs, lr, weight_decay, augment, seed):
    gen = torch.Generator().manual_seed(seed)
    if weight_decay:
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    batch = 64
    steps = epochs * ((len(y) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), batch):
            idx = perm[i:i + batch]
            xb = shift(x[idx], gen) if augment else x[idx]
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()


def logits_of(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy().astype(np.float32)


def weights_of(model):
    return {k: v.detach().numpy() for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


# name -> (builder, epochs, learning rate, AdamW weight decay, shift augment)
RECIPES = {
    "digits_cnn": (DigitsCNN, 30, 3e-3, 0.0, False),
    "digits_vit": (digits_vit, 100, 3e-3, 0.05, True),
}


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = argv[0] if argv else os.path.join(root, "examples", "digits")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    train_x, train_y, test_x, test_y = load_split()
    np.save(os.path.join(out, "test_x.npy"), test_x)
    np.save(os.path.join(out, "test_y.npy"), test_y)
    np.save(os.path.join(out, "calib_x.npy"), train_x[:CALIB_SIZE])

    accuracy = {"test_images": int(len(test_y))}
    for seed, (name, (build, epochs, lr, wd, augment)) in enumerate(RECIPES.items()):
        start = time.process_time()
        torch.manual_seed(seed)
        model = build()
        train(model, train_x, train_y, epochs, lr, wd, augment, seed)
        logits = logits_of(model, test_x)
        correct = int((logits.argmax(axis=1) == test_y).sum())
        accuracy[name] = {"correct": correct, "top1": round(correct / len(test_y), 6)}
        np.save(os.path.join(out, name + ".logits.npy"), logits)
        write_safetensors(os.path.join(out, name + ".safetensors"), weights_of(model))
        print("%s: top-1 %d/%d = %.2f%%, trained in %.1f s CPU"
              % (name, correct, len(test_y), 100.0 * correct / len(test_y),
                 time.process_time() - start))
    with open(os.path.join(out, "accuracy.json"), "w") as f:
        json.dump(accuracy, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
