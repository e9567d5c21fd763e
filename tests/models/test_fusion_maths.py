"""The fusion maths checked against the formulas (Tekin et al. 2017, Eq. 3 and 4) and the scale
of the pose loss that lambda = 5e3 is balanced against (the authors' code)."""
import numpy as np
import pytest
import tensorflow as tf

import keras

from kfusion.models.fusion import build_fusion_network
from kfusion.models.fusion_layer import FusionWeights
from kfusion.models.losses import pose_loss
from kfusion.train.step import TrainingModel


def _penalty_and_grads(alpha, beta, penalty):
    layer = FusionWeights(5, mode="trainable", alpha_init=alpha, beta_init=beta, penalty=penalty)
    layer.build()
    with tf.GradientTape() as tape:
        layer(tf.zeros((1, 1)))
        loss = tf.add_n(layer.losses)
    return loss, tape.gradient(loss, [layer.alpha, layer.beta])


@pytest.mark.parametrize("alpha,lam", [(0.1, 5e3), (0.37, 2.0), (2.5, 1e4)])
def test_penalty_value_and_exact_gradient_in_alpha(alpha, lam):
    loss, (g_alpha, g_beta) = _penalty_and_grads(alpha, 1.3, lam)
    np.testing.assert_allclose(float(loss), lam / alpha ** 2, rtol=1e-5)
    # d(lambda / alpha^2) / d alpha = -2 lambda / alpha^3 (about -1e7 at the paper's 0.1): the
    # gradient that pulls alpha up; zero if the penalty were cut off by stop_gradient
    assert g_alpha is not None
    np.testing.assert_allclose(float(g_alpha), -2.0 * lam / alpha ** 3, rtol=1e-5)
    # the penalty does not depend on beta
    assert g_beta is None or float(g_beta) == 0.0


@pytest.mark.parametrize("alpha,beta", [(0.1, 3.1), (1.7, 2.0), (-0.8, 0.5), (50.0, 2.5)])
def test_weights_are_sigmoid_of_alpha_times_l_minus_beta(alpha, beta):
    L = 6
    layer = FusionWeights(L, mode="trainable", alpha_init=alpha, beta_init=beta, penalty=0.0)
    w = layer(tf.zeros((1, 1))).numpy()
    l = np.arange(L, dtype=np.float64)
    expected = 1.0 / (1.0 + np.exp(-alpha * (l - beta)))
    np.testing.assert_allclose(w, expected, rtol=1e-6, atol=1e-7)
    assert not layer.losses  # penalty 0: no loss added


def test_weights_follow_assigned_variables():
    layer = FusionWeights(4, mode="trainable", alpha_init=0.1, beta_init=0.0, penalty=1.0)
    layer.build()
    layer.alpha.assign(3.0)
    layer.beta.assign(1.5)
    expected = 1.0 / (1.0 + np.exp(-3.0 * (np.arange(4) - 1.5)))
    np.testing.assert_allclose(layer.fusion_weights().numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(float(layer.penalty_loss()), 1.0 / 9.0, rtol=1e-6)


def test_pose_loss_is_half_sum_of_squares_per_pose_in_mm2():
    rng = np.random.default_rng(0)
    y_true = rng.normal(0, 300, (4, 17, 3)).astype(np.float32)
    d = rng.normal(0, 20, (4, 17, 3)).astype(np.float32)
    per_pose = pose_loss(y_true, y_true + d).numpy()
    assert per_pose.shape == (4,)
    np.testing.assert_allclose(per_pose, 0.5 * (d.astype(np.float64) ** 2).sum(axis=(1, 2)), rtol=1e-4)


def _identity_model(j=17):
    inp = keras.Input((j, 3))
    return keras.Model(inp, keras.layers.Identity()(inp))


def test_compiled_pose_loss_is_the_batch_mean_of_the_per_pose_loss():
    rng = np.random.default_rng(1)
    y_true = rng.normal(0, 300, (6, 17, 3)).astype(np.float32)
    d = rng.normal(0, 10, (6, 17, 3)).astype(np.float32)
    hand = float(np.mean(0.5 * (d.astype(np.float64) ** 2).sum(axis=(1, 2))))  # mm^2
    model = _identity_model()
    model.compile(loss=pose_loss)
    y_pred = y_true + d
    got = float(model.compute_loss(x=y_pred, y=y_true, y_pred=tf.constant(y_pred)))
    np.testing.assert_allclose(got, hand, rtol=1e-4)
    np.testing.assert_allclose(model.evaluate(y_pred, y_true, batch_size=6, verbose=0), hand, rtol=1e-4)


def test_training_model_loss_is_data_loss_plus_lambda_over_alpha_squared():
    """The step's loss is 0.5 mean_B sum (y_hat - y)^2 + lambda / alpha^2: the authors' balance."""
    keras.utils.set_random_seed(0)
    net = build_fusion_network("tiny", "trainable", alpha_init=0.1, penalty=5e3, seed=0)
    model = TrainingModel(net)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=pose_loss)
    rng = np.random.default_rng(2)
    x = {"image": rng.random((3, 20, 20, 3), dtype=np.float32),
         "heatmaps": rng.random((3, 20, 20, 16), dtype=np.float32)}
    y = rng.normal(0, 200, (3, 17, 3)).astype(np.float32)
    y_pred = model(x, training=False)
    data = float(np.mean(0.5 * ((y_pred.numpy().astype(np.float64) - y) ** 2).sum(axis=(1, 2))))
    got = float(model.compute_loss(x=x, y=y, y_pred=y_pred, training=False))
    np.testing.assert_allclose(got, data + 5e3 / 0.1 ** 2, rtol=1e-5)
