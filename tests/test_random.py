"""lamina.random: Keras's names and signatures, the distributions (statistics on fixed seeds, so the checks
are deterministic; tolerances are several standard errors wide), dtypes, shapes, devices and seeding."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

import lamina.random as lr
from lamina.ops.dispatch import default_device
from lamina.utils import set_random_seed

N = 100_000
NAMES = ["SeedGenerator", "beta", "binomial", "categorical", "dropout", "gamma", "normal", "randint", "shuffle",
         "truncated_normal", "uniform"]
FUNCTIONS = [n for n in NAMES if n != "SeedGenerator"]


def stats(x: torch.Tensor) -> tuple[float, float]:
    x = x.double()
    return float(x.mean()), float(x.var())


def draw(name: str, seed=None, shape=(64,)):
    """One call of each random function with typical arguments."""
    if name == "categorical":
        return lr.categorical(torch.zeros(2, 5), 32, seed=seed)
    if name == "dropout":
        return lr.dropout(torch.ones(shape), 0.5, seed=seed)
    if name == "shuffle":
        return lr.shuffle(torch.arange(64), seed=seed)
    extra = {"beta": (2.0, 3.0), "binomial": (10, 0.3), "gamma": (2.0,), "randint": (0, 100)}.get(name, ())
    return getattr(lr, name)(shape, *extra, seed=seed)


# ------------------------------------------------------------------------------------- names, signatures
def test_names():
    assert sorted(lr.__all__) == NAMES


def test_signatures_match_keras(keras):
    for name in NAMES:
        ours = inspect.signature(getattr(lr, name))
        theirs = inspect.signature(getattr(keras.random, name))
        assert [(p.name, p.default, p.kind) for p in ours.parameters.values()] == \
            [(p.name, p.default, p.kind) for p in theirs.parameters.values()], name


def test_every_name_documented():
    for name in NAMES:
        assert getattr(lr, name).__doc__, name


# ----------------------------------------------------------------------------------------- distributions
@pytest.mark.parametrize("mean, stddev", [(0.0, 1.0), (3.0, 0.5), (-2.0, 4.0)])
def test_normal(mean, stddev):
    x = lr.normal((N,), mean=mean, stddev=stddev, seed=1)
    m, v = stats(x)
    assert abs(m - mean) < 0.02 * stddev
    assert abs(math.sqrt(v) - stddev) < 0.02 * stddev
    # about 68% within one standard deviation
    assert abs(float(((x - mean).abs() < stddev).double().mean()) - 0.6827) < 0.01


@pytest.mark.parametrize("minval, maxval", [(0.0, 1.0), (-3.0, 5.0), (2, 2.5)])
def test_uniform(minval, maxval):
    x = lr.uniform((N,), minval=minval, maxval=maxval, seed=2)
    assert float(x.min()) >= minval and float(x.max()) < maxval
    m, v = stats(x)
    width = maxval - minval
    assert abs(m - (minval + maxval) / 2) < 0.01 * width
    assert abs(v - width ** 2 / 12) < 0.02 * width ** 2 / 12


def test_randint():
    x = lr.randint((N,), 3, 13, seed=3)
    assert x.dtype == torch.int32
    assert int(x.min()) == 3 and int(x.max()) == 12
    counts = torch.bincount(x.long() - 3, minlength=10).double() / N
    assert (counts - 0.1).abs().max() < 0.01
    m, v = stats(x)
    assert abs(m - 7.5) < 0.05 and abs(v - (10 ** 2 - 1) / 12) < 0.2


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int64"])
def test_randint_dtypes(dtype):
    x = lr.randint((2, 3), 0, 5, dtype=dtype, seed=1)
    assert x.dtype == getattr(torch, dtype) and x.shape == (2, 3)
    assert int(x.min()) >= 0 and int(x.max()) < 5


def test_randint_negative_range():
    x = lr.randint((1000,), -4, -1, seed=0)
    assert set(x.tolist()) == {-4, -3, -2}


@pytest.mark.parametrize("mean, stddev", [(0.0, 1.0), (1.0, 0.1), (-5.0, 3.0)])
def test_truncated_normal(mean, stddev):
    x = lr.truncated_normal((N,), mean=mean, stddev=stddev, seed=4)
    assert float((x - mean).abs().max()) <= 2 * stddev * (1 + 1e-6)
    m, v = stats(x)
    # N(0, 1) cut at +-2: variance 1 - 4 phi(2) / (Phi(2) - Phi(-2))
    phi2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    var = 1 - 4 * phi2 / math.erf(2 / math.sqrt(2))
    assert abs(m - mean) < 0.01 * stddev
    assert abs(math.sqrt(v) - math.sqrt(var) * stddev) < 0.01 * stddev
    # the density is not flat: more mass near the mean than near the cut
    z = ((x - mean) / stddev).abs()
    assert float((z < 0.5).double().mean()) > 2 * float(((z > 1.5) & (z < 2.0)).double().mean())


@pytest.mark.parametrize("alpha", [0.5, 1.0, 4.0])
def test_gamma(alpha):
    x = lr.gamma((N,), alpha, seed=5)
    assert float(x.min()) >= 0
    m, v = stats(x)
    assert abs(m - alpha) < 0.02 * max(alpha, 1)
    assert abs(v - alpha) < 0.05 * max(alpha, 1)


def test_gamma_broadcasts_alpha():
    x = lr.gamma((N, 2), np.array([1.0, 6.0]), seed=5)
    assert x.shape == (N, 2)
    means = x.double().mean(0)
    assert abs(float(means[0]) - 1.0) < 0.03 and abs(float(means[1]) - 6.0) < 0.1


@pytest.mark.parametrize("a, b", [(2.0, 3.0), (0.5, 0.5), (5.0, 1.0)])
def test_beta(a, b):
    x = lr.beta((N,), a, b, seed=6)
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    m, v = stats(x)
    assert abs(m - a / (a + b)) < 0.01
    assert abs(v - a * b / ((a + b) ** 2 * (a + b + 1))) < 0.005


@pytest.mark.parametrize("n, p", [(10, 0.3), (1, 0.5), (50, 0.9)])
def test_binomial(n, p):
    x = lr.binomial((N,), n, p, seed=7)
    assert x.dtype == torch.float32
    assert bool((x == x.round()).all()) and float(x.min()) >= 0 and float(x.max()) <= n
    m, v = stats(x)
    assert abs(m - n * p) < 0.02 * max(n * p, 1)
    assert abs(v - n * p * (1 - p)) < 0.05 * max(n * p * (1 - p), 0.25)


def test_binomial_broadcasts_parameters():
    x = lr.binomial((N, 2), [5, 20], np.array([0.5, 0.1]), seed=7)
    means = x.double().mean(0)
    assert abs(float(means[0]) - 2.5) < 0.05 and abs(float(means[1]) - 2.0) < 0.05


def test_categorical():
    logits = torch.log(torch.tensor([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]]))
    x = lr.categorical(logits, N, seed=8)
    assert x.shape == (2, N) and x.dtype == torch.int32
    freq0 = torch.bincount(x[0].long(), minlength=3).double() / N
    freq1 = torch.bincount(x[1].long(), minlength=3).double() / N
    assert (freq0 - torch.tensor([0.1, 0.2, 0.7], dtype=torch.float64)).abs().max() < 0.01
    assert (freq1 - torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)).abs().max() < 0.01
    assert int(freq1[2] * N) == 0  # a zero-probability class (-inf logit) never comes up
    assert lr.categorical(logits, 4, dtype="int64", seed=1).dtype == torch.int64


def test_dropout():
    x = torch.full((N,), 3.0)
    y = lr.dropout(x, 0.3, seed=9)
    kept = y != 0
    assert abs(float(kept.double().mean()) - 0.7) < 0.01
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 3.0 / 0.7))
    assert abs(float(y.double().mean()) - 3.0) < 0.05


def test_dropout_noise_shape():
    y = lr.dropout(torch.ones(1000, 8), 0.5, noise_shape=(None, 1), seed=10)
    rows_all_same = (y == y[:, :1]).all(1)
    assert bool(rows_all_same.all())
    assert 0.4 < float((y[:, 0] != 0).double().mean()) < 0.6
    y = lr.dropout(torch.ones(4, 1000), 0.5, noise_shape=(1, 1000), seed=10)
    assert bool((y == y[:1]).all())


def test_dropout_edge_rates_and_unseeded():
    x = torch.randn(50, 40)
    assert lr.dropout(x, 0.0) is x
    assert bool((lr.dropout(x, 1.0) == 0).all())
    y = lr.dropout(x, 0.5)
    kept = y != 0
    assert 0.4 < float(kept.double().mean()) < 0.6
    torch.testing.assert_close(y[kept], x[kept] * 2)
    assert lr.dropout(torch.ones(4, dtype=torch.int32), 0.5, seed=1).dtype == torch.float32
    with pytest.raises(ValueError):
        lr.dropout(x, 1.5)


def test_shuffle():
    x = torch.arange(1000)
    y = lr.shuffle(x, seed=11)
    assert not torch.equal(x, y)
    assert torch.equal(y.sort().values, x)


def test_shuffle_moves_slices():
    x = torch.arange(60).reshape(10, 6)
    y = lr.shuffle(x, seed=12)  # axis 0: whole rows move
    assert sorted(map(tuple, y.tolist())) == sorted(map(tuple, x.tolist()))
    y = lr.shuffle(x, axis=1, seed=12)  # each row is a permutation of itself
    assert torch.equal(y.sort(1).values, x)
    y = lr.shuffle(x, axis=-1, seed=12)
    assert torch.equal(y.sort(1).values, x)
    y = lr.shuffle(np.arange(24).reshape(2, 3, 4), axis=1, seed=1)  # trailing axis moves with its slice
    assert bool(((y[..., 1:] - y[..., :-1]) == 1).all())


def test_shuffle_is_uniform():
    counts = torch.zeros(4, 4)
    gen = lr.SeedGenerator(13)
    for _ in range(4000):
        y = lr.shuffle(torch.arange(4), seed=gen)
        counts[torch.arange(4), y] += 1
    assert (counts / 4000 - 0.25).abs().max() < 0.04


# --------------------------------------------------------------------------------------- dtypes, shapes
@pytest.mark.parametrize("name", ["normal", "uniform", "truncated_normal", "gamma", "beta", "binomial"])
def test_float_dtypes(name):
    assert draw(name, seed=1).dtype == torch.float32
    for dtype in ("float16", "bfloat16", "float64"):
        extra = {"beta": (2.0, 3.0), "binomial": (10, 0.3), "gamma": (2.0,)}.get(name, ())
        x = getattr(lr, name)((3, 4), *extra, dtype=dtype, seed=1)
        assert x.dtype == getattr(torch, dtype) and x.shape == (3, 4)


def test_floatx_default(monkeypatch):
    import lamina

    lamina.set_floatx("float64")
    try:
        assert lr.normal((2,), seed=1).dtype == torch.float64
        assert lr.uniform((2,), seed=1).dtype == torch.float64
    finally:
        lamina.set_floatx("float32")


@pytest.mark.parametrize("name", ["normal", "uniform", "truncated_normal"])
def test_float_only(name):
    with pytest.raises(ValueError):
        getattr(lr, name)((2,), dtype="int32")


def test_randint_int_only():
    with pytest.raises(ValueError):
        lr.randint((2,), 0, 3, dtype="float32")


@pytest.mark.parametrize("shape", [(), (0,), (3,), [2, 3, 4], torch.Size([5, 1])])
def test_shapes(shape):
    for name in ("normal", "uniform", "truncated_normal", "randint", "gamma", "beta", "binomial"):
        assert tuple(draw(name, seed=1, shape=shape).shape) == tuple(shape), name


def test_devices():
    for name in FUNCTIONS:
        assert draw(name, seed=1).device == default_device(), name


def test_meta_device():
    gen = lr.SeedGenerator(3)
    with torch.device("meta"):
        for name in FUNCTIONS:
            assert draw(name, seed=gen).device.type == "meta", name
        assert lr.normal((2, 3), seed=gen).shape == (2, 3)
        assert lr.categorical(torch.empty(2, 5), 7).shape == (2, 7)
    assert gen.state.tolist() == [3, 0]  # shape inference draws nothing


def test_categorical_needs_2d():
    with pytest.raises(ValueError):
        lr.categorical(torch.zeros(5), 3)


# ---------------------------------------------------------------------------------------------- seeding
@pytest.mark.parametrize("name", FUNCTIONS)
def test_int_seed_repeats(name):
    a, b = draw(name, seed=42), draw(name, seed=42)
    assert torch.equal(a, b)
    assert not torch.equal(a, draw(name, seed=43))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_int_seed_leaves_global_generator_alone(name):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    draw(name, seed=42)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_seed_generator_advances(name):
    gen = lr.SeedGenerator(5)
    a, b = draw(name, seed=gen), draw(name, seed=gen)
    assert not torch.equal(a, b)
    assert gen.state.tolist() == [5, 2]
    other = lr.SeedGenerator(5)  # the same seed: the same sequence
    assert torch.equal(draw(name, seed=other), a) and torch.equal(draw(name, seed=other), b)
    # a fresh SeedGenerator's first draw is the int seed's
    assert torch.equal(draw(name, seed=lr.SeedGenerator(5)), draw(name, seed=5))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_unseeded_follows_set_random_seed(name):
    set_random_seed(123)
    a, b = draw(name), draw(name)
    assert not torch.equal(a, b)
    set_random_seed(123)
    assert torch.equal(draw(name), a) and torch.equal(draw(name), b)


def test_seed_generator_without_seed():
    a, b = lr.SeedGenerator(), lr.SeedGenerator()
    assert a.get_config()["seed"] is None
    x1, x2 = lr.normal((8,), seed=a), lr.normal((8,), seed=a)
    assert not torch.equal(x1, x2)
    assert not torch.equal(lr.normal((8,), seed=b), x1)
    set_random_seed(7)
    first = lr.SeedGenerator().state[0].item()
    set_random_seed(7)
    assert lr.SeedGenerator().state[0].item() == first


def test_seed_generator_state_and_config():
    gen = lr.SeedGenerator(1337, name="noise")
    assert gen.state.dtype == torch.int32 and gen.state.tolist() == [1337, 0]
    assert gen.next().tolist() == [1337, 0]
    assert gen.next().tolist() == [1337, 1]
    assert gen.state.tolist() == [1337, 2]
    config = gen.get_config()
    assert config == {"seed": 1337, "name": "noise"}
    clone = lr.SeedGenerator.from_config(config)
    assert clone.name == "noise" and clone.state.tolist() == [1337, 0]
    unordered = lr.SeedGenerator(3)
    unordered.next(ordered=False)
    assert unordered.state.tolist() != [3, 0]
    assert lr.SeedGenerator(1).name != lr.SeedGenerator(1).name  # automatic names are unique
    assert "1337" in repr(gen)
    # the state is a Keras-style variable: assigning it rewinds the stream
    gen.state.assign([1337, 0])
    assert torch.equal(lr.normal((3,), seed=gen), lr.normal((3,), seed=1337))
    assert gen.state.path == "noise/seed_generator_state" and not gen.state.trainable


def test_seed_generator_matches_keras(keras):
    ours, theirs = lr.SeedGenerator(9), keras.random.SeedGenerator(9)
    for _ in range(3):
        assert ours.next().tolist() == np.asarray(theirs.next()).tolist()
    ours.next(ordered=False)
    theirs.next(ordered=False)
    assert ours.state.tolist() == np.asarray(theirs.state.value).tolist()


@pytest.mark.parametrize("bad", [1.5, "3", True, [1, 2]])
def test_bad_seeds(bad):
    with pytest.raises(ValueError):
        lr.normal((2,), seed=bad)


def test_bad_seed_generator_arguments():
    with pytest.raises(ValueError):
        lr.SeedGenerator(1.5)
    with pytest.raises(ValueError):
        lr.SeedGenerator(1, colour="red")


def test_drawn_state_is_a_seed():
    gen = lr.SeedGenerator(4)
    state = gen.next()
    assert torch.equal(lr.normal((5,), seed=state), lr.normal((5,), seed=lr.SeedGenerator(4)))
