"""``lamina.dtype_policies`` against ``keras.dtype_policies`` (Keras 3, torch backend)."""

from __future__ import annotations

import pytest

import lamina
from lamina import dtype_policies as ours


@pytest.mark.parametrize("name", ["float32", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16",
                                  "int8_from_float32", "int8_from_mixed_bfloat16", "float8_from_float32"])
def test_get_and_serialize_equal_keras(keras, name):
    theirs, mine = keras.dtype_policies.get(name), ours.get(name)
    assert type(mine).__name__ == type(theirs).__name__
    assert (mine.name, mine.compute_dtype, mine.variable_dtype) == (theirs.name, theirs.compute_dtype,
                                                                    theirs.variable_dtype)
    assert getattr(mine, "quantization_mode", None) == getattr(theirs, "quantization_mode", None)
    assert ours.serialize(mine) == keras.dtype_policies.serialize(theirs)
    again = ours.deserialize(keras.dtype_policies.serialize(theirs))
    assert again.name == theirs.name and type(again).__name__ == type(theirs).__name__


def test_policy_map_looks_up_and_serializes_as_keras(keras):
    maps = []
    for lib in (keras, lamina):
        policies = lib.dtype_policies.DTypePolicyMap(default_policy="float32")
        policies["dense"] = "bfloat16"
        policies["seq/.*conv"] = "float16"
        assert [policies[p].name for p in ("dense", "seq/block/conv", "other")] == ["bfloat16", "float16", "float32"]
        with pytest.raises(ValueError):
            policies["dense"] = "float16"  # a key is set once
        policies["a/.*"] = "float16"
        policies["a/b.*"] = "bfloat16"
        with pytest.raises(ValueError):
            _ = policies["a/bc"]  # two patterns match
        maps.append(lib.dtype_policies.serialize(policies))
    assert maps[1] == maps[0]
    rebuilt = ours.deserialize(maps[0])
    assert isinstance(rebuilt, ours.DTypePolicyMap) and rebuilt["seq/x/conv"].name == "float16"


def test_unknown_descriptions_are_refused():
    with pytest.raises(ValueError, match="Unknown dtype policy"):
        ours.deserialize({"class_name": "os.system", "config": {}})
    assert lamina.FloatDTypePolicy is ours.DTypePolicy
