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


def test_layers_and_models_serialize_through_the_registry():
    import lamina
    from lamina import layers

    dense = layers.Dense(3, activation="relu", name="d")
    config = S.serialize_layer(dense)
    assert config["class_name"] == "Dense" and S.layer_class_name(dense) == "Dense"
    back = S.deserialize_layer(config)
    assert type(back) is layers.Dense and back.get_config() == dense.get_config()
    inputs = lamina.Input((4,))
    functional = lamina.Model(inputs, layers.Dense(2)(inputs))
    assert S.serialize_layer(functional)["class_name"] == S.layer_class_name(functional) == "Functional"
    sequential = lamina.Sequential([layers.Dense(2, input_shape=(4,))])
    assert S.layer_class_name(sequential) == "Sequential"
    assert type(S.deserialize_layer(S.serialize_layer(functional))) is lamina.Model
    with pytest.raises(ValueError, match="class_name"):
        S.deserialize_layer("Dense")
    with pytest.raises(S.UnknownObjectError, match="register_serializable"):
        S.deserialize_layer({"class_name": "os.system", "config": {}})


def test_register_package_reads_classes_and_registry_tables():
    import types

    from lamina.core.registry import Registry

    class Thing:
        def get_config(self):
            return {}

    def helper(x):
        return x

    Thing.__module__ = helper.__module__ = "lamina.fake"
    table = Registry("fake thing")
    table.register("helper", helper, aliases=("hlp",))
    table.register("thing_alias", Thing)
    sub = types.ModuleType("lamina.fake.sub")
    sub.Other = type("Other", (Thing,), {"__module__": "lamina.fake.sub"})
    skipped = types.ModuleType("lamina.fake.skipped")
    skipped.Hidden = type("Hidden", (Thing,), {"__module__": "lamina.fake.skipped"})
    namespace = {"__name__": "lamina.fake", "Thing": Thing, "TABLE": table, "sub": sub, "skipped": skipped,
                 "_Private": Thing}
    S.register_package("fake_kind", namespace, exclude=["lamina.fake.skipped"])
    assert S.get_registered_object("Thing", kind="fake_kind") is Thing
    assert S.get_registered_object("thing_alias", kind="fake_kind") is Thing
    assert S.get_registered_object("hlp", kind="fake_kind") is helper
    assert S.get_registered_object("Other", kind="fake_kind") is sub.Other
    with pytest.raises(S.UnknownObjectError, match="register_serializable"):
        S.get_registered_object("Hidden", kind="fake_kind")  # the excluded module stays out
    with pytest.raises(S.UnknownObjectError, match="Did you mean 'helper'"):
        S.get_registered_object("helpr", kind="fake_kind")  # close-match hint
    assert S.get_registered_name(Thing) == "Thing"  # the first name an object was registered under


def test_a_fresh_interpreter_resolves_every_kind_without_lamina_saving():
    """The catalogues enter the registry when their packages load (lamina.layers, lamina.models): a model config
    naming an activation or a loss resolves in a fresh interpreter. (``import lamina`` now imports lamina.saving
    too, as ``keras.saving`` is an attribute of ``keras``; the registration does not depend on it.)"""
    import subprocess
    import sys

    code = ("import sys, lamina\n"
            "from lamina.core import serialization as S\n"
            "assert S.get_registered_object('relu', kind='activations') is lamina.activations.relu\n"
            "assert S.get_registered_object('Dense', kind='layers') is lamina.layers.Dense\n"
            "assert S.get_registered_object('Sequential', kind='layers') is lamina.Sequential\n"
            "assert S.get_registered_object('MeanSquaredError', kind='losses') is lamina.losses.MeanSquaredError\n"
            "assert S.get_registered_object('CosineDecay', kind='schedules') is not None\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_registry_tables_fall_back_to_registered_and_scoped_custom_objects():
    from lamina.core.registry import Registry

    table = Registry("widget")

    @S.register_serializable(package="fallback_a")
    def fb_unique(x):
        return x

    @S.register_serializable(package="fallback_a")
    def fb_twice(x):
        return x

    @S.register_serializable(package="fallback_b", name="fb_twice")
    def fb_twice_b(x):
        return x

    assert table.get("fallback_a>fb_unique") is fb_unique
    assert table.get("fb_unique") is fb_unique  # the one registered object of that short name
    with pytest.raises(ValueError, match="Unknown widget 'fb_twice'"):
        table.get("fb_twice")  # two packages hold it: ambiguous, refused
    assert table.get("fallback_b>fb_twice") is fb_twice_b
    with pytest.raises(ValueError, match="Unknown widget 'fb_scoped'"):
        table.get("fb_scoped")
    with S.custom_object_scope({"fb_scoped": fb_twice}):
        assert table.get("fb_scoped") is fb_twice


def test_find_registered_object_and_get_custom_objects():
    @S.register_serializable(package="find")
    def found(x):
        return x

    assert S.find_registered_object("find>found") is found
    assert S.find_registered_object("find>missing") is None
    assert S.find_registered_object("m", module_objects={"m": len}) is len
    assert S.find_registered_object("m", custom_objects={"m": abs}, module_objects={"m": len}) is abs
    assert S.get_custom_objects() is S.get_custom_objects() and S.get_custom_objects()["find>found"] is found
