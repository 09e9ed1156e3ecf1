"""lamina.core.random: one seed makes Python, NumPy and PyTorch repeat; deterministic algorithms on request."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from lamina.core.random import new_generator, set_random_seed


@pytest.fixture
def restore_determinism():
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.benchmark)
    yield
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.benchmark = saved[2]


def draw():
    return (random.random(), random.randint(0, 10**9), np.random.rand(4).tolist(), np.random.randint(0, 10**9),
            torch.rand(4).tolist(), torch.randint(0, 10**9, (2,)).tolist())


@pytest.mark.parametrize("seed", [0, 1, 42, 2**32 + 5, 2**40])
def test_same_seed_repeats_all_three_generators(seed):
    set_random_seed(seed)
    first = draw()
    set_random_seed(seed)
    second = draw()
    assert first == second


def test_different_seeds_differ_in_all_three_generators():
    set_random_seed(1)
    a = draw()
    set_random_seed(2)
    b = draw()
    assert a[0] != b[0]  # python
    assert a[2] != b[2]  # numpy
    assert a[4] != b[4]  # torch


def test_seed_sets_each_library_like_its_own_seed_function():
    set_random_seed(123)
    got = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    assert got == (random.random(), np.random.rand(), torch.rand(1).item())


def test_a_torch_module_initialises_identically():
    set_random_seed(7)
    w1 = torch.nn.Linear(5, 3).weight.detach().clone()
    set_random_seed(7)
    w2 = torch.nn.Linear(5, 3).weight.detach().clone()
    assert torch.equal(w1, w2)


def test_lamina_layers_initialise_identically():
    import lamina

    def kernel():
        layer = lamina.layers.Dense(3)
        layer(torch.ones(2, 4))
        return layer.get_weights()[0]

    set_random_seed(3)
    k1 = kernel()
    set_random_seed(3)
    k2 = kernel()
    np.testing.assert_array_equal(k1, k2)


@pytest.mark.parametrize("bad", [-1, 1.5, 2.0, "1", None, True, [1]])
def test_bad_seeds_are_rejected(bad):
    with pytest.raises(ValueError, match="set_random_seed"):
        set_random_seed(bad)


def test_numpy_integer_seed_is_accepted_or_clearly_rejected():
    # Keras rejects non-int seeds with a ValueError; accepting NumPy integers is fine too, if they repeat.
    try:
        set_random_seed(np.int64(5))
    except ValueError as error:
        assert "set_random_seed" in str(error)
        return
    a = torch.rand(2).tolist()
    set_random_seed(5)
    assert torch.rand(2).tolist() == a


def test_deterministic_turns_on_deterministic_algorithms(restore_determinism):
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.benchmark = True
    set_random_seed(0, deterministic=True)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.backends.cudnn.benchmark is False


def test_default_leaves_deterministic_algorithms_alone(restore_determinism):
    torch.use_deterministic_algorithms(False)
    set_random_seed(0)
    assert not torch.are_deterministic_algorithms_enabled()


def test_new_generator_follows_the_global_seed():
    set_random_seed(11)
    a = torch.rand(5, generator=new_generator())
    set_random_seed(11)
    b = torch.rand(5, generator=new_generator())
    assert torch.equal(a, b)
    set_random_seed(12)
    assert not torch.equal(a, torch.rand(5, generator=new_generator()))


def test_successive_generators_differ():
    set_random_seed(0)
    g1, g2 = new_generator(), new_generator()
    assert g1.initial_seed() != g2.initial_seed()
    assert g1.device.type == "cpu"
