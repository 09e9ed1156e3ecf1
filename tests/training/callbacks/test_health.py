"""TrainingMonitor: its norms and update ratios against plain PyTorch, its warnings, a rollback that saves a run
from a corrupted batch, and the after-backward hook it rides on."""

import io
import math

import numpy as np
import pytest
import torch
from callback_helpers import data, init_weights, model

import lamina
from lamina.callbacks import Callback, TrainingMonitor


def _torch_grads(weights, x, y):
    """Plain PyTorch: the gradients of the helpers' model (tanh hidden layer, MSE) at ``weights``."""
    k1, b1, k2, b2 = (torch.tensor(w, requires_grad=True) for w in weights)
    out = torch.tanh(torch.tensor(x) @ k1 + b1) @ k2 + b2
    loss = ((out - torch.tensor(y)) ** 2).mean()
    loss.backward()
    return [t.grad for t in (k1, b1, k2, b2)], float(loss.detach())


def test_norms_and_update_ratio_match_plain_pytorch():
    x, y = data(n=16)
    w0 = init_weights()
    m = model(w0, lr=0.1)
    monitor = TrainingMonitor(check_every=1)
    m.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[monitor])  # one full-batch step
    grads, loss = _torch_grads(w0, x, y)
    hidden = math.sqrt(float(grads[0].norm() ** 2 + grads[1].norm() ** 2))
    out = math.sqrt(float(grads[2].norm() ** 2 + grads[3].norm() ** 2))
    assert monitor.records["grad_norm/hidden"] == [pytest.approx(hidden, rel=1e-5)]
    assert monitor.records["grad_norm/out"] == [pytest.approx(out, rel=1e-5)]
    assert monitor.records["grad_norm"] == [pytest.approx(math.hypot(hidden, out), rel=1e-5)]
    assert monitor.records["loss"] == [pytest.approx(loss, rel=1e-5)]
    w1 = m.get_weights()
    assert monitor.records["weight_norm/out"] == [pytest.approx(
        math.sqrt(float(np.sum(w1[2] ** 2) + np.sum(w1[3] ** 2))), rel=1e-5)]
    assert monitor.records["learning_rate"] == [pytest.approx(0.1)]

    # Two steps: the sampled update is the first one, lr * g, against the weights before it.
    m = model(w0, lr=0.1)
    monitor = TrainingMonitor(check_every=5)
    history = m.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[monitor], shuffle=False)
    grads, _ = _torch_grads(w0, x[:8], y[:8])
    upd = math.sqrt(sum(float((0.1 * g).norm() ** 2) for g in grads[:2]))
    weight = math.sqrt(sum(float(np.sum(w ** 2)) for w in w0[:2]))
    assert monitor.records["update_ratio/hidden"] == [pytest.approx(upd / weight, rel=1e-4)]
    assert history.history["learning_rate"] == [pytest.approx(0.1)]  # written into the epoch logs
    assert monitor.events == []


def _clusters(n=1024, classes=4, features=20, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=1.0, size=(classes, features))
    y = rng.integers(0, classes, n)
    return (centers[y] + rng.normal(size=(n, features))).astype("float32"), y.astype("int64")


def _batches(x, y, bad_step, scale=1e4, batch=32):
    """Batches forever, in order; the one at ``bad_step`` has noise of standard deviation ``scale`` added to its
    inputs (a corrupted record)."""
    noise = np.random.default_rng(7).normal(scale=scale, size=(batch, x.shape[1])).astype("float32")
    step = 0
    while True:
        for i in range(0, len(x), batch):
            xb = x[i:i + batch]
            yield (xb + noise if step == bad_step else xb), y[i:i + batch]
            step += 1


def _logit_model():
    lamina.utils.set_random_seed(3)
    m = lamina.Sequential([lamina.Input((20,)), lamina.layers.Dense(32, activation="relu"), lamina.layers.Dense(4)])
    m.compile(optimizer=lamina.optimizers.SGD(0.1),
              loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return m


@pytest.mark.parametrize("rollback", [False, True], ids=["warn_only", "rollback"])
def test_a_corrupted_batch_is_flagged_and_rollback_recovers_the_run(rollback, capsys):
    x, y = _clusters()
    x_test, y_test = x[768:], y[768:]
    x, y = x[:768], y[:768]
    m = _logit_model()
    monitor = TrainingMonitor(check_every=8, norm_every=1, rollback=rollback)  # every step's gradients measured
    history = m.fit(_batches(x, y, bad_step=30), epochs=3, steps_per_epoch=24, verbose=1, callbacks=[monitor])
    _, accuracy = m.evaluate(x_test, y_test, verbose=0)
    kinds = [e["kind"] for e in monitor.events]
    assert "loss_spike" in kinds and "exploding_gradients" in kinds
    spike = next(e for e in monitor.events if e["kind"] == "loss_spike")
    assert spike["step"] == 31 and spike["epoch"] == 1  # the 31st step (0-based 30), in the second epoch
    printed = capsys.readouterr().out
    assert "TrainingMonitor warning (epoch 2, step 31): loss spike" in printed
    if rollback:
        assert kinds.count("rollback") == 1 and monitor.rollbacks == 1
        assert monitor.records["learning_rate"] == [pytest.approx(0.1), pytest.approx(0.05), pytest.approx(0.05)]
        assert accuracy > 0.95 and history.history["loss"][-1] < 0.3, (accuracy, history.history)
        assert "restored the last good weights and optimizer state; learning rate 0.1 -> 0.05" in printed
    else:
        # The run is damaged for good without rollback (the clean run's last epoch loss is about 0.1).
        assert history.history["loss"][-1] > 100, history.history


def test_with_sampled_gradient_norms_a_spike_between_measured_steps_still_rolls_back(capsys):
    x, y = _clusters()
    x_test, y_test = x[768:], y[768:]
    x, y = x[:768], y[:768]
    m = _logit_model()
    monitor = TrainingMonitor(check_every=8, rollback=True)  # default norm_every=10: step 31 is not measured
    m.fit(_batches(x, y, bad_step=30), epochs=3, steps_per_epoch=24, verbose=0, callbacks=[monitor])
    kinds = [e["kind"] for e in monitor.events]
    assert kinds[:2] == ["loss_spike", "rollback"] and monitor.events[0]["step"] == 31
    _, accuracy = m.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.95
    # the norms come from the measured steps only: 24 steps an epoch, windows of 8 -> position 0 -> 3 steps
    assert monitor._norm_count == 3 and monitor._count == 24


def test_rollback_restores_the_exact_last_good_state():
    x, y = data(n=16)
    m = model(lr=0.1)
    monitor = TrainingMonitor(check_every=2, rollback=True)

    class Corrupt(Callback):
        """After step 3 (a clean check at step 2), break the weights as a bad update would."""

        def on_train_batch_begin(self, batch, logs=None):
            if batch == 2:
                self.good = [w.copy() for w in m.get_weights()]
                self.good_state = {k: v.clone() for k, v in m.optimizer.state_dict()[0].items()}
                self.iterations = m.optimizer.iterations

        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                with torch.no_grad():
                    m.layers[1].kernel.mul_(1e6)

    corrupt = Corrupt()
    # Corrupt runs after the monitor's batch-end check of step 3, so the check at step 4 sees the damage.
    m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[monitor, corrupt])
    assert [e["kind"] for e in monitor.events][-1] == "rollback"
    for a, b in zip(m.get_weights(), corrupt.good, strict=True):
        np.testing.assert_array_equal(a, b)
    assert m.optimizer.iterations == corrupt.iterations
    assert float(m.optimizer.learning_rate) == pytest.approx(0.05)


def test_nan_and_vanishing_gradients_are_reported():
    x, y = data(n=16)
    m = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(8, activation="relu", bias_initializer=
                                                                   lamina.initializers.Constant(-100.0),
                                                                   name="dead"),
                           lamina.layers.Dense(2, name="out")])
    m.compile(optimizer=lamina.optimizers.SGD(0.01), loss="mse")
    stream = io.StringIO()
    monitor = TrainingMonitor(check_every=2, stream=stream)
    m.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[monitor])
    vanishing = [e for e in monitor.events if e["kind"] == "vanishing_gradients"]
    assert len(vanishing) == 1 and "dead" in vanishing[0]["message"] and "out" not in vanishing[0]["message"]
    assert stream.getvalue() == ""  # fit(verbose=0): recorded, not printed

    def with_a_nan_batch():  # (fit refuses NaN arrays up front; a generator's batches are not scanned)
        for i in range(0, 16, 4):
            yield x[i:i + 4], (y[i:i + 4] * np.nan if i == 4 else y[i:i + 4])

    m = model()
    monitor = TrainingMonitor(check_every=2)
    m.fit(with_a_nan_batch(), epochs=1, verbose=0, callbacks=[monitor])
    nan = [e for e in monitor.events if e["kind"] == "nan"]
    assert nan and nan[0]["step"] == 2


def test_after_backward_hook_sees_gradients_before_the_update_and_costs_nothing_unused():
    x, y = data(n=8)
    m = model(lr=0.1)
    seen = []

    class Probe(Callback):
        def on_after_backward(self, loss):
            kernel = m.layers[0].kernel
            seen.append((kernel.grad is not None, kernel.detach().clone(), float(loss.detach())))

    before = m.layers[0].kernel.detach().clone()
    m.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[Probe()])
    assert len(seen) == 1 and seen[0][0] and torch.equal(seen[0][1], before)
    assert seen[0][2] == pytest.approx(_torch_grads(init_weights(), x, y)[1], rel=1e-5)
    assert m._trainer.after_backward == ()  # only during fit
    m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert m._trainer.default_steps.after_backward == ()
    m.train_on_batch(x, y)
    assert len(seen) == 1


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="check_every"):
        TrainingMonitor(check_every=0)
    with pytest.raises(ValueError, match="lr_factor"):
        TrainingMonitor(lr_factor=2.0)
    assert TrainingMonitor is lamina.callbacks.TrainingMonitor


def test_a_compiled_whole_step_gives_way_to_the_hook():
    """With jit_compile=True the default train step may run as one compiled graph, which has no place between
    backward and the update: while a callback listens there, the trainer asks for the step in parts."""
    m = model()
    trainer = m._trainer
    asked = []

    class FakeJit:
        def wrap(self, fn, kind, default):
            asked.append(default)
            return fn

    trainer.jit = FakeJit()
    trainer.step_function("train")
    trainer.after_backward = (lambda loss: None,)
    trainer.step_function("train")
    trainer.after_backward = ()
    assert asked == [True, False]
