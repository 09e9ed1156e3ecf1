"""A custom ``train_step``: a small GAN on Fashion-MNIST with two optimizers, written in plain PyTorch inside
lamina's ``fit`` (callbacks, metrics, the progress bar and History keep working).

    python examples/custom_train_step.py              # 3 epochs on 20,000 images
    python examples/custom_train_step.py --epochs 1 --samples 2000
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

import lamina as keras
from lamina import layers
from lamina.datasets import fashion_mnist

LATENT = 32


def make_generator() -> keras.Model:
    return keras.Sequential([layers.Input(shape=(LATENT,)), layers.Dense(7 * 7 * 32), layers.LeakyReLU(0.2),
                             layers.Reshape((7, 7, 32)), layers.Conv2DTranspose(32, 4, strides=2, padding="same"),
                             layers.LeakyReLU(0.2), layers.Conv2DTranspose(16, 4, strides=2, padding="same"),
                             layers.LeakyReLU(0.2), layers.Conv2D(1, 5, padding="same", activation="sigmoid")],
                            name="generator")


def make_discriminator() -> keras.Model:
    return keras.Sequential([layers.Input(shape=(28, 28, 1)), layers.Conv2D(32, 3, strides=2, padding="same"),
                             layers.LeakyReLU(0.2), layers.Conv2D(64, 3, strides=2, padding="same"),
                             layers.LeakyReLU(0.2), layers.GlobalMaxPooling2D(), layers.Dense(1)],
                            name="discriminator")


class GAN(keras.Model):
    """Two networks, two optimizers, one ``fit``: ``train_step`` does what a PyTorch GAN loop does per batch."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        # Metric attributes are tracked: fit resets them each epoch and shows them in the progress bar.
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_accuracy = keras.metrics.BinaryAccuracy(name="d_real_acc", threshold=0.0)

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def call(self, noise, training=None):
        return self.generator(noise, training=training)

    def train_step(self, data):
        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch = real.shape[0]

        # 1. the discriminator: real images are 1, generated ones 0
        noise = torch.randn(batch, LATENT, device=real.device)
        fake = self.generator(noise, training=True).detach()
        logits_real = self.discriminator(real, training=True)
        logits_fake = self.discriminator(fake, training=True)
        d_loss = (F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
                  + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake)))
        d_weights = self.discriminator.trainable_weights
        self.discriminator.zero_grad()
        d_loss.backward()
        self.d_optimizer.apply([w.grad for w in d_weights], d_weights)

        # 2. the generator: make the discriminator say 1
        noise = torch.randn(batch, LATENT, device=real.device)
        logits = self.discriminator(self.generator(noise, training=True), training=True)
        g_loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        g_weights = self.generator.trainable_weights
        self.generator.zero_grad()
        g_loss.backward()
        self.g_optimizer.apply([w.grad for w in g_weights], g_weights)

        self.d_loss_tracker.update_state(d_loss.detach())
        self.g_loss_tracker.update_state(g_loss.detach())
        self.real_accuracy.update_state(torch.ones_like(logits_real), logits_real.detach())
        return {m.name: m.result() for m in (self.d_loss_tracker, self.g_loss_tracker, self.real_accuracy)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    (x_train, _), _ = fashion_mnist.load_data()
    images = (x_train[: args.samples].reshape(-1, 28, 28, 1) / 255).astype(np.float32)

    gan = GAN(make_generator(), make_discriminator())
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    stop_if_broken = keras.callbacks.TerminateOnNaN()
    history = gan.fit(images, epochs=args.epochs, batch_size=128, callbacks=[stop_if_broken])
    samples = gan.predict(np.random.default_rng(0).normal(size=(8, LATENT)).astype(np.float32), verbose=0)
    print("history:", {k: [round(v, 4) for v in vals] for k, vals in history.history.items()})
    print(f"generated {samples.shape[0]} images of shape {samples.shape[1:]}, pixel mean {samples.mean():.3f} "
          f"(real images: {images.mean():.3f})")


if __name__ == "__main__":
    main()
