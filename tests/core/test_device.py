"""lamina.core.device: set_device / get_device, with CUDA's presence faked both ways."""

from __future__ import annotations

import pytest
import torch

from lamina.core import config, device


@pytest.fixture(autouse=True)
def _restore_choice(monkeypatch):
    monkeypatch.setattr(config, "DEVICE", config.DEVICE)


def test_cpu():
    device.set_device("cpu")
    assert device.get_device() == torch.device("cpu")
    device.set_device(torch.device("cpu"))
    assert device.get_device() == torch.device("cpu")


def test_none_is_auto_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    device.set_device("cpu")
    device.set_device(None)
    assert device.get_device() == torch.device("cpu")


def test_none_is_auto_with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    device.set_device(None)
    assert device.get_device() == torch.device("cuda", 0)


def test_auto_matches_this_machine():
    device.set_device(None)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert device.get_device().type == expected


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:1", torch.device("cuda")])
def test_cuda_without_cuda_raises_a_clear_value_error(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    device.set_device("cpu")
    with pytest.raises(ValueError) as info:
        device.set_device(name)
    msg = str(info.value)
    assert "CUDA is not available" in msg
    assert "'cpu'" in msg  # the fix
    assert device.get_device() == torch.device("cpu")  # the earlier choice stands


def test_cuda_with_cuda_is_kept(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    device.set_device("cuda:1")
    assert device.get_device() == torch.device("cuda", 1)


def test_the_choice_wins_over_auto(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    device.set_device("cpu")
    assert device.get_device() == torch.device("cpu")


def test_public_reexports():
    import lamina

    assert lamina.set_device is device.set_device
    assert lamina.get_device is device.get_device


def test_unknown_device_name_raises():
    with pytest.raises((ValueError, RuntimeError), match="gpu"):
        device.set_device("gpu")


# ------------------------------------------------------------------------------------------ denormal floats
TINY = 1e-39  # a float32 denormal (the smallest normal float32 is ~1.18e-38)


def test_flushing_probe_follows_torch_set_flush_denormal():
    assert not device.flushing_denormals()  # PyTorch's default: exact IEEE denormals
    assert float(torch.tensor([TINY]) * 1.0) > 0
    try:
        assert torch.set_flush_denormal(True)  # x86 with DAZ/FTZ (every machine these tests run on)
        assert device.flushing_denormals()
        assert float(torch.tensor([TINY]) * 1.0) == 0
    finally:
        torch.set_flush_denormal(False)
    assert not device.flushing_denormals()


def test_denormals_flushed_on_cpu_then_restored():
    with device.denormals_flushed(torch.device("cpu")):
        assert device.flushing_denormals()
        # Adam's first moment where the gradient stays 0: 0.9**k of 1e-3 reaches the denormal range; flushed,
        # it becomes exactly 0 instead of a slow denormal
        m = torch.full((4,), 1e-3)
        for _ in range(800):
            m.mul_(0.9)
        assert (m == 0).all()
    assert not device.flushing_denormals()
    m = torch.full((4,), 1e-3)
    for _ in range(800):
        m.mul_(0.9)
    assert (m > 0).all() and (m < torch.finfo(torch.float32).tiny).all()  # denormal outside the scope


@pytest.fixture
def two_threads():
    """PyTorch's CPU pool with (at least) two threads, so that work is split over threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(before, 2))
    yield
    torch.set_num_threads(before)


def test_flushing_reaches_every_thread_of_the_pool_then_is_restored(two_threads):
    torch.set_flush_denormal(True)  # PyTorch's own switch: the calling thread only
    try:
        assert device.flushing_denormals() and not device.flushing_denormals(all_threads=True)
    finally:
        torch.set_flush_denormal(False)
    with device.denormals_flushed(torch.device("cpu")):
        assert device.flushing_denormals(all_threads=True)
        # the large product the probe makes is split over the threads: every part of it came out 0
        bits = torch.full((1 << 18,), 0x000AE398, dtype=torch.int32).view(torch.float32)
        assert (bits * 1.0 == 0).all()
    assert not device.flushing_denormals()
    assert (bits * 1.0 > 0).all()  # every thread back to exact denormals


def test_denormals_flushed_keeps_a_mode_the_user_chose(two_threads):
    assert not device.flushing_denormals(all_threads=True)  # (the pool's threads exist from here on)
    try:
        torch.set_flush_denormal(True)
        assert not device.flushing_denormals(all_threads=True)
        with device.denormals_flushed(torch.device("cpu")):
            assert device.flushing_denormals(all_threads=True)  # the pool follows the user's thread
        assert device.flushing_denormals()  # not switched off behind the user's back
    finally:
        torch.set_flush_denormal(False)
        device._share_float_mode()
    assert not device.flushing_denormals(all_threads=True)


def test_set_flush_denormal_off_leaves_ieee_arithmetic():
    device.set_flush_denormal(False)
    try:
        with device.denormals_flushed(torch.device("cpu")):
            assert not device.flushing_denormals()
    finally:
        device.set_flush_denormal(True)
    with pytest.raises(TypeError, match="True or False"):
        device.set_flush_denormal("yes")


def test_non_cpu_devices_are_left_alone():
    with device.denormals_flushed(torch.device("meta")):
        assert not device.flushing_denormals()
