"""The modern blocks' automatic names and public signatures equal Keras's (what ``test_layer.py`` checks for the
layers that ``lamina.layers`` exports)."""

import inspect

import pytest
import torch

import lamina
from lamina.layers import adaptive_pooling
from lamina.layers.core import Dense
from lamina.layers.einsum_dense import EinsumDense
from lamina.layers.group_query_attention import GroupQueryAttention
from lamina.layers.reversible_embedding import ReversibleEmbedding
from lamina.layers.rms_normalization import RMSNormalization
from lamina.layers.wrappers import SpectralNormalization, Wrapper

ADAPTIVE = [getattr(adaptive_pooling, n) for n in adaptive_pooling.__all__]
CLASSES = [EinsumDense, GroupQueryAttention, ReversibleEmbedding, RMSNormalization, SpectralNormalization, Wrapper,
           *ADAPTIVE]


def _args(name, lib):
    return {"EinsumDense": ("ab,bc->ac", 2), "GroupQueryAttention": (2, 2, 1), "ReversibleEmbedding": (4, 2),
            "SpectralNormalization": (lib.layers.Dense(2),), "Wrapper": (lib.layers.Dense(2),),
            "RMSNormalization": ()}.get(name, (2,))


class _Lib:  # ``lib.layers.Dense`` for lamina without importing names from lamina.layers' package namespace
    class layers:  # noqa: N801
        Dense = Dense


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_automatic_names_are_keras_names(keras, cls):
    lamina.clear_session()
    keras.backend.clear_session()
    name = cls.__name__
    ours = cls(*_args(name, _Lib)).name
    theirs = getattr(keras.layers, name)(*_args(name, keras)).name
    assert ours == theirs


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_signatures_match_keras(keras, cls):
    """The same arguments, in the same order, with the same defaults (Keras's quantization-only ones aside)."""
    ours = inspect.signature(cls.__init__).parameters
    theirs = inspect.signature(getattr(keras.layers, cls.__name__).__init__).parameters
    assert list(ours) == list(theirs)
    for key, param in theirs.items():
        assert ours[key].default == param.default, key


def test_layers_build_and_run_on_cuda_when_present():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x = torch.randn(2, 5, 8, device="cuda")
    gqa = GroupQueryAttention(2, 4, 2)
    assert gqa(x, x, use_causal_mask=True).device.type == "cuda"
    assert RMSNormalization()(x).device.type == "cuda"
    assert EinsumDense("abc,cd->abd", (None, 3))(x).device.type == "cuda"
