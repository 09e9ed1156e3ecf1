"""Models shared by the doctor's tests."""

import lamina


def readme_classifier(learning_rate=1e-3, hidden_activation="relu", **dense_kwargs):
    """The README's Fashion-MNIST MLP (Flatten, Dense(32, relu), Dense(10, softmax)), compiled with Adam."""
    model = lamina.Sequential([lamina.Input((28, 28, 1)), lamina.layers.Flatten(),
                               lamina.layers.Dense(32, activation=hidden_activation, **dense_kwargs),
                               lamina.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=lamina.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
