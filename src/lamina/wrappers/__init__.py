"""scikit-learn wrappers for lamina models, Keras's ``keras.wrappers``: ``SKLearnClassifier``,
``SKLearnRegressor`` and ``SKLearnTransformer`` make a compiled model (or a function building one for the
data) a scikit-learn estimator, for ``Pipeline``, ``GridSearchCV``, ``cross_val_score`` and ``clone``.

scikit-learn is optional (``pip install lamina[sklearn]``): this package imports without it, and creating a
wrapper then raises an ImportError saying to ``pip install scikit-learn``.

>>> import lamina
>>> from lamina.wrappers import SKLearnClassifier
>>> SKLearnClassifier(model=lambda X, y: None, fit_kwargs={"epochs": 2}).get_params()["fit_kwargs"]
{'epochs': 2}
"""

from lamina.wrappers.classifier import SKLearnClassifier
from lamina.wrappers.regressor import SKLearnRegressor
from lamina.wrappers.transformer import SKLearnTransformer

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]
