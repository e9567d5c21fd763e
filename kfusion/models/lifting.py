"""The lifting baseline of Martinez et al. (ICCV 2017): 2D joints -> 3D pose with residual MLPs.

Dense(units) -> ``blocks`` residual blocks of 2 x (Dense, BatchNorm, ReLU, Dropout) -> Dense(3 J).
"""
import keras
import numpy as np

PRESETS = {
    "paper": {"units": 1024, "blocks": 2, "dropout": 0.5},  # Martinez et al.: about 4.3 M parameters
    "cpu": {"units": 256, "blocks": 2, "dropout": 0.5},
    "tiny": {"units": 16, "blocks": 1, "dropout": 0.5},
}


def build_lifting_baseline(num_joints_2d=16, num_joints_3d=17, units=None, blocks=None, dropout=None, *,
                           preset="paper", seed=None, name="lifting_baseline", output_scale=1000.0,
                           input_stats=None, output_stats=None):
    """Build the lifting baseline as a functional ``keras.Model``.

    Args:
        num_joints_2d: J2 of the input ``joints_2d`` (16 for mpii16).
        num_joints_3d: J3 of the output ``pose_3d`` (17 for h36m17).
        units, blocks, dropout: width, residual blocks and dropout rate (None: the preset's).
        preset: "paper" (1024 units, 2 blocks, dropout 0.5), "cpu" (256 units) or "tiny".
        seed: int seed of the initialisers and dropout (None: Keras' global RNG).
        output_scale: millimetres per unit of the output dense layer (1000: it predicts metres).
        input_stats: None, or (mean, std) of the inputs, each (J2, 2): the model standardises its
            input with them (Martinez et al.'s per-coordinate normalisation over the training set;
            then ``joints_2d`` may be raw pixels).
        output_stats: None, or (mean, std) (J3, 3) mm of the targets: the output layer predicts
            standardised coordinates, mapped back to mm (replaces ``output_scale``).

    Returns:
        ``keras.Model`` with input ``joints_2d`` (B, J2, 2) float32 (normalised crop coordinates,
        e.g. crop pixels / S * 2 - 1) and output ``pose_3d`` (B, J3, 3) float32, millimetres,
        root-relative.
    """
    if preset not in PRESETS:
        raise ValueError(f"build_lifting_baseline: preset is {preset!r}; expected one of {list(PRESETS)}")
    config = dict(PRESETS[preset])
    for key, value in (("units", units), ("blocks", blocks), ("dropout", dropout)):
        if value is not None:
            config[key] = value
    units, blocks, rate = int(config["units"]), int(config["blocks"]), float(config["dropout"])
    if units < 1 or blocks < 0 or not 0 <= rate < 1:
        raise ValueError(f"build_lifting_baseline: units {units}, blocks {blocks}, dropout {rate}; "
                         "expected units >= 1, blocks >= 0, dropout in [0, 1)")
    count = [0]

    def next_seed():
        count[0] += 1
        return None if seed is None else int(seed) * 1000 + count[0]

    def dense(n, layer_name):
        # Martinez et al. use Kaiming initialisation and max-norm 1 on the weights
        return keras.layers.Dense(n, kernel_initializer=keras.initializers.HeNormal(next_seed()),
                                  kernel_constraint=keras.constraints.MaxNorm(1.0), name=layer_name)

    joints = keras.Input((int(num_joints_2d), 2), name="joints_2d")
    x = keras.layers.Flatten(name="flatten")(joints)
    if input_stats is not None:
        mean, std = (np.asarray(v, np.float32).reshape(-1) for v in input_stats)
        x = keras.layers.Normalization(mean=mean, variance=np.square(std), name="in_standardise")(x)
    x = dense(units, "in_dense")(x)
    x = keras.layers.BatchNormalization(name="in_bn")(x)
    x = keras.layers.ReLU(name="in_relu")(x)
    x = keras.layers.Dropout(rate, seed=next_seed(), name="in_dropout")(x)
    for b in range(blocks):
        y = x
        for k in range(2):
            y = dense(units, f"block{b}_dense{k}")(y)
            y = keras.layers.BatchNormalization(name=f"block{b}_bn{k}")(y)
            y = keras.layers.ReLU(name=f"block{b}_relu{k}")(y)
            y = keras.layers.Dropout(rate, seed=next_seed(), name=f"block{b}_dropout{k}")(y)
        x = keras.layers.Add(name=f"block{b}_add")([x, y])
    x = keras.layers.Dense(3 * int(num_joints_3d), kernel_initializer=keras.initializers.HeNormal(next_seed()),
                           name="out_dense")(x)
    if output_stats is not None:
        mean, std = (np.asarray(v, np.float32).reshape(-1) for v in output_stats)
        x = keras.layers.Normalization(mean=mean, variance=np.square(std), invert=True, name="out_to_mm")(x)
    else:
        x = keras.layers.Rescaling(output_scale, name="out_to_mm")(x)  # the dense layer predicts metres
    pose = keras.layers.Reshape((int(num_joints_3d), 3), name="pose_3d", dtype="float32")(x)
    return keras.Model(joints, pose, name=name)
