"""lamina.core.serialization: the registry resolves names it was given, and nothing else."""

from __future__ import annotations

import os
import threading

import pytest

from lamina.core import serialization as S


@S.register_serializable(package="core_tests")
class Point:
    def __init__(self, x=0, y=0):
        self.x, self.y = x, y

    def get_config(self):
        return {"x": self.x, "y": self.y}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@S.register_serializable(package="core_tests", name="sq")
def square(v):
    return v * v


def test_register_and_round_trip_objects_and_functions():
    assert S.get_registered_name(Point) == "core_tests>Point" and S.get_registered_name(square) == "core_tests>sq"
    config = S.serialize({"p": Point(1, 2), "f": square, "n": [1, "a", None]})
    assert config["p"] == {"module": None, "class_name": "Point", "config": {"x": 1, "y": 2},
                           "registered_name": "core_tests>Point"}
    back = S.deserialize(config)
    assert isinstance(back["p"], Point) and (back["p"].x, back["p"].y) == (1, 2)
    assert back["f"] is square and back["n"] == [1, "a", None]


def test_builtin_kinds_keep_same_names_apart():
    class A:
        def get_config(self):
            return {}

    class B(A):
        pass

    S.register_builtin("kind_a", "Same", A)
    S.register_builtin("kind_b", "Same", B)
    assert S.get_registered_object("Same", kind="kind_a") is A
    assert S.get_registered_object("Same", kind="kind_b") is B
    assert S.serialize(B())["module"] == "lamina.kind_b"


@pytest.mark.parametrize("name", ["os.system", "builtins.eval", "subprocess.Popen", "importlib.import_module",
                                  "keras.utils.get_file", "__import__", "eval"])
def test_unknown_names_are_refused_without_importing(name, tmp_path):
    with pytest.raises(S.UnknownObjectError, match="register_serializable"):
        S.deserialize({"module": name.rpartition(".")[0], "class_name": name, "config": {}})
    with pytest.raises(S.UnknownObjectError):
        S.deserialize({"class_name": "function", "config": name})
    with pytest.raises(S.UnknownObjectError):
        S.get_registered_object(name)


@pytest.mark.parametrize("config", [
    {"class_name": "__lambda__", "config": {"code": "YWJj"}},
    {"class_name": "function", "config": {"__lambda__": "YWJj"}},
    {"class_name": "Point", "config": {"x": 1}, "bytecode": "YWJj"},
])
def test_code_in_configs_is_refused(config):
    with pytest.raises(S.UnsafeObjectError, match="never runs code"):
        S.deserialize(config)


def test_custom_objects_and_nested_scopes():
    def cube(v):
        return v ** 3

    with pytest.raises(S.UnknownObjectError, match="cube"):
        S.get_registered_object("cube")
    assert S.get_registered_object("cube", custom_objects={"cube": cube}) is cube
    with S.custom_object_scope({"cube": cube}):
        with S.custom_object_scope({"other": square}):
            assert S.deserialize({"class_name": "function", "config": "cube"}) is cube
            assert S.get_registered_object("other") is square
        with pytest.raises(S.UnknownObjectError):
            S.get_registered_object("other")
    with pytest.raises(S.UnknownObjectError):
        S.get_registered_object("cube")


def test_scope_is_per_thread():
    seen = []
    with S.custom_object_scope({"only_here": square}):
        t = threading.Thread(target=lambda: seen.append("only_here" in [k for t in S._SCOPE.get() for k in t]))
        t.start()
        t.join()
    assert seen == [False]


def test_lambdas_and_bad_registrations_are_refused():
    with pytest.raises(ValueError, match="lambda cannot be saved"):
        S.serialize(lambda x: x)
    with pytest.raises(ValueError, match="lambda cannot be registered"):
        S.register_serializable("p")(lambda x: x)
    with pytest.raises(ValueError, match="package"):
        S.register_serializable("a>b")
    with pytest.raises(TypeError, match="get_config"):
        S.register_serializable("p")(type("NoConfig", (), {}))
    with pytest.raises(TypeError, match="get_config"):
        S.serialize(object())


def test_core_serialization_imports_nothing_above_core():
    import ast
    from pathlib import Path

    source = Path(S.__file__).read_text(encoding="utf-8")
    imported = [n.module for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom) and n.module]
    assert all(not m.startswith("lamina") or m.startswith("lamina.core") for m in imported), imported
    assert "importlib" not in source and "__import__(" not in source and "eval(" not in source
    assert os.path.basename(S.__file__) == "serialization.py"


def test_fsdp_wrapper_classes_are_saved_as_the_class_they_wrap():
    from lamina import layers
    from lamina.core.serialization import public_class

    class FSDPModule:  # stands for torch.distributed.fsdp.FSDPModule: fully_shard makes FSDP<Name>(FSDPModule, Name)
        pass

    wrapped = type("FSDPDense", (FSDPModule, layers.Dense), {})
    assert public_class(wrapped(2)) is layers.Dense

    class MyDense(layers.Dense):  # a user's subclass is its own class, never its parent
        pass

    assert public_class(MyDense(2)) is MyDense
