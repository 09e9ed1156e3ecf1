"""lamina.core.device: set_device / get_device, with CUDA's presence faked both ways."""

from __future__ import annotations

import pytest
import torch

from lamina.core import device


@pytest.fixture(autouse=True)
def _restore_choice(monkeypatch):
    monkeypatch.setattr(device, "_CHOSEN", device._CHOSEN)


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
