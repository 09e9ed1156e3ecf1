"""core/bounded_json.py: JSON from files parsed within size, depth and value-count bounds (issue 18, finding 1)."""

import json

import pytest
import torch
from safetensors.torch import save

from lamina.core import bounded_json
from lamina.core.bounded_json import JSONLimitError, loads


def test_loads_parses_what_json_parses_and_refuses_each_limit():
    text = json.dumps({"a": [1, 2.5, None, True, "x"], "b": {"c": []}})
    assert loads(text, "t") == json.loads(text) == loads(text.encode(), "t")
    with pytest.raises(JSONLimitError, match="nests 129 levels deep"):
        loads("[" * 129 + "]" * 129, "deep")
    assert loads("[" * 128 + "]" * 128, "deep") is not None
    with pytest.raises(JSONLimitError, match="about 1001 values, over the limit of 1000"):
        loads(json.dumps([0] * 1000), "wide", max_elements=1000)
    with pytest.raises(JSONLimitError, match="over the limit of 4"):
        loads("12345", "big", max_bytes=4)
    for bad in ('{"a": 1, "a": 2}', "{", b"\xff", "1" * 5000, 3):
        with pytest.raises(ValueError) as info:
            loads(bad, "bad")
        assert not isinstance(info.value, JSONLimitError)


def test_brackets_and_commas_inside_strings_are_not_counted():
    text = json.dumps(["[[[[,,,,{{{{", "\\\"[[", {"k": "]]]]"}])
    assert bounded_json.json_shape(text.encode()) == (2, 5)


def test_a_backup_file_with_deeply_nested_metadata_is_refused(tmp_path):
    """BackupAndRestore's own file: its JSON metadata used to reach json.loads unbounded (RecursionError)."""
    from lamina.training import state

    path = tmp_path / "backup.safetensors"
    path.write_bytes(save({"x": torch.zeros(1)}, metadata={"lamina_backup": "[" * 100_000 + "]" * 100_000}))
    with pytest.raises(JSONLimitError):
        state.read(str(path))
