"""Image augmentation: lamina's layers against a hand-written PyTorch pipeline doing the same kind of work, on
128 images of 32x32x3 (channels-last, values 0-255) per call, training mode.

lamina: ``RandomFlip("horizontal")`` -> ``RandomRotation(0.1)`` -> ``RandomZoom(0.1)`` -> ``RandAugment(num_ops=2)``
-> ``MixUp`` (with one-hot labels). The hand-written side, per batch, on the device: a random horizontal flip, one
affine warp (rotation and zoom, ``affine_grid``/``grid_sample``), two random colour/tone operations from a small
set (brightness, contrast, solarize, posterize) with random strengths, and MixUp with a Beta(0.2, 0.2) weight
against a permutation of the batch. The two are not the same numbers (RandAugment's operation set is larger),
so the ratio is a cost comparison of like workloads, not a parity check. Prints medians; asserts nothing.

    .venv/bin/python bench/bench_augment.py --repeats 9
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F

import lamina
from lamina import layers as L

BATCH, SIZE, CLASSES = 128, 32, 10


def lamina_pipeline() -> tuple:
    spatial = lamina.Sequential([L.RandomFlip("horizontal", seed=1), L.RandomRotation(0.1, seed=2),
                                 L.RandomZoom(0.1, seed=3), L.RandAugment(num_ops=2, seed=4)])
    mixup = L.MixUp(alpha=0.2, seed=5)

    def run(images: torch.Tensor, labels: torch.Tensor) -> dict:
        out = spatial(images, training=True)
        return mixup({"images": out, "labels": labels}, training=True)

    return run


def torch_pipeline(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> tuple:
    x = images.permute(0, 3, 1, 2)  # NCHW for grid_sample
    n = x.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip.view(n, 1, 1, 1), x.flip(-1), x)
    angle = (torch.rand(n, generator=generator) * 2 - 1) * 0.1 * 2 * math.pi
    zoom = 1 + (torch.rand(n, generator=generator) * 2 - 1) * 0.1
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros(n)], 1), torch.stack([sin, cos, torch.zeros(n)], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    for _ in range(2):  # two random operations per batch, random strength per image
        op = int(torch.randint(0, 4, (1,), generator=generator))
        strength = torch.rand(n, 1, 1, 1, generator=generator)
        if op == 0:
            x = (x * (0.5 + strength)).clamp(0, 255)
        elif op == 1:
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = ((x - mean) * (0.5 + strength) + mean).clamp(0, 255)
        elif op == 2:
            x = torch.where(x >= 255 * (1 - 0.5 * strength), 255 - x, x)
        else:
            shift = (8 - (1 + 3 * strength)).floor()
            x = torch.floor(x / 2 ** shift) * 2 ** shift
    weight = torch.distributions.Beta(0.2, 0.2).sample((n,))
    order = torch.randperm(n, generator=generator)
    w = weight.view(n, 1, 1, 1)
    x = w * x + (1 - w) * x[order]
    y = weight.view(n, 1) * labels + (1 - weight.view(n, 1)) * labels[order]
    return x.permute(0, 2, 3, 1), y


def median_seconds(fn, repeats: int, calls: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    images = torch.rand(BATCH, SIZE, SIZE, 3) * 255
    labels = F.one_hot(torch.randint(0, CLASSES, (BATCH,)), CLASSES).float()
    ours = lamina_pipeline()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        t_lamina = median_seconds(lambda: ours(images, labels), args.repeats, args.calls)
        t_torch = median_seconds(lambda: torch_pipeline(images, labels, generator), args.repeats, args.calls)
    print(f"augmentation, {BATCH} images {SIZE}x{SIZE}x3 per call ({torch.get_num_threads()} threads):")
    print(f"  lamina {1000 * t_lamina:8.2f} ms   hand-written torch {1000 * t_torch:8.2f} ms   "
          f"ratio {t_lamina / t_torch:.2f}")


if __name__ == "__main__":
    main()
