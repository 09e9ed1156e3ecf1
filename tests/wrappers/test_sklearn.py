"""lamina.wrappers against keras.wrappers (Keras 3.15, torch backend): the same scikit-learn code, with only
``import lamina as keras`` changed, builds the same models, hands them the same targets and gives the same
predictions and scores.

Models start from the same weights in both frameworks (``set_weights`` from one NumPy generator) and train on
the full batch without shuffling, so the comparisons are exact up to float32 rounding.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone, is_classifier, is_regressor  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import lamina  # noqa: E402
from lamina.wrappers import SKLearnClassifier  # noqa: E402

NAMES = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]
# Full batch, no shuffling, silent: training is a deterministic function of the initial weights.
FIT = {"epochs": 2, "batch_size": 64, "shuffle": False, "verbose": 0}


def frameworks(keras):
    """(name, the framework, its wrappers module): the same code runs with each."""
    return [("keras", keras, keras.wrappers), ("lamina", lamina, lamina.wrappers)]


def _weights(model, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in model.get_weights()]


def builder(K, kind: str, seen: dict | None = None):
    """A model-building callable as Keras documents it: ``build(X, y, **model_kwargs)``, shapes from the data."""

    def build(X, y, units=8, lr=0.1):
        if seen is not None:
            seen["X"], seen["y"] = X, y
        model = K.Sequential([K.Input((X.shape[1],)), K.layers.Dense(units, activation="tanh"),
                              K.layers.Dense(y.shape[1], activation="softmax" if kind == "classifier" else None)])
        model.compile(loss="categorical_crossentropy" if kind == "classifier" else "mse",
                      optimizer=K.optimizers.SGD(lr))
        model.set_weights(_weights(model))
        return model

    return build


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(36, 4)).astype("float32")
    labels = np.array(["ant", "bee", "cat"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)]
    target = (X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1).astype("float32")
    return X, labels, target


def _quiet(fn, *args):
    """Call ``fn`` (predict, score, ...): both frameworks print Model.predict's progress line, as Keras does."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


# ---------------------------------------------------------------------------------------------- the API
def _params(fn) -> list[tuple]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", NAMES)
def test_signature_bases_and_tags_match_keras(keras, name):
    ours, theirs = getattr(lamina.wrappers, name), getattr(keras.wrappers, name)
    assert _params(ours.__init__) == _params(theirs.__init__)
    ours_est, theirs_est = ours(model=None), theirs(model=None)
    assert ours_est.get_params() == theirs_est.get_params()
    assert is_classifier(ours_est) == is_classifier(theirs_est)
    assert is_regressor(ours_est) == is_regressor(theirs_est)
    for base in (sklearn.base.ClassifierMixin, sklearn.base.RegressorMixin, sklearn.base.TransformerMixin):
        assert issubclass(ours, base) == issubclass(theirs, base)
    assert ours_est.__sklearn_tags__() == theirs_est.__sklearn_tags__()
    public = {m for m in dir(theirs) if not m.startswith("_")}
    assert public <= {m for m in dir(ours) if not m.startswith("_")}
    assert hasattr(ours_est, "predict_proba") == hasattr(theirs_est, "predict_proba") is False
    assert ours_est.epoch_ == 0


def test_set_params_and_clone_keep_every_parameter():
    est = SKLearnClassifier(model=builder(lamina, "classifier"), model_kwargs={"units": 4}, fit_kwargs=dict(FIT))
    copy = clone(est.set_params(warm_start=True, model_kwargs={"units": 6}))
    assert copy is not est and copy.get_params() == est.get_params()
    assert copy.get_params()["fit_kwargs"] == FIT  # (Keras's own clone drops fit_kwargs)
    model = builder(lamina, "classifier")(np.zeros((2, 4)), np.eye(2))
    copied = clone(SKLearnClassifier(model)).model
    assert copied is not model and [w.shape for w in copied.get_weights()] == [w.shape for w in model.get_weights()]


# ---------------------------------------------------------------------------------------------- same results
def test_classifier_matches_keras(keras, data):
    X, labels, _ = data
    results = {}
    for name, K, W in frameworks(keras):
        seen: dict = {}
        est = W.SKLearnClassifier(model=builder(K, "classifier", seen), model_kwargs={"units": 5}, fit_kwargs=FIT)
        assert est.fit(X, labels) is est
        results[name] = (seen, est.classes_, _quiet(est.predict, X), _quiet(est.decision_function, X),
                         _quiet(est.score, X, labels), est.history_.history["loss"], est.n_features_in_)
        if name == "lamina":  # (Keras's epoch_ raises AttributeError once fitted: it reads History as a dict)
            assert est.epoch_ == 2
        assert set(vars(est)) >= {"model_", "history_", "classes_", "n_features_in_"}
    (k_seen, k_classes, k_pred, k_dec, k_score, k_loss, k_n), (seen, classes, pred, dec, score, loss, n) = (
        results["keras"], results["lamina"])
    # The builder sees the validated X and one-hot float64 targets, as in Keras.
    np.testing.assert_array_equal(seen["X"], k_seen["X"])
    assert seen["y"].dtype == k_seen["y"].dtype and seen["y"].shape == (36, 3)
    np.testing.assert_array_equal(seen["y"], k_seen["y"])
    np.testing.assert_array_equal(classes, k_classes)
    assert pred.dtype == k_pred.dtype and pred.shape == (36,)
    np.testing.assert_array_equal(pred, k_pred)
    np.testing.assert_allclose(dec, k_dec, atol=1e-5)
    np.testing.assert_allclose(loss, k_loss, rtol=1e-5)
    assert score == k_score and n == k_n == 4


def test_classifier_binary_integer_labels_match_keras(keras, data):
    X, _, target = data
    y = np.where(target > 0, 7, 3)
    out = []
    for _, K, W in frameworks(keras):
        est = W.SKLearnClassifier(builder(K, "classifier"), fit_kwargs=FIT).fit(X, y)
        out.append((est.classes_, _quiet(est.predict, X), _quiet(est.decision_function, X).shape))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    assert out[0][2] == out[1][2] == (36, 2)


def test_regressor_matches_keras(keras, data):
    X, _, y = data
    out = []
    for _, K, W in frameworks(keras):
        seen: dict = {}
        est = W.SKLearnRegressor(builder(K, "regressor", seen), fit_kwargs=FIT).fit(X, y)
        out.append((seen["y"].shape, _quiet(est.predict, X), _quiet(est.score, X, y)))
    assert out[0][0] == out[1][0] == (36, 1)  # a 1-D target reaches the model as one column
    assert out[0][1].shape == out[1][1].shape == (36,) and out[1][1].dtype == out[0][1].dtype
    np.testing.assert_allclose(out[1][1], out[0][1], rtol=1e-5, atol=1e-5)
    assert out[1][2] == pytest.approx(out[0][2], abs=1e-5)


def test_transformer_in_a_pipeline_matches_keras(keras, data):
    X, labels, y = data
    codes = np.unique(labels, return_inverse=True)[1]  # the transformer's model trains on numbers (mse)
    out = []
    for _, K, W in frameworks(keras):
        trs = W.SKLearnTransformer(builder(K, "regressor"), model_kwargs={"units": 6}, fit_kwargs=FIT)
        embedding = _quiet(trs.fit_transform, X, y)
        pipe = make_pipeline(W.SKLearnTransformer(builder(K, "regressor"), fit_kwargs=FIT), LogisticRegression())
        pipe.fit(X, codes)
        out.append((embedding, _quiet(trs.transform, X), _quiet(pipe.predict, X)))
    assert out[0][0].shape == out[1][0].shape == (36, 1)
    np.testing.assert_allclose(out[1][0], out[0][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[1][1], out[1][0])
    np.testing.assert_array_equal(out[1][2], out[0][2])


def test_pipeline_matches_keras(keras, data):
    X, labels, _ = data
    out = []
    for _, K, W in frameworks(keras):
        pipe = make_pipeline(StandardScaler(), W.SKLearnClassifier(builder(K, "classifier"), fit_kwargs=FIT))
        pipe.fit(X, labels)
        out.append((_quiet(pipe.predict, X), _quiet(pipe.score, X, labels)))
    np.testing.assert_array_equal(out[1][0], out[0][0])
    assert out[1][1] == out[0][1]


def test_grid_search_matches_keras(keras, data):
    X, labels, _ = data
    # fit_kwargs is in the grid: Keras's clone (which GridSearchCV uses) drops a fixed fit_kwargs.
    grid = {"model_kwargs": [{"units": 3}, {"units": 6}],
            "fit_kwargs": [{**FIT, "epochs": 1}, {**FIT, "epochs": 2}]}
    out = []
    for _, K, W in frameworks(keras):
        search = GridSearchCV(W.SKLearnClassifier(builder(K, "classifier")), grid, cv=2)
        _quiet(search.fit, X, labels)
        out.append((search.cv_results_["mean_test_score"], search.best_params_, _quiet(search.predict, X)))
    np.testing.assert_allclose(out[1][0], out[0][0])
    assert out[1][1] == out[0][1]
    np.testing.assert_array_equal(out[1][2], out[0][2])


# ---------------------------------------------------------------------------------------------- fit's arguments
def test_fit_arguments_take_precedence_over_fit_kwargs(keras, data):
    X, labels, _ = data
    for _, K, W in frameworks(keras):
        est = W.SKLearnClassifier(builder(K, "classifier"), fit_kwargs={**FIT, "epochs": 1}).fit(X, labels, epochs=3)
        assert est.history_.epoch == [0, 1, 2]
    fit_kwargs = {**FIT, "epochs": 1}
    SKLearnClassifier(builder(lamina, "classifier"), fit_kwargs=fit_kwargs).fit(X, labels, epochs=3)
    assert fit_kwargs["epochs"] == 1  # parameters are never modified (Keras writes fit's arguments into them)


def test_a_model_instance_is_cloned_and_compiled_like_keras(keras, data):
    X, labels, _ = data
    for _, K, W in frameworks(keras):
        model = builder(K, "classifier")(X, np.eye(3))
        before = model.get_weights()
        est = W.SKLearnClassifier(model, fit_kwargs=FIT).fit(X, labels)
        assert est.model_ is not model and est.model_.compiled
        assert est.model_.optimizer is not model.optimizer
        assert type(est.model_.optimizer).__name__ == "SGD"
        # the given model is untouched
        assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
        _quiet(est.predict, X)


def test_warm_start_goes_on_training_the_same_model(data):
    X, labels, _ = data
    est = SKLearnClassifier(builder(lamina, "classifier"), warm_start=True, fit_kwargs={**FIT, "epochs": 1})
    first = est.fit(X, labels).model_
    after_one = first.get_weights()
    assert est.fit(X, labels).model_ is first
    two_in_a_row = SKLearnClassifier(builder(lamina, "classifier"), fit_kwargs=FIT).fit(X, labels).model_
    for a, b, c in zip(two_in_a_row.get_weights(), first.get_weights(), after_one, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
        assert not np.array_equal(b, c)
    with pytest.raises(ValueError, match="not seen in the first fit"):
        est.fit(X, np.where(labels == "ant", "dog", labels))
    cold = SKLearnClassifier(builder(lamina, "classifier"), fit_kwargs=FIT)
    assert cold.fit(X, labels).model_ is not cold.fit(X, labels).model_
    given = builder(lamina, "classifier")(X, np.eye(3))
    assert SKLearnClassifier(given, warm_start=True, fit_kwargs=FIT).fit(X, labels).model_ is given


# ---------------------------------------------------------------------------------------------- errors
def _error(fn):
    try:
        _quiet(fn)
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return type(e)
    return None


@pytest.mark.parametrize("case", ["not_fitted", "continuous_labels", "one_class", "uncompiled", "features",
                                  "y_none", "string_regression_target"])
def test_errors_have_keras_s_types(keras, data, case):
    X, labels, y = data
    errors = []
    for _, K, W in frameworks(keras):
        clf = W.SKLearnClassifier(builder(K, "classifier"), fit_kwargs=FIT)

        def uncompiled(X, y, K=K):
            return K.Sequential([K.Input((X.shape[1],)), K.layers.Dense(y.shape[1])])

        fn = {
            "not_fitted": lambda clf=clf: clf.predict(X),
            "continuous_labels": lambda clf=clf: clf.fit(X, y),
            "one_class": lambda clf=clf: clf.fit(X, np.zeros(36)),
            "uncompiled": lambda W=W, u=uncompiled: W.SKLearnClassifier(u, fit_kwargs=FIT).fit(X, labels),
            "features": lambda clf=clf: clf.fit(X, labels).predict(X[:, :3]),
            "y_none": lambda clf=clf: clf.fit(X, None),
            "string_regression_target": lambda K=K, W=W: W.SKLearnRegressor(
                builder(K, "regressor"), fit_kwargs=FIT).fit(X, labels),
        }[case]
        errors.append(_error(fn))
    assert errors[0] is not None
    assert issubclass(errors[1], errors[0]), errors
    if case == "not_fitted":
        assert errors[1] is NotFittedError


def test_metadata_routing_sends_sample_weight_to_fit(data):
    X, labels, _ = data
    est = SKLearnClassifier(builder(lamina, "classifier"), fit_kwargs=FIT)
    with pytest.raises(RuntimeError, match="enable_metadata_routing"):
        est.set_fit_request(sample_weight=True)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False),
                             est.set_fit_request(sample_weight=True))
        zero_weights = pipe.fit(X, labels, sample_weight=np.zeros(36))[-1]
    assert zero_weights.history_.history["loss"][0] == 0.0


# ---------------------------------------------------------------------------------------------- scikit-learn's checks
# The checks Keras 3.15's own wrappers fail with this builder and scikit-learn 1.9: a fresh random model per fit
# (idempotence, same data as list/array, y as a column, int X) and accuracy after one epoch on sklearn's data.
KERAS_FAILS = {
    "SKLearnClassifier": {"check_classifier_data_not_an_array", "check_classifiers_one_label_sample_weights",
                          "check_classifiers_classes", "check_classifiers_train", "check_supervised_y_2d",
                          "check_fit_idempotent"},
    "SKLearnRegressor": {"check_regressor_data_not_an_array", "check_supervised_y_2d", "check_regressors_int",
                         "check_fit_idempotent"},
    "SKLearnTransformer": {"check_fit_idempotent"},
}


def _random_builder(X, y, kind):
    model = lamina.Sequential([lamina.Input((X.shape[1],)), lamina.layers.Dense(8, activation="relu"),
                               lamina.layers.Dense(y.shape[1], activation="softmax" if kind == "c" else None)])
    model.compile(loss="categorical_crossentropy" if kind == "c" else "mse", optimizer="adam")
    return model


@pytest.mark.parametrize("name", NAMES)
def test_sklearn_estimator_checks_pass_where_keras_s_do(name):
    from sklearn.utils.estimator_checks import check_estimator

    est = getattr(lamina.wrappers, name)(_random_builder, model_kwargs={"kind": name[7].lower()},
                                         fit_kwargs={"epochs": 1, "verbose": 0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(est, on_fail=None)
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    assert len(results) > 40
    assert failed <= KERAS_FAILS[name], failed - KERAS_FAILS[name]


# ---------------------------------------------------------------------------------------------- without scikit-learn
def test_without_sklearn_import_works_and_creating_a_wrapper_says_what_to_install():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "import lamina, lamina.wrappers\n"
        "from lamina.wrappers import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer\n"
        "for cls in (SKLearnClassifier, SKLearnRegressor, SKLearnTransformer):\n"
        "    try:\n"
        "        cls(model=None)\n"
        "    except ImportError as e:\n"
        "        print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    assert len(lines) == 3 and all("pip install scikit-learn" in line for line in lines)
    assert lines[0].startswith("SKLearnClassifier requires scikit-learn")
