"""Saving: weights files (safetensors, atomic writes)."""

from lamina.saving.weights import load_weights, save_weights

__all__ = ["load_weights", "save_weights"]
