"""Keras's public names in six namespaces (initializers, regularizers, constraints, activations, losses,
metrics) exist in lamina and behave like Keras's: the lowercase aliases are the same kind of object (classes
where Keras has classes) with the same defaults and configs, and ``deserialize`` rebuilds what Keras rebuilds."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

NAMESPACES = ["initializers", "regularizers", "constraints", "activations", "losses", "metrics"]

# (namespace, name) pairs Keras has and lamina does not yet, each with its reason. Empty: lamina has every
# public name of these six namespaces of Keras 3.15.
NOT_YET: set[tuple[str, str]] = set()


def _keras_names(keras, namespace):
    return [n for n in dir(getattr(keras, namespace)) if not n.startswith("_")]


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_lamina_has_every_keras_name(keras, namespace):
    module = importlib.import_module(f"lamina.{namespace}")
    missing = [n for n in _keras_names(keras, namespace) if not hasattr(module, n) and (namespace, n) not in NOT_YET]
    assert missing == []


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_not_yet_is_current(keras, namespace):
    """A name in NOT_YET that lamina now has (or Keras dropped) should leave the list."""
    module = importlib.import_module(f"lamina.{namespace}")
    stale = [n for ns, n in NOT_YET if ns == namespace and (hasattr(module, n) or n not in _keras_names(keras, ns))]
    assert stale == []


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_new_names_are_public(keras, namespace):
    module = importlib.import_module(f"lamina.{namespace}")
    for name in _keras_names(keras, namespace):
        if hasattr(module, name):
            assert name in module.__all__, name


INITIALIZER_ALIASES = [
    ("zeros", "Zeros"), ("ones", "Ones"), ("constant", "Constant"), ("random_normal", "RandomNormal"),
    ("truncated_normal", "TruncatedNormal"), ("random_uniform", "RandomUniform"),
    ("variance_scaling", "VarianceScaling"), ("glorot_uniform", "GlorotUniform"), ("glorot_normal", "GlorotNormal"),
    ("he_uniform", "HeUniform"), ("he_normal", "HeNormal"), ("lecun_uniform", "LecunUniform"),
    ("lecun_normal", "LecunNormal"), ("orthogonal", "Orthogonal"), ("OrthogonalInitializer", "Orthogonal"),
    ("identity", "Identity"), ("IdentityInitializer", "Identity"), ("stft", "STFT"), ("STFTInitializer", "STFT"),
]
REGULARIZER_ALIASES = [("l1", "L1"), ("l2", "L2"), ("l1_l2", "L1L2"),
                       ("orthogonal_regularizer", "OrthogonalRegularizer")]
CONSTRAINT_ALIASES = [("max_norm", "MaxNorm"), ("min_max_norm", "MinMaxNorm"), ("non_neg", "NonNeg"),
                      ("unit_norm", "UnitNorm")]
ALIASES = ([("initializers", *a) for a in INITIALIZER_ALIASES] + [("regularizers", *a) for a in REGULARIZER_ALIASES]
           + [("constraints", *a) for a in CONSTRAINT_ALIASES])


# Config keys Keras 3.15 has that lamina's classes do not take yet (VarianceScaling's fan axes): not aliases'
# business, listed so that any other difference fails.
KNOWN_CONFIG_GAPS = {"input_axes", "output_axes"}
# Keys lamina's configs keep that Keras 3.15 leaves out (Identity's gain: Keras's config drops it).
LAMINA_EXTRA_KEYS = {"gain"}


def _same_config(ours, theirs):
    assert set(ours) - set(theirs) <= LAMINA_EXTRA_KEYS and set(theirs) - set(ours) <= KNOWN_CONFIG_GAPS
    for key, value in theirs.items():
        if key in KNOWN_CONFIG_GAPS and key not in ours:
            continue
        if isinstance(value, float):
            assert ours[key] == pytest.approx(value, rel=1e-6), key
        else:
            assert ours[key] == value, key


@pytest.mark.parametrize("namespace, alias, cls", ALIASES)
def test_alias_is_the_class_as_in_keras(keras, namespace, alias, cls):
    ours, theirs = importlib.import_module(f"lamina.{namespace}"), getattr(keras, namespace)
    assert getattr(theirs, alias) is getattr(theirs, cls)  # Keras: the lowercase name is the class itself
    assert getattr(ours, alias) is getattr(ours, cls)
    kwargs = {"window": None} if cls == "STFT" else {}  # Keras's default Hann window needs scipy
    _same_config(getattr(ours, alias)(**kwargs).get_config(), getattr(theirs, alias)(**kwargs).get_config())


@pytest.mark.parametrize("alias, args", [("l1", (0.3,)), ("l2", (0.01,)), ("l1_l2", (0.1, 0.2)),
                                         ("orthogonal_regularizer", (0.5, "columns"))])
def test_regularizer_alias_values_match_keras(keras, alias, args):
    from lamina import regularizers

    w = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1]], dtype="float32")
    ours = getattr(regularizers, alias)(*args)
    theirs = getattr(keras.regularizers, alias)(*args)
    _same_config(ours.get_config(), theirs.get_config())
    expected = keras.ops.convert_to_numpy(theirs(keras.ops.convert_to_tensor(w)))
    np.testing.assert_allclose(ours(torch.from_numpy(w)).numpy(), expected, rtol=1e-5)
    assert regularizers.l2(0.01) == regularizers.L2(0.01)


@pytest.mark.parametrize("alias, kwargs", [("max_norm", {"max_value": 1.5}), ("min_max_norm", {"min_value": 0.5}),
                                           ("non_neg", {}), ("unit_norm", {"axis": 1})])
def test_constraint_alias_values_match_keras(keras, alias, kwargs):
    from lamina import constraints

    w = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1]], dtype="float32")
    ours, theirs = getattr(constraints, alias)(**kwargs), getattr(keras.constraints, alias)(**kwargs)
    _same_config(ours.get_config(), theirs.get_config())
    expected = keras.ops.convert_to_numpy(theirs(keras.ops.convert_to_tensor(w)))
    np.testing.assert_allclose(ours(torch.from_numpy(w)).numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("namespace, config", [
    ("initializers", {"class_name": "Constant", "config": {"value": 2.0}}),
    ("initializers", {"class_name": "VarianceScaling", "module": "keras.initializers", "registered_name": None,
                      "config": {"scale": 2.0, "mode": "fan_out", "distribution": "uniform", "seed": 3}}),
    ("initializers", "glorot_uniform"),
    ("initializers", "zeros"),
    ("regularizers", {"class_name": "L2", "config": {"l2": 0.5}}),
    ("regularizers", {"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}}),
    ("regularizers", "l2"),
    ("constraints", {"class_name": "MaxNorm", "config": {"max_value": 2.0, "axis": 0}}),
    ("constraints", "non_neg"),
    ("constraints", "unit_norm"),
])
def test_deserialize_matches_keras(keras, namespace, config):
    ours = importlib.import_module(f"lamina.{namespace}").deserialize(config)
    theirs = getattr(keras, namespace).deserialize(config)
    assert type(ours).__name__ == type(theirs).__name__
    _same_config(ours.get_config(), theirs.get_config())


@pytest.mark.parametrize("namespace", ["initializers", "regularizers", "constraints"])
def test_deserialize_round_trips_and_uses_custom_objects(namespace):
    module = importlib.import_module(f"lamina.{namespace}")
    base = {"initializers": "Initializer", "regularizers": "Regularizer", "constraints": "Constraint"}[namespace]

    class Custom(getattr(module, base)):
        def get_config(self):
            return {}

    assert isinstance(module.deserialize({"class_name": "Mine", "config": {}}, custom_objects={"Mine": Custom}),
                      Custom)
    assert isinstance(module.deserialize("Mine", custom_objects={"Mine": Custom}), Custom)
    with pytest.raises(ValueError):
        module.deserialize(42)


@pytest.mark.parametrize("name", ["relu", "softmax", "gelu", "silu", "linear", "hard_silu"])
def test_activation_deserialize_matches_keras(keras, name):
    from lamina import activations

    fn = activations.deserialize(name)
    assert fn is activations.get(name)
    assert fn.__name__ == keras.activations.deserialize(name).__name__
    assert activations.deserialize({"class_name": "function", "config": name}) is fn
    marker = object()
    assert activations.deserialize(name, custom_objects={name: marker}) is marker


WINDOW = [0.5, 1.0, 2.0, 1.5, 0.25, 1.0]


@pytest.mark.parametrize("side", ["real", "imag"])
@pytest.mark.parametrize("window, scaling, periodic", [
    (None, None, False), (None, "density", False), (WINDOW, None, False), (WINDOW, "density", False),
    (WINDOW, "spectrum", True),
])
@pytest.mark.parametrize("shape", [(6, 1, 4), (6, 1, 2), (6, 2, 5)])
@pytest.mark.parametrize("dtype", [None, "float64"])
def test_stft_matches_keras(keras, side, window, scaling, periodic, shape, dtype):
    # Keras's named windows need scipy (absent here): values and None are compared with Keras.
    from lamina import initializers

    kwargs = {"side": side, "window": window, "scaling": scaling, "periodic": periodic}
    ours, theirs = initializers.STFT(**kwargs), keras.initializers.STFT(**kwargs)
    assert ours.get_config() == theirs.get_config()
    expected = keras.ops.convert_to_numpy(theirs(shape, dtype=dtype))
    got = ours(shape, dtype=dtype)
    assert tuple(got.shape) == expected.shape and str(got.dtype).removeprefix("torch.") == str(expected.dtype)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("name", ["hann", "hamming", "blackman", "bartlett"])
@pytest.mark.parametrize("periodic", [False, True])
def test_stft_named_windows_are_scipys(name, periodic):
    """scipy.signal.get_window(name, n, fftbins=periodic) is torch's window of that name."""
    from lamina import initializers

    n = 6
    explicit = getattr(torch, f"{name}_window")(n, periodic=periodic, dtype=torch.float64).tolist()
    named = initializers.STFT(window=name, periodic=periodic)((n, 1, 4))
    np.testing.assert_allclose(named.numpy(), initializers.STFT(window=explicit)((n, 1, 4)).numpy(), atol=1e-7)
    if name == "hann" and not periodic:  # the symmetric Hann window: 0.5 - 0.5 cos(2 pi i / (n - 1))
        i = np.arange(n)
        np.testing.assert_allclose(explicit, 0.5 - 0.5 * np.cos(2 * np.pi * i / (n - 1)), atol=1e-12)


def test_stft_rejects_bad_arguments():
    from lamina import initializers

    for kwargs in ({"side": "both"}, {"scaling": "l2"}, {"window": "kaiser_bessel"}):
        with pytest.raises(ValueError):
            initializers.STFT(**kwargs)
    with pytest.raises(ValueError):
        initializers.STFT(window=[1.0, 2.0])((4, 1, 3))
    assert initializers.deserialize("stft").get_config()["window"] == "hann"
