"""The shared layer test harness: one call checks the contract every layer owes.

``check_layer(factory, input_shape, keras_factory=..., keras=...)`` makes layers with ``factory()`` and checks:

1. build + call: weights exist only after the first call (``lazy=False`` for wrapped, already-built modules),
   they are real (not meta) CPU tensors, and the output is finite, of the expected shape (if given) and in floatx;
2. symbolic call on ``lamina.layers.Input`` gives the eager output's shape with a ``None`` batch, builds the
   same weight shapes, and the layer built that way computes the same outputs once it has the same weights;
3. ``get_config``/``from_config`` (through JSON) rebuilds a layer with the same config, and after
   ``set_weights`` the same outputs;
4. ``get_weights``/``set_weights`` round trip (fresh random arrays come back exactly and change the output;
   a wrong count or shape is refused with a ValueError);
5. one gradient step: ``outputs.sum().backward()`` gives finite gradients for every trainable weight (and the
   float inputs), and an SGD step changes exactly the weights whose gradient is nonzero;
6. with a Keras 3 twin: the same ``get_weights()`` shapes in the same order, outputs equal within ``atol``
   after ``lamina_layer.set_weights(keras_layer.get_weights())``, and the symbolic output shape equals the
   shape of Keras's symbolic output on ``keras.Input``.

Inputs are one shape tuple (batch first) or a list of them (merge layers); data is drawn from a seeded NumPy
generator, so every check is deterministic.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from lamina import layers as lamina_layers


def to_numpy(x: Any) -> np.ndarray:
    """A lamina/torch/Keras tensor (or array) as a NumPy array, without Keras's NumPy-2 deprecation noise."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import keras

            return np.asarray(keras.ops.convert_to_numpy(x))
        except ImportError:  # pragma: no cover - keras absent
            return np.asarray(x)


def keras_weights(layer: Any) -> list[np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [np.asarray(w) for w in layer.get_weights()]


def _is_multi(input_shape: Any) -> bool:
    return isinstance(input_shape, list)


def make_inputs(input_shape: Any, seed: int = 0, low: float | None = None, high: float | None = None) -> Any:
    """Seeded float32 data for one shape or a list of shapes (normal, or uniform in [low, high))."""
    rng = np.random.default_rng(seed)

    def one(shape: tuple) -> np.ndarray:
        if low is not None:
            return rng.uniform(low, high, size=shape).astype("float32")
        return rng.standard_normal(shape).astype("float32")

    return [one(s) for s in input_shape] if _is_multi(input_shape) else one(input_shape)


def _torch(x: Any, requires_grad: bool = False) -> Any:
    if isinstance(x, list):
        return [_torch(v, requires_grad) for v in x]
    return torch.tensor(x, requires_grad=requires_grad)


def _symbolic(input_shape: Any) -> Any:
    if _is_multi(input_shape):
        return [lamina_layers.Input(shape=s[1:]) for s in input_shape]
    return lamina_layers.Input(shape=input_shape[1:])


def _none_batch(shape: Any) -> Any:
    if isinstance(shape, list):
        return [_none_batch(s) for s in shape]
    return (None, *tuple(shape)[1:])


def _out_shape(out: Any) -> Any:
    if isinstance(out, (list, tuple)):
        return [tuple(o.shape) for o in out]
    return tuple(out.shape)


def _out_numpy(out: Any) -> Any:
    if isinstance(out, (list, tuple)):
        return [to_numpy(o) for o in out]
    return to_numpy(out)


def _assert_outputs_close(got: Any, want: Any, atol: float, rtol: float, what: str) -> None:
    got_l = got if isinstance(got, list) else [got]
    want_l = want if isinstance(want, list) else [want]
    assert len(got_l) == len(want_l), f"{what}: {len(got_l)} outputs, expected {len(want_l)}"
    for g, w in zip(got_l, want_l, strict=True):
        assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
        np.testing.assert_allclose(g, w, atol=atol, rtol=rtol, err_msg=what)


def random_weights_like(weights: list[np.ndarray], seed: int = 1) -> list[np.ndarray]:
    """Fresh random arrays of the same shapes and dtypes (biases too, so a dropped bias shows)."""
    rng = np.random.default_rng(seed)
    return [(0.5 * rng.standard_normal(w.shape)).astype(w.dtype) for w in weights]


@dataclass
class LayerCheck:
    """What ``check_layer`` saw, for further assertions in the test."""

    layer: Any
    inputs: Any
    outputs: Any
    symbolic_output: Any
    keras_layer: Any = None
    keras_outputs: Any = None
    notes: list[str] = field(default_factory=list)


def check_layer(
    factory: Callable[[], Any],
    input_shape: tuple | list[tuple],
    *,
    keras_factory: Callable[[], Any] | None = None,
    keras: Any = None,
    expected_output_shape: Any = None,
    inputs: Any = None,
    check_config: bool = True,
    check_grads: bool = True,
    check_symbolic: bool = True,
    lazy: bool = True,
    atol: float = 1e-5,
    rtol: float = 1e-5,
    seed: int = 0,
) -> LayerCheck:
    """Run the whole layer contract for ``factory()`` on data of ``input_shape`` (see the module docstring)."""
    x_np = make_inputs(input_shape, seed) if inputs is None else inputs

    # 1. build + call ----------------------------------------------------------------------------------------
    layer = factory()
    if lazy and not layer.built:
        assert layer.weights == [], f"{layer.name}: weights exist before the first call"
    out = layer(_torch(x_np))
    assert layer.built, f"{layer.name}: not built after the first call"
    for w in layer.weights:
        assert not w.is_meta and w.device.type == "cpu", f"{layer.name}: weight on {w.device} after an eager build"
    out_np = _out_numpy(out)
    for o in out_np if isinstance(out_np, list) else [out_np]:
        assert o.dtype == np.float32, f"{layer.name}: output dtype {o.dtype}, expected float32"
        assert np.all(np.isfinite(o)), f"{layer.name}: non-finite output"
    if expected_output_shape is not None:
        assert _out_shape(out) == expected_output_shape
    # Calling again on the same data gives the same result (no hidden state changes in inference mode).
    _assert_outputs_close(_out_numpy(layer(_torch(x_np))), out_np, 0, 0, f"{layer.name}: second call")

    weights = layer.get_weights()
    assert all(isinstance(w, np.ndarray) for w in weights)

    # 2. symbolic call ---------------------------------------------------------------------------------------
    symbolic_out = None
    if check_symbolic:
        sym_layer = factory()
        symbolic_out = sym_layer(_symbolic(input_shape))
        sym_shape = ([t.shape for t in symbolic_out] if isinstance(symbolic_out, (list, tuple))
                     else symbolic_out.shape)
        assert sym_shape == _none_batch(_out_shape(out)), (
            f"{layer.name}: symbolic output shape {sym_shape} != eager {_out_shape(out)} with a None batch")
        assert sym_layer.built
        assert [w.shape for w in sym_layer.get_weights()] == [w.shape for w in weights]
        for w in sym_layer.weights:
            assert not w.is_meta, f"{sym_layer.name}: a symbolic build left meta weights"
        sym_layer.set_weights(weights)
        _assert_outputs_close(_out_numpy(sym_layer(_torch(x_np))), out_np, atol, rtol,
                              f"{layer.name}: symbolically built layer")

    # 3. config round trip -----------------------------------------------------------------------------------
    if check_config:
        config = layer.get_config()
        text = json.dumps(config)  # configs are data: JSON, never code
        clone = type(layer).from_config(json.loads(text))
        assert json.dumps(clone.get_config()) == text
        clone(_torch(x_np))
        clone.set_weights(weights)
        _assert_outputs_close(_out_numpy(clone(_torch(x_np))), out_np, atol, rtol, f"{layer.name}: from_config")

    # 4. weights round trip ----------------------------------------------------------------------------------
    if weights:
        fresh = random_weights_like(weights, seed + 1)
        layer.set_weights(fresh)
        back = layer.get_weights()
        assert len(back) == len(fresh)
        for b, f in zip(back, fresh, strict=True):
            np.testing.assert_array_equal(b, f)
        changed = _out_numpy(layer(_torch(x_np)))
        changed_l = changed if isinstance(changed, list) else [changed]
        out_l = out_np if isinstance(out_np, list) else [out_np]
        assert any(not np.allclose(c, o) for c, o in zip(changed_l, out_l, strict=True)), (
            f"{layer.name}: new weights did not change the output")
        try:
            layer.set_weights(fresh[:-1])
        except ValueError:
            pass
        else:
            raise AssertionError(f"{layer.name}: set_weights accepted too few arrays")
        wrong = [np.zeros((*w.shape, 2), w.dtype) for w in fresh]
        try:
            layer.set_weights(wrong)
        except ValueError:
            pass
        else:
            raise AssertionError(f"{layer.name}: set_weights accepted arrays of the wrong shape")
        layer.set_weights(weights)
    else:
        layer.set_weights([])

    # 5. one gradient step -----------------------------------------------------------------------------------
    if check_grads:
        x_t = _torch(x_np, requires_grad=True)
        for w in layer.trainable_weights:
            w.grad = None
        result = layer(x_t)
        total = sum(r.sum() for r in result) if isinstance(result, (list, tuple)) else result.sum()
        total.backward()
        for w in layer.trainable_weights:
            assert w.grad is not None, f"{layer.name}: no gradient for a trainable weight of shape {tuple(w.shape)}"
            assert torch.isfinite(w.grad).all(), f"{layer.name}: non-finite gradient"
        for x in x_t if isinstance(x_t, list) else [x_t]:
            assert x.grad is not None and torch.isfinite(x.grad).all(), f"{layer.name}: bad input gradient"
        if layer.trainable_weights:
            before = [w.detach().clone() for w in layer.trainable_weights]
            torch.optim.SGD(layer.trainable_weights, lr=0.1).step()
            for b, w in zip(before, layer.trainable_weights, strict=True):
                moved = not torch.equal(b, w.detach())
                if w.grad.abs().max() > 1e-4:  # (a softmax's bias gets an exactly-zero or round-off gradient)
                    assert moved, f"{layer.name}: an SGD step did not move a weight with a gradient"
                elif not w.grad.any():
                    assert not moved, f"{layer.name}: an SGD step moved a weight with a zero gradient"
            layer.set_weights(weights)

    # 6. Keras 3 twin ----------------------------------------------------------------------------------------
    keras_layer = keras_out = None
    if keras_factory is not None:
        assert keras is not None, "pass the `keras` fixture together with keras_factory"
        keras_layer = keras_factory()
        keras_out = keras_layer(x_np)
        kw = keras_weights(keras_layer)
        assert [w.shape for w in weights] == [w.shape for w in kw], (
            f"weight shapes {[w.shape for w in weights]} != Keras {[w.shape for w in kw]}")
        layer.set_weights(kw)
        keras_np = ([to_numpy(o) for o in keras_out] if isinstance(keras_out, (list, tuple))
                    else to_numpy(keras_out))
        _assert_outputs_close(_out_numpy(layer(_torch(x_np))), keras_np, atol, rtol, f"{layer.name} vs Keras")
        if check_symbolic:
            keras_inputs = ([keras.Input(shape=s[1:]) for s in input_shape] if _is_multi(input_shape)
                            else keras.Input(shape=input_shape[1:]))
            keras_sym = keras_factory()(keras_inputs)
            keras_shape = ([t.shape for t in keras_sym] if isinstance(keras_sym, (list, tuple))
                           else keras_sym.shape)
            sym_shape = ([t.shape for t in symbolic_out] if isinstance(symbolic_out, (list, tuple))
                         else symbolic_out.shape)
            assert sym_shape == _as_tuples(keras_shape), f"symbolic shape {sym_shape} != Keras {keras_shape}"
        layer.set_weights(weights)

    return LayerCheck(layer, x_np, out_np, symbolic_out, keras_layer, keras_out)


def _as_tuples(shape: Any) -> Any:
    if isinstance(shape, list):
        return [_as_tuples(s) for s in shape]
    return tuple(shape)
