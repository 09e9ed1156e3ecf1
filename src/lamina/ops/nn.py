"""``lamina.ops.nn``: the neural-network ops of ``keras.ops.nn`` (activations, convolutions, pooling,
normalization, losses, attention, CTC), on torch tensors with Keras's layouts and defaults.

The ops live in private modules by theme and are re-exported here (and at the top of ``lamina.ops``).

>>> import torch
>>> relu(torch.tensor([-1.0, 2.0])).tolist()
[0.0, 2.0]
>>> conv(torch.ones(1, 5, 5, 3), torch.ones(3, 3, 3, 8), padding="same").shape
torch.Size([1, 5, 5, 8])
"""

from __future__ import annotations

from lamina.ops._nn_activations import *  # noqa: F403
from lamina.ops._nn_activations import __all__ as _activation_names
from lamina.ops._nn_attention import *  # noqa: F403
from lamina.ops._nn_attention import __all__ as _attention_names
from lamina.ops._nn_conv import *  # noqa: F403
from lamina.ops._nn_conv import __all__ as _conv_names
from lamina.ops._nn_ctc import *  # noqa: F403
from lamina.ops._nn_ctc import __all__ as _ctc_names
from lamina.ops._nn_losses import *  # noqa: F403
from lamina.ops._nn_losses import __all__ as _loss_names
from lamina.ops._nn_norm import *  # noqa: F403
from lamina.ops._nn_norm import __all__ as _norm_names
from lamina.ops._nn_pool import *  # noqa: F403
from lamina.ops._nn_pool import __all__ as _pool_names

__all__: list[str] = sorted({*_activation_names, *_attention_names, *_conv_names, *_ctc_names, *_loss_names,
                             *_norm_names, *_pool_names})
del _activation_names, _attention_names, _conv_names, _ctc_names, _loss_names, _norm_names, _pool_names
