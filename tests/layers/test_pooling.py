"""Pooling layers against Keras 3 (torch backend) and a direct NumPy loop (TensorFlow's 'same' semantics)."""

import itertools

import harness  # tests/layers/harness.py, put on the path by tests/layers/conftest.py
import numpy as np
import pytest
import torch

import lamina
from lamina.layers import pooling
from lamina.layers.core import Input

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")

# (class name, constructor kwargs, input shape with batch)
CASES = [
    ("MaxPooling1D", dict(), (2, 9, 3)),
    ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same"), (2, 8, 3)),
    ("MaxPooling1D", dict(pool_size=4, strides=1, padding="same", data_format="channels_first"), (2, 3, 7)),
    ("MaxPooling2D", dict(), (2, 7, 8, 3)),
    ("MaxPooling2D", dict(pool_size=(3, 2), strides=(2, 1), padding="same"), (2, 7, 8, 3)),
    ("MaxPooling2D", dict(pool_size=3, strides=2, padding="same", data_format="channels_first"), (2, 3, 8, 7)),
    ("MaxPooling2D", dict(pool_size=2, strides=3), (2, 8, 8, 2)),
    ("MaxPooling3D", dict(), (2, 4, 5, 4, 2)),
    ("MaxPooling3D", dict(pool_size=3, strides=2, padding="same"), (2, 5, 4, 6, 2)),
    ("AveragePooling1D", dict(pool_size=2), (2, 9, 3)),
    ("AveragePooling1D", dict(pool_size=3, strides=2, padding="same"), (2, 7, 3)),
    ("AveragePooling1D", dict(pool_size=2, strides=1, padding="same"), (2, 7, 3)),  # padding (0, 1)
    ("AveragePooling2D", dict(pool_size=2), (2, 7, 8, 3)),
    ("AveragePooling2D", dict(pool_size=(3, 3), strides=(1, 2), padding="same"), (2, 6, 7, 3)),
    ("AveragePooling2D", dict(pool_size=2, padding="same", data_format="channels_first"), (2, 3, 7, 5)),
    ("AveragePooling3D", dict(pool_size=2, strides=1), (2, 4, 3, 4, 2)),
    ("AveragePooling3D", dict(pool_size=3, strides=2, padding="same"), (2, 5, 5, 3, 2)),
]

# 'same' average pooling with two or more padded cells on one side: Keras's torch backend pads by replicating the
# edge (which changes the average); TensorFlow, and lamina, average over the real cells only. Checked against NumPy.
ASYMMETRIC_AVERAGE = [
    ("AveragePooling1D", dict(pool_size=4, strides=3, padding="same"), (2, 7, 3)),
    ("AveragePooling1D", dict(pool_size=4, strides=1, padding="same", data_format="channels_first"), (2, 3, 6)),
    ("AveragePooling2D", dict(pool_size=(4, 2), strides=(1, 2), padding="same"), (2, 5, 7, 2)),
    ("AveragePooling2D", dict(pool_size=5, strides=2, padding="same"), (2, 8, 8, 2)),
    ("AveragePooling3D", dict(pool_size=(4, 1, 3), strides=(2, 1, 1), padding="same"), (2, 5, 3, 4, 2)),
]

GLOBAL = [
    (f"Global{kind}Pooling{rank}D", dict(data_format=fmt, keepdims=keep), (2, *[5, 4, 3][:rank], 3))
    for kind in ("Max", "Average") for rank in (1, 2, 3)
    for fmt, keep in (("channels_last", False), ("channels_first", True))
]


def _ids(cases):
    return [name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items()) for name, kwargs, _ in cases]


def _numpy_pool(x, name, pool_size=None, strides=None, padding="valid", data_format="channels_last"):
    """Pooling by a plain loop over windows; 'same' pads TensorFlow's way and pools over the real cells only."""
    rank = int(name[-2])
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    default = (2,) * rank if name.startswith("Max") else None
    k = pool_size if pool_size is not None else default
    k = (k,) * rank if isinstance(k, int) else tuple(k)
    s = k if strides is None else ((strides,) * rank if isinstance(strides, int) else tuple(strides))
    spatial = x.shape[1:-1]
    if padding == "valid":
        out = [(n - kk) // ss + 1 for n, kk, ss in zip(spatial, k, s, strict=True)]
        before = [0] * rank
    else:
        out = [-(-n // ss) for n, ss in zip(spatial, s, strict=True)]
        before = [max((o - 1) * ss + kk - n, 0) // 2 for o, ss, kk, n in zip(out, s, k, spatial, strict=True)]
    reduce = np.max if name.startswith("Max") else np.mean
    y = np.zeros((x.shape[0], *out, x.shape[-1]), dtype=np.float64)
    for index in itertools.product(*[range(o) for o in out]):
        window = tuple(slice(max(i * ss - b, 0), min(i * ss - b + kk, n))
                       for i, ss, b, kk, n in zip(index, s, before, k, spatial, strict=True))
        cells = x[(slice(None), *window, slice(None))]
        y[(slice(None), *index, slice(None))] = reduce(cells.reshape(x.shape[0], -1, x.shape[-1]), axis=1)
    return np.moveaxis(y, -1, 1) if data_format == "channels_first" else y


def _input(shape):
    return np.random.RandomState(2).standard_normal(shape).astype("float32")


@pytest.mark.parametrize("case", CASES + GLOBAL, ids=_ids(CASES + GLOBAL))
def test_matches_keras(keras, case):
    name, kwargs, shape = case
    x = _input(shape)
    expected = np.asarray(keras.ops.convert_to_numpy(getattr(keras.layers, name)(**kwargs)(x)))
    got = getattr(pooling, name)(**kwargs)(torch.from_numpy(x)).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("case", CASES + ASYMMETRIC_AVERAGE, ids=_ids(CASES + ASYMMETRIC_AVERAGE))
def test_matches_numpy_loop(case):
    name, kwargs, shape = case
    x = _input(shape)
    got = getattr(pooling, name)(**kwargs)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, _numpy_pool(x, name, **kwargs), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("case", (CASES + GLOBAL)[::4], ids=_ids((CASES + GLOBAL)[::4]))
def test_layer_contract(keras, case):
    name, kwargs, shape = case
    harness.check_layer(lambda: getattr(pooling, name)(**kwargs), shape,
                        keras_factory=lambda: getattr(keras.layers, name)(**kwargs), keras=keras)


def test_asymmetric_average_excludes_padding():
    # pool 4, stride 3 over 7 steps: padding (1, 2); the last window holds steps 5 and 6 only
    x = torch.arange(7.0).reshape(1, 7, 1)
    y = pooling.AveragePooling1D(4, strides=3, padding="same")(x)
    assert y.flatten().tolist() == pytest.approx([1.0, 3.5, 5.5])


@pytest.mark.parametrize("case", (CASES + GLOBAL)[::2], ids=_ids((CASES + GLOBAL)[::2]))
def test_symbolic_shape_matches_keras(keras, case):
    name, kwargs, shape = case
    out = getattr(pooling, name)(**kwargs)(Input(shape=shape[1:]))
    assert out.shape == tuple(getattr(keras.layers, name)(**kwargs).compute_output_shape((None, *shape[1:])))


def test_symbolic_unknown_spatial_dims(keras):
    for name, kwargs in [("MaxPooling2D", dict(padding="same")), ("AveragePooling1D", dict(pool_size=3)),
                         ("GlobalAveragePooling2D", dict())]:
        shape = (None, 6, 3) if name.endswith("2D") else (None, 3)
        out = getattr(pooling, name)(**kwargs)(Input(shape=shape))
        assert out.shape == tuple(getattr(keras.layers, name)(**kwargs).compute_output_shape((None, *shape)))


@pytest.mark.parametrize("name,kwargs", [
    ("MaxPooling2D", dict(pool_size=(3, 2), strides=1, padding="same", data_format="channels_first")),
    ("AveragePooling1D", dict(pool_size=3)),
    ("AveragePooling3D", dict(pool_size=2, strides=(1, 2, 1))),
    ("GlobalAveragePooling2D", dict(keepdims=True)),
    ("GlobalMaxPooling1D", dict(data_format="channels_first")),
])
def test_config_round_trip(keras, name, kwargs):
    cls = getattr(pooling, name)
    config = cls(**kwargs, name="pool").get_config()
    assert cls.from_config(config).get_config() == config
    assert set(getattr(keras.layers, name)(**kwargs).get_config()) == set(config)
    assert config["name"] == "pool"


def test_defaults_follow_keras():
    config = pooling.MaxPooling2D().get_config()
    assert config["pool_size"] == (2, 2) and config["strides"] == (2, 2) and config["padding"] == "valid"
    assert config["data_format"] == "channels_last"
    assert pooling.MaxPooling1D().pool_size == (2,) and pooling.MaxPooling3D().pool_size == (2, 2, 2)


@pytest.mark.parametrize("name,kwargs", [
    ("MaxPooling2D", dict(pool_size=3, strides=2, padding="same")),
    ("AveragePooling2D", dict(pool_size=4, strides=3, padding="same")),
    ("GlobalAveragePooling2D", dict()),
    ("GlobalMaxPooling2D", dict()),
])
def test_gradient_flows(name, kwargs):
    x = torch.randn(2, 7, 7, 3, requires_grad=True)
    getattr(pooling, name)(**kwargs)(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0 and torch.isfinite(x.grad).all()


def test_global_average_1d_mask(keras):
    x = _input((2, 5, 3))
    mask = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1]], dtype=bool)
    expected = np.asarray(keras.ops.convert_to_numpy(keras.layers.GlobalAveragePooling1D()(x, mask=mask)))
    got = pooling.GlobalAveragePooling1D()(torch.from_numpy(x), mask=torch.from_numpy(mask))
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)


def test_wrong_rank_raises_with_layer_name():
    with pytest.raises(ValueError, match="my_pool"):
        pooling.MaxPooling2D(name="my_pool")(torch.ones(2, 8, 3))
    with pytest.raises(ValueError, match="global_pool"):
        pooling.GlobalAveragePooling2D(name="global_pool")(torch.ones(2, 8, 3))
    layer = pooling.AveragePooling1D(2, name="avg_pool")
    layer(torch.ones(2, 8, 3))
    with pytest.raises(ValueError, match="avg_pool"):
        layer(torch.ones(2, 8, 3, 1))
    layer = pooling.MaxPooling2D(name="max_pool")
    layer(torch.ones(2, 8, 8, 3))
    with pytest.raises(ValueError, match="max_pool.*rank 4"):
        layer(torch.ones(8, 8, 3))
    layer = pooling.GlobalMaxPooling2D(name="gmp")
    layer(torch.ones(2, 8, 8, 3))
    with pytest.raises(ValueError, match="gmp.*rank 4"):
        layer(torch.ones(2, 8, 3))


def test_bad_arguments():
    with pytest.raises(ValueError, match="pool_size"):
        pooling.MaxPooling2D(pool_size=(2, 2, 2))
    with pytest.raises(ValueError, match="padding"):
        pooling.MaxPooling1D(padding="causal")
    with pytest.raises(ValueError, match="data_format"):
        pooling.GlobalMaxPooling2D(data_format="NHWC")
    with pytest.raises(ValueError, match="empty"):
        pooling.MaxPooling2D(pool_size=4)(torch.ones(1, 3, 3, 1))


def test_in_sequential_fit():
    from lamina.layers.conv import Conv2D

    x = np.random.rand(16, 8, 8, 1).astype("float32")
    y = np.random.randint(0, 3, size=16)
    model = lamina.Sequential([
        Input(shape=(8, 8, 1)),
        Conv2D(4, 3, padding="same", activation="relu"),
        pooling.MaxPooling2D(),
        pooling.AveragePooling2D(3, strides=2, padding="same"),
        pooling.GlobalAveragePooling2D(),
        lamina.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
