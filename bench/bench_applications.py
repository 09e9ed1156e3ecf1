"""ResNet50 and MobileNetV2 from ``lamina.applications`` against the same networks written in plain PyTorch, in
one process: inference (``predict_on_batch``) and one fine-tuning step (``train_on_batch``: forward, loss,
backward, Adam step, every weight trainable, BatchNormalization in training mode), medians of alternating
repeats and their ratios (lamina / PyTorch; below 1 is faster). It reports and asserts nothing.

The PyTorch side is the same graph as Keras's (ResNet50 v1 with the stride on the first 1x1 convolution and
biased convolutions; MobileNetV2 with TensorFlow's "same" padding written as explicit zero padding), in NCHW
(``pytorch``) and in the ``channels_last`` memory format (``pt-cl``); lamina keeps images NHWC and hands the
convolutions a channels-last view, so ``ratio_cl`` is the like-for-like layout. torchvision is used for nothing
(it is not a dependency).

    python bench/bench_applications.py                        # CPU: batch 8 at 128x128; CUDA: batch 64 at 224
    python bench/bench_applications.py --batch 16 --size 224 --repeats 7 --only resnet50
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import lamina as keras
from lamina.applications import mobilenet_v2, resnet


# ----------------------------------------------------------------------------------------------- plain PyTorch
def _bn(channels: int, eps: float, momentum: float) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=eps, momentum=1 - momentum)  # Keras's momentum keeps the old statistic


class Bottleneck(nn.Module):
    """Keras's residual_block_v1: 1x1 (strided) -> 3x3 -> 1x1 (4x), each conv biased, BN eps 1.001e-5."""

    def __init__(self, cin: int, filters: int, stride: int, project: bool):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, filters, 1, stride), _bn(filters, 1.001e-5, 0.99)
        self.c2, self.b2 = nn.Conv2d(filters, filters, 3, padding=1), _bn(filters, 1.001e-5, 0.99)
        self.c3, self.b3 = nn.Conv2d(filters, 4 * filters, 1), _bn(4 * filters, 1.001e-5, 0.99)
        self.shortcut = nn.Sequential(nn.Conv2d(cin, 4 * filters, 1, stride), _bn(4 * filters, 1.001e-5, 0.99)) \
            if project else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.b1(self.c1(x)))
        y = F.relu(self.b2(self.c2(y)))
        return F.relu(self.shortcut(x) + self.b3(self.c3(y)))


class TorchResNet50(nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2), _bn(64, 1.001e-5, 0.99)
        blocks, cin = [], 64
        for filters, count, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(count):
                blocks.append(Bottleneck(cin, filters, stride if i == 0 else 1, project=i == 0))
                cin = 4 * filters
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(2048, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (N, 3, H, W)
        x = F.relu(self.bn1(self.conv1(F.pad(x, (3, 3, 3, 3)))))
        x = F.max_pool2d(F.pad(x, (1, 1, 1, 1)), 3, 2)
        return self.fc(self.blocks(x).mean((2, 3)))


def _same_pad(x: torch.Tensor, stride: int) -> torch.Tensor:
    """TensorFlow's 'same' padding (or correct_pad) of a 3x3 stride-2 conv on even sizes: one row/col after."""
    return F.pad(x, (0, 1, 0, 1)) if stride == 2 else F.pad(x, (1, 1, 1, 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        hidden = cin * expansion
        self.expand = nn.Sequential(nn.Conv2d(cin, hidden, 1, bias=False), _bn(hidden, 1e-3, 0.999), nn.ReLU6()) \
            if expansion != 1 else nn.Identity()
        self.stride = stride
        self.depthwise = nn.Conv2d(hidden, hidden, 3, stride, groups=hidden, bias=False)
        self.dbn = _bn(hidden, 1e-3, 0.999)
        self.project = nn.Sequential(nn.Conv2d(hidden, cout, 1, bias=False), _bn(cout, 1e-3, 0.999))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x)
        y = F.relu6(self.dbn(self.depthwise(_same_pad(y, self.stride))))
        y = self.project(y)
        return x + y if self.residual else y


class TorchMobileNetV2(nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 32, 3, 2, bias=False), _bn(32, 1e-3, 0.999)
        blocks, cin = [], 32
        for filters, stride, expansion in mobilenet_v2._BLOCKS:
            blocks.append(InvertedResidual(cin, filters, stride, expansion))
            cin = filters
        self.blocks = nn.Sequential(*blocks)
        self.conv_last, self.bn_last = nn.Conv2d(320, 1280, 1, bias=False), _bn(1280, 1e-3, 0.999)
        self.fc = nn.Linear(1280, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self.bn1(self.conv1(_same_pad(x, 2))))
        x = F.relu6(self.bn_last(self.conv_last(self.blocks(x))))
        return self.fc(x.mean((2, 3)))


# ------------------------------------------------------------------------------------------------------- timing
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _medians(fns: dict[str, Callable[[], object]], repeats: int, device: torch.device) -> dict[str, float]:
    """Median seconds of each function, run in rotating order (so drift hits every side alike)."""
    for fn in fns.values():  # warm-up (allocator, cuDNN autotuning, lamina's step functions)
        fn(), fn()
    _sync(device)
    names, times = list(fns), {name: [] for name in fns}
    for i in range(repeats):
        for name in names[i % len(names):] + names[:i % len(names)]:
            start = time.perf_counter()
            fns[name]()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(v) for name, v in times.items()}


def bench(name: str, lamina_model: keras.Model, torch_model: nn.Module, batch: int, size: int, repeats: int,
          device: torch.device) -> None:
    classes = 10
    gen = torch.Generator().manual_seed(0)
    x_nhwc = torch.rand(batch, size, size, 3, generator=gen).to(device)
    y = torch.randint(0, classes, (batch,), generator=gen).to(device)
    x_nchw = x_nhwc.permute(0, 3, 1, 2).contiguous()
    x_cl = x_nchw.contiguous(memory_format=torch.channels_last)
    torch_cl = TorchResNet50(classes) if name == "resnet50" else TorchMobileNetV2(classes)
    torch_cl = torch_cl.to(device).to(memory_format=torch.channels_last)
    torch_model = torch_model.to(device)
    lamina_model.compile(optimizer=keras.optimizers.Adam(1e-5),
                         loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    n_lamina = lamina_model.count_params()
    n_torch = sum(p.numel() for p in torch_model.parameters()) + sum(
        b.numel() for n, b in torch_model.named_buffers() if "running" in n)
    print(f"# {name}: batch {batch} at {size}x{size}, {n_lamina:,} lamina parameters, {n_torch:,} PyTorch ones")

    def infer(model: nn.Module, x: torch.Tensor) -> Callable[[], object]:
        def run() -> object:
            model.eval()
            with torch.no_grad():
                return model(x)
        return run

    def train_step(model: nn.Module, x: torch.Tensor) -> Callable[[], object]:
        opt = torch.optim.Adam(model.parameters(), lr=1e-5, fused=device.type == "cuda")

        def run() -> object:
            model.train()
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
        return run

    rows = {
        "inference": {"pytorch": infer(torch_model, x_nchw), "pt-cl": infer(torch_cl, x_cl),
                      "lamina": lambda: lamina_model.predict_on_batch(x_nhwc)},
        "fine-tune step": {"pytorch": train_step(torch_model, x_nchw), "pt-cl": train_step(torch_cl, x_cl),
                           "lamina": lambda: lamina_model.train_on_batch(x_nhwc, y)},
    }
    for row, fns in rows.items():
        med = _medians(fns, repeats, device)
        print(f"{name + ' ' + row:28s} {med['pytorch']:8.4f} {med['pt-cl']:8.4f} {med['lamina']:8.4f} "
              f"{med['lamina'] / med['pytorch']:6.3f} {med['lamina'] / med['pt-cl']:8.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=["resnet50", "mobilenetv2"], default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU); default: torch's")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    batch = args.batch or (64 if device.type == "cuda" else 8)
    size = args.size or (224 if device.type == "cuda" else 128)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    np.random.seed(0)
    print(f"{'workload':28s} {'pytorch':>8s} {'pt-cl':>8s} {'lamina':>8s} {'ratio':>6s} {'ratio_cl':>8s}")
    if args.only in (None, "resnet50"):
        model = resnet.ResNet50(weights=None, input_shape=(size, size, 3), classes=10, classifier_activation=None)
        bench("resnet50", model, TorchResNet50(10), batch, size, args.repeats, device)
    if args.only in (None, "mobilenetv2"):
        model = mobilenet_v2.MobileNetV2(weights=None, input_shape=(size, size, 3), classes=10,
                                         classifier_activation=None)
        bench("mobilenetv2", model, TorchMobileNetV2(10), batch, size, args.repeats, device)


if __name__ == "__main__":
    main()
