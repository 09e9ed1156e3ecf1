"""Initializers: shapes, dtypes, the Keras formulas checked statistically, seeds, configs, lookup.

Keras 3 (torch backend) is the oracle for fans, sample statistics and serialized configs.
"""

import math

import pytest
import torch

from lamina import initializers as I

ALL_CLASSES = [
    I.Zeros, I.Ones, I.Constant, I.RandomNormal, I.RandomUniform, I.TruncatedNormal, I.VarianceScaling,
    I.GlorotUniform, I.GlorotNormal, I.HeUniform, I.HeNormal, I.LecunUniform, I.LecunNormal,
    I.Orthogonal, I.Identity,
]
RANDOM_CLASSES = [
    I.RandomNormal, I.RandomUniform, I.TruncatedNormal, I.VarianceScaling, I.GlorotUniform,
    I.GlorotNormal, I.HeUniform, I.HeNormal, I.LecunUniform, I.LecunNormal, I.Orthogonal,
]
# Variance-scaling presets: (class, scale, fan, distribution) for a kernel with the given fans.
PRESETS = [
    (I.GlorotUniform, 1.0, "fan_avg", "uniform"),
    (I.GlorotNormal, 1.0, "fan_avg", "truncated_normal"),
    (I.HeUniform, 2.0, "fan_in", "uniform"),
    (I.HeNormal, 2.0, "fan_in", "truncated_normal"),
    (I.LecunUniform, 1.0, "fan_in", "uniform"),
    (I.LecunNormal, 1.0, "fan_in", "truncated_normal"),
]
TRUNC = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


def _fan(fan_in: int, fan_out: int, mode: str) -> float:
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


@pytest.mark.parametrize("cls", ALL_CLASSES)
@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (None, torch.float32), ("float32", torch.float32), ("float64", torch.float64),
        ("float16", torch.float16), ("bfloat16", torch.bfloat16), (torch.float64, torch.float64),
    ],
)
def test_shape_and_dtype(cls, dtype, expected):
    out = cls()((6, 4), dtype=dtype)
    assert out.shape == (6, 4)
    assert out.dtype == expected
    assert out.device.type == "cpu"
    assert torch.isfinite(out.float()).all()


@pytest.mark.parametrize("cls", [c for c in ALL_CLASSES if c not in (I.Identity,)])
def test_conv_and_int_shapes(cls):
    assert cls()((3, 3, 16, 32)).shape == (3, 3, 16, 32)
    if cls is not I.Orthogonal:
        assert cls()(7).shape == (7,)
        assert cls()((0, 5)).shape == (0, 5)


def test_floatx_default(monkeypatch):
    from lamina.core import config

    monkeypatch.setattr(config, "_FLOATX", "float64")
    assert I.GlorotUniform()((3, 3)).dtype == torch.float64
    assert I.Zeros()((2,)).dtype == torch.float64


def test_constant_zeros_ones():
    assert torch.equal(I.Zeros()((2, 3)), torch.zeros(2, 3))
    assert torch.equal(I.Ones()((2, 3), dtype="int32"), torch.ones(2, 3, dtype=torch.int32))
    assert torch.equal(I.Constant(2.5)((2, 2)), torch.full((2, 2), 2.5))
    assert torch.equal(I.Constant(7)((3,), dtype="int64"), torch.full((3,), 7))
    assert torch.equal(I.Constant([1.0, 2.0])((3, 2)), torch.tensor([[1.0, 2.0]] * 3))
    assert I.Constant(torch.tensor(3.0)).get_config() == {"value": 3.0}


@pytest.mark.parametrize(
    ("shape", "fans"),
    [((), (1, 1)), ((7,), (7, 7)), ((4, 5), (4, 5)), ((2, 3, 4), (6, 8)), ((3, 3, 16, 32), (144, 288))],
)
def test_compute_fans(shape, fans):
    assert I.compute_fans(shape) == fans


def test_compute_fans_matches_keras(keras):
    from keras.src.initializers.random_initializers import compute_fans

    for shape in [(5,), (4, 5), (2, 3, 4), (3, 3, 16, 32), (5, 5, 3, 3, 8)]:
        assert I.compute_fans(shape) == tuple(int(f) for f in compute_fans(shape))


@pytest.mark.parametrize(("cls", "scale", "mode", "distribution"), PRESETS)
@pytest.mark.parametrize("shape", [(256, 512), (3, 3, 64, 128)])
def test_presets_follow_the_formulas(cls, scale, mode, distribution, shape):
    w = cls(seed=1)(shape).double()
    variance = scale / _fan(*I.compute_fans(shape), mode)
    if distribution == "uniform":
        bound = math.sqrt(3 * variance)
        assert w.abs().max() <= bound
        assert w.abs().max() > 0.99 * bound
    else:
        # The stddev is corrected for the truncation, which happens at two (uncorrected) stddevs.
        assert w.abs().max() <= 2 * math.sqrt(variance) / TRUNC + 1e-6
    assert abs(w.mean().item()) < 0.02 * math.sqrt(variance)
    assert w.var().item() == pytest.approx(variance, rel=0.03)


def test_glorot_uniform_bound_on_a_conv_kernel():
    w = I.GlorotUniform()((3, 3, 16, 32))
    bound = math.sqrt(6 / (144 + 288))
    assert w.abs().max() <= bound
    assert w.double().var().item() == pytest.approx(bound**2 / 3, rel=0.05)


def test_he_normal_std():
    w = I.HeNormal(seed=3)((512, 256)).double()
    assert w.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.02)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform", "normal"])
def test_variance_scaling_modes(mode, distribution):
    shape = (3, 3, 32, 64)
    init = I.VarianceScaling(scale=0.5, mode=mode, distribution=distribution, seed=2)
    assert init.distribution == ("truncated_normal" if distribution == "normal" else distribution)
    w = init(shape).double()
    assert w.var().item() == pytest.approx(0.5 / _fan(*I.compute_fans(shape), mode), rel=0.04)


@pytest.mark.parametrize("cls", [c for c, *_ in PRESETS] + [I.VarianceScaling])
def test_statistics_match_keras(keras, cls):
    shape = (3, 3, 64, 128)
    theirs = torch.as_tensor(getattr(keras.initializers, cls.__name__)(seed=5)(shape)).cpu().double()
    ours = cls(seed=5)(shape).double()
    assert ours.std().item() == pytest.approx(theirs.std().item(), rel=0.03)
    assert ours.abs().max().item() <= theirs.abs().max().item() * 1.03


def test_random_normal_uniform_truncated():
    n = I.RandomNormal(mean=1.0, stddev=2.0, seed=0)((200_000,)).double()
    assert n.mean().item() == pytest.approx(1.0, abs=0.03)
    assert n.std().item() == pytest.approx(2.0, rel=0.01)
    u = I.RandomUniform(minval=-1.0, maxval=3.0, seed=0)((200_000,)).double()
    assert u.min() >= -1.0 and u.max() < 3.0
    assert u.mean().item() == pytest.approx(1.0, abs=0.02)
    assert u.var().item() == pytest.approx(16 / 12, rel=0.02)
    t = I.TruncatedNormal(mean=1.0, stddev=0.5, seed=0)((200_000,)).double()
    assert t.min() >= 0.0 and t.max() <= 2.0
    assert t.min() < 0.01 and t.max() > 1.99
    assert t.mean().item() == pytest.approx(1.0, abs=0.01)
    assert t.std().item() == pytest.approx(0.5 * TRUNC, rel=0.01)


@pytest.mark.parametrize(("shape", "gain"), [((6, 4), 1.0), ((3, 7), 1.0), ((2, 3, 4), 2.0), ((8, 8), 0.5)])
def test_orthogonal(shape, gain):
    w = I.Orthogonal(gain=gain, seed=4)(shape, dtype="float64")
    assert w.shape == shape
    m = w.reshape(-1, shape[-1])
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    torch.testing.assert_close(gram, gain**2 * torch.eye(gram.shape[0], dtype=torch.float64))
    with pytest.raises(ValueError):
        I.Orthogonal()((5,))


def test_identity():
    torch.testing.assert_close(I.Identity()((3, 3)), torch.eye(3))
    torch.testing.assert_close(I.Identity(gain=2.0)((2, 4)), 2 * torch.eye(2, 4))
    assert I.Identity()((2, 2), dtype="int32").dtype == torch.int32
    with pytest.raises(ValueError):
        I.Identity()((2, 2, 2))


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_seeds(cls):
    a, b = cls(seed=11)((8, 6)), cls(seed=11)((8, 6))
    assert torch.equal(a, b)
    init = cls(seed=11)
    assert torch.equal(init((8, 6)), init((8, 6)))  # a seeded initializer repeats, as in Keras
    assert not torch.equal(a, cls(seed=12)((8, 6)))
    # Unseeded: the global generator, so torch.manual_seed makes it repeatable.
    torch.manual_seed(3)
    c = cls()((8, 6))
    d = cls()((8, 6))
    torch.manual_seed(3)
    assert torch.equal(c, cls()((8, 6)))
    assert not torch.equal(c, d)


def test_seed_does_not_touch_global_rng():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    I.GlorotUniform(seed=5)((10, 10))
    assert torch.equal(torch.rand(3), expected)


def test_invalid_arguments():
    with pytest.raises(ValueError):
        I.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError):
        I.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError):
        I.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError):
        I.RandomNormal(seed="abc")
    with pytest.raises(ValueError):
        I.GlorotUniform()((3, 3), dtype="int32")
    with pytest.raises(ValueError):
        I.Orthogonal()((3, 3), dtype="int32")


@pytest.mark.parametrize(
    "init",
    [
        I.Zeros(), I.Ones(), I.Constant(0.3), I.RandomNormal(0.5, 2.0, seed=1),
        I.RandomUniform(-2, 2, seed=1),
        I.TruncatedNormal(stddev=0.1, seed=1), I.VarianceScaling(2.0, "fan_out", "uniform", seed=1),
        I.GlorotUniform(seed=1), I.GlorotNormal(seed=1), I.HeUniform(seed=1), I.HeNormal(seed=1),
        I.LecunUniform(seed=1), I.LecunNormal(seed=1), I.Orthogonal(gain=3.0, seed=1), I.Identity(gain=0.5),
    ],
    ids=lambda i: type(i).__name__,
)
def test_config_round_trip(init):
    config = init.get_config()
    clone = type(init).from_config(config)
    assert type(clone) is type(init) and clone.get_config() == config
    assert torch.equal(clone((4, 4)), init((4, 4)))
    data = I.serialize(init)
    assert data == {"class_name": type(init).__name__, "config": config}
    rebuilt = I.get(data)
    assert type(rebuilt) is type(init) and rebuilt.get_config() == config


def test_configs_match_keras(keras):
    cases = {
        "Zeros": {}, "Ones": {}, "Constant": {"value": 2.0}, "RandomNormal": {"stddev": 0.3, "seed": 2},
        "RandomUniform": {"maxval": 0.3}, "TruncatedNormal": {"mean": 1.0}, "Orthogonal": {"gain": 2.0},
        "VarianceScaling": {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform", "seed": 1},
        "GlorotUniform": {"seed": 3}, "HeNormal": {}, "LecunUniform": {"seed": 4},
    }
    for name, kwargs in cases.items():
        theirs = keras.initializers.serialize(getattr(keras.initializers, name)(**kwargs))
        ours = I.serialize(getattr(I, name)(**kwargs))
        assert ours["class_name"] == theirs["class_name"]
        keras_config = {k: v for k, v in theirs["config"].items() if k not in ("input_axes", "output_axes")}
        assert ours["config"] == keras_config, name
        # A config written by Keras loads here.
        assert I.get({"class_name": theirs["class_name"], "config": theirs["config"]}).get_config() == ours[
            "config"
        ]


def test_get():
    assert I.get(None) is None
    for name, cls in [
        ("glorot_uniform", I.GlorotUniform), ("GlorotUniform", I.GlorotUniform), ("he_normal", I.HeNormal),
        ("zeros", I.Zeros), ("zero", I.Zeros), ("ones", I.Ones), ("random_normal", I.RandomNormal),
        ("normal", I.RandomNormal), ("uniform", I.RandomUniform), ("truncated_normal", I.TruncatedNormal),
        ("orthogonal", I.Orthogonal), ("identity", I.Identity), ("constant", I.Constant),
        ("variance_scaling", I.VarianceScaling), ("lecun_normal", I.LecunNormal),
    ]:
        got = I.get(name)
        assert type(got) is cls, name
    assert I.get("zeros") is not I.get("zeros")  # a new instance each time
    got = I.get({"class_name": "GlorotUniform", "config": {"seed": 7}})
    assert isinstance(got, I.GlorotUniform) and got.seed == 7
    assert isinstance(I.get({"class_name": "ones"}), I.Ones)
    init = I.HeUniform(seed=1)
    assert I.get(init) is init
    assert isinstance(I.get(I.Orthogonal), I.Orthogonal)

    def custom(shape, dtype=None):
        return torch.full(shape, 9.0)

    assert I.get(custom) is custom


def test_get_errors():
    with pytest.raises(ValueError, match="'glorot_uniform'"):
        I.get("glorot_unifrom")
    with pytest.raises(ValueError, match="he_normal"):
        I.get({"class_name": "he_normall", "config": {}})
    with pytest.raises(ValueError):
        I.get({"config": {}})
    with pytest.raises(TypeError):
        I.get(3)
    with pytest.raises(TypeError):
        I.serialize(lambda shape, dtype=None: torch.zeros(shape))
    assert I.serialize(None) is None
