"""Shared helpers for the optimizer tests: the same weights and gradient sequences given to lamina and to Keras 3
(torch backend), whose resulting weights must agree."""

from __future__ import annotations

import numpy as np
import torch

SHAPES = [(3, 4), (4,)]  # a matrix and a vector: Adafactor factors the first and not the second


def initial(seed: int = 1, shapes=SHAPES) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype("float32") for s in shapes]


def gradients(n: int = 5, seed: int = 0, scale: float = 1.0, shapes=SHAPES) -> list[list[np.ndarray]]:
    """Order-1 gradients (|g| in [0.25, 2.25], far from epsilon) whose size changes from step to step, so running
    maxima (amsgrad, Adamax) and clipping matter."""
    rng = np.random.default_rng(seed)

    def one(i: int, shape) -> np.ndarray:
        g = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
        return (g * scale * (1.5 if i % 2 else 0.5)).astype("float32")

    return [[one(i, s) for s in shapes] for i in range(n)]


def run_lamina(opt, w0s, grads, api: str = "step") -> list[np.ndarray]:
    params = [torch.nn.Parameter(torch.tensor(w)) for w in w0s]
    if api == "step":
        opt.build(params)
    for step_grads in grads:
        ts = [torch.tensor(g) for g in step_grads]
        if api == "step":
            opt.zero_grad()
            for p, g in zip(params, ts, strict=True):
                p.grad = g.clone()
            opt.step()
        elif api == "apply":
            opt.apply(ts, params)
        else:
            opt.apply_gradients(zip(ts, params, strict=True))
    return [p.detach().numpy().copy() for p in params]


def run_keras(keras, opt, w0s, grads) -> list[np.ndarray]:
    variables = [keras.Variable(w) for w in w0s]
    for step_grads in grads:
        opt.apply([torch.tensor(g) for g in step_grads], variables)
    return [np.asarray(keras.ops.convert_to_numpy(v)) for v in variables]


def keras_schedule(keras, schedule):
    """The Keras 3 schedule with the same class and config as a lamina schedule."""
    return getattr(keras.optimizers.schedules, type(schedule).__name__)(**schedule.get_config())


def assert_weights_close(got, want, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def check_keras_parity(keras, name: str, kwargs: dict, learning_rate=0.1, n: int = 5, api: str = "step",
                       rtol: float = 1e-5, atol: float = 1e-6, scale: float = 1.0) -> None:
    """lamina's ``name(**kwargs)`` and Keras's give the same weights after ``n`` steps of the same gradients.
    ``learning_rate`` may be a lamina schedule (Keras gets its own class with the same config)."""
    from lamina import optimizers

    w0, grads = initial(), gradients(n, scale=scale)
    keras_lr = keras_schedule(keras, learning_rate) if hasattr(learning_rate, "get_config") else learning_rate
    keras_opt = getattr(keras.optimizers, name)(learning_rate=keras_lr, **kwargs)
    want = run_keras(keras, keras_opt, w0, grads)
    opt = getattr(optimizers, name)(learning_rate=learning_rate, **kwargs)
    got = run_lamina(opt, w0, grads, api=api)
    assert_weights_close(got, want, rtol=rtol, atol=atol)
    assert opt.iterations == int(keras.ops.convert_to_numpy(keras_opt.iterations))
