"""lamina.core.registry: name -> object lookups, case-insensitive, with errors that suggest close names."""

from __future__ import annotations

import difflib

import pytest

from lamina.core.registry import Registry, unknown_name_message


def relu(x):
    return x


def sigmoid(x):
    return x


@pytest.fixture
def reg():
    r = Registry("activation")
    r.register("relu", relu)
    r.register("sigmoid", sigmoid, aliases=("logistic", "Sigm"))
    return r


def test_register_returns_the_object_and_get_finds_it(reg):
    assert reg.register("softplus", abs) is abs
    assert reg.get("softplus") is abs
    assert reg.get("relu") is relu


@pytest.mark.parametrize("name", ["relu", "RELU", "ReLU", "rElU"])
def test_lookup_is_case_insensitive(reg, name):
    assert reg.get(name) is relu
    assert name in reg


def test_registration_is_case_insensitive():
    r = Registry("optimizer")
    r.register("AdamW", object)
    assert r.get("adamw") is object
    assert r.get("ADAMW") is object


def test_aliases_point_to_the_same_object(reg):
    assert reg.get("sigmoid") is sigmoid
    assert reg.get("logistic") is sigmoid
    assert reg.get("sigm") is sigmoid
    assert reg.get("SIGM") is sigmoid


def test_names_lists_every_name_and_alias_sorted(reg):
    assert reg.names() == ["logistic", "relu", "sigm", "sigmoid"]


def test_contains_rejects_unknown_names_and_non_strings(reg):
    assert "tanh" not in reg
    assert None not in reg
    assert 3 not in reg


def test_decorator_form_with_names_and_aliases():
    r = Registry("loss")

    @r("mean_squared_error", "mse", "MSE_alias")
    def mean_squared_error(y_true, y_pred):
        return 0

    assert mean_squared_error.__name__ == "mean_squared_error"  # the decorator returns the function itself
    assert r.get("mean_squared_error") is mean_squared_error
    assert r.get("MSE") is mean_squared_error
    assert r.get("mse_alias") is mean_squared_error


def test_decorator_form_without_names_uses_the_object_name():
    r = Registry("layer")

    @r()
    class DenseThing:
        pass

    assert r.get("densething") is DenseThing
    assert r.get("DenseThing") is DenseThing
    assert r.names() == ["densething"]


def test_decorated_classes_stay_classes():
    r = Registry("optimizer")

    @r("sgd")
    class SGD:
        def __init__(self, lr=0.1):
            self.lr = lr

    assert isinstance(SGD, type)
    assert r.get("SGD")(lr=0.5).lr == 0.5


def test_unknown_name_raises_with_close_matches_and_all_names(reg):
    with pytest.raises(ValueError) as info:
        reg.get("sigmod")
    msg = str(info.value)
    assert "activation" in msg
    assert "'sigmod'" in msg
    # The close matches difflib finds are suggested; every known name is listed.
    close = difflib.get_close_matches("sigmod", reg.names(), n=3, cutoff=0.6)
    assert close and all(repr(c) in msg for c in close)
    assert "Did you mean" in msg
    for name in reg.names():
        assert name in msg


def test_close_matches_are_case_insensitive(reg):
    with pytest.raises(ValueError, match="Did you mean 'relu'"):
        reg.get("RELUU")


def test_unknown_name_without_close_match_lists_the_names_only(reg):
    with pytest.raises(ValueError) as info:
        reg.get("zzzzzzzz")
    msg = str(info.value)
    assert "Did you mean" not in msg
    assert "logistic, relu, sigm, sigmoid" in msg


@pytest.mark.parametrize("bad", [None, 3, 1.5])
def test_non_string_names_raise_value_error(reg, bad):
    with pytest.raises(ValueError, match="Unknown activation"):
        reg.get(bad)


def test_empty_registry_error():
    with pytest.raises(ValueError, match="Unknown metric 'acc'"):
        Registry("metric").get("acc")


def test_unknown_name_message_is_a_pure_function():
    msg = unknown_name_message("optimizer", "adm", ["adam", "adamw", "sgd"])
    assert msg.startswith("Unknown optimizer 'adm'.")
    assert "'adam'" in msg
    assert "'sgd'" not in msg  # sgd is no close match, only listed
    assert msg.endswith("Known optimizer names: adam, adamw, sgd.")
