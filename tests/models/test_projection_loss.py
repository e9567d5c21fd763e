"""The fusion stage's loss on packed targets: 3D where a pose has 3D, and for 2D-only photographs
the residual of the best scaled orthographic projection, the camera that the photo evaluation fits."""
import numpy as np

from kfusion.geometry import fit_orthographic
from kfusion.models.losses import MPJPE, NOMINAL_SPREAD_MM, pose_loss, projection_loss, teacher_loss


def _pose(seed=0, n=17):
    return np.random.default_rng(seed).normal(0, 300, (n, 3)).astype(np.float32)


def _packed(pose3d=None, uv=None, w2=None, n=17, teacher=None, wt=None):
    t = np.zeros((n, 8), np.float32)
    if pose3d is not None:
        t[:, :3], t[:, 3] = pose3d, 1.0
    if uv is not None:
        t[:, 4:6], t[:, 6] = uv, w2
    if teacher is not None:
        t[:, :3], t[:, 7] = teacher, wt
    return t


def _loss(*args):
    return np.asarray(projection_loss(*[np.asarray(a, np.float32)[None] for a in args]))[0]


def test_an_exact_projection_costs_nothing_however_scaled_and_shifted():
    pose = _pose()
    w = np.ones(17, np.float32)
    w[[0, 7, 8]] = 0  # some joints not labelled
    uv = 0.2 * pose[:, :2] + [60.0, 40.0]
    assert _loss(uv, w, pose) < 1e-3
    assert _loss(3.0 * uv + 7.0, w, pose) < 1e-3  # another crop of the same photo
    assert _loss(uv, w, 0.5 * pose) < 1e-3  # a smaller person, same shape
    moved = uv.copy()
    moved[0] += 500.0  # an unlabelled joint anywhere: not counted
    assert _loss(moved, w, pose) < 1e-3


def test_the_residual_is_that_of_the_evaluations_camera_in_nominal_mm():
    pose = _pose(1)
    uv = 0.2 * pose[:, :2] + np.random.default_rng(2).normal(0, 6, (17, 2)) + 50
    w = np.ones(17, np.float32)
    w[[3, 9]] = 0
    seen = w > 0
    residual = fit_orthographic(pose.astype(np.float64), uv, seen) - uv
    spread = np.sqrt(np.mean(np.sum((uv[seen] - uv[seen].mean(0)) ** 2, -1)))
    expected = 0.5 * np.sum((residual[seen] * NOMINAL_SPREAD_MM / spread) ** 2)
    np.testing.assert_allclose(_loss(uv, w, pose), expected, rtol=1e-4)
    # and invariant to the photo's scale: the same residual relative to the person's size
    np.testing.assert_allclose(_loss(4.0 * uv, w, pose), expected, rtol=1e-4)


def test_too_few_labelled_joints_add_nothing():
    pose = _pose(3)
    uv = np.random.default_rng(4).normal(0, 50, (17, 2))
    w = np.zeros(17, np.float32)
    w[:3] = 1
    assert _loss(uv, w, pose) == 0.0
    w[3] = 1
    assert _loss(uv, w, pose) > 0.0


def test_packed_targets_take_3d_where_there_is_3d_and_the_projection_where_there_is_2d():
    pred = np.stack([_pose(5), _pose(6)])
    truth = _pose(7)
    uv = 0.3 * _pose(8)[:, :2]
    w2 = np.ones(17, np.float32)
    packed = np.stack([_packed(pose3d=truth), _packed(uv=uv, w2=w2)])
    got = np.asarray(pose_loss(packed, pred))
    np.testing.assert_allclose(got[0], np.asarray(pose_loss(truth[None], pred[:1]))[0], rtol=1e-6)
    np.testing.assert_allclose(got[1], _loss(uv, w2, pred[1]), rtol=1e-6)


def test_the_projection_term_teaches_the_pose_toward_the_photo():
    import tensorflow as tf

    target = _pose(9)
    uv = 0.25 * target[:, :2] + 30
    pose = tf.Variable(_pose(10)[None])
    packed = _packed(uv=uv, w2=np.ones(17, np.float32))[None]
    opt = tf.keras.optimizers.Adam(5.0)
    first = None
    for _ in range(200):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(pose_loss(packed, pose))
        first = first if first is not None else float(loss)
        opt.apply_gradients([(tape.gradient(loss, pose), pose)])
    assert float(loss) < 0.01 * first


def test_mpjpe_counts_only_the_poses_with_3d():
    truth, pred = _pose(11), _pose(12)
    packed = np.stack([_packed(pose3d=truth), _packed(uv=np.zeros((17, 2)), w2=np.ones(17))])
    m = MPJPE()
    m.update_state(packed, np.stack([pred, pred + 1000.0]))
    expected = np.mean(np.linalg.norm(pred - truth, axis=-1))
    np.testing.assert_allclose(float(m.result()), expected, rtol=1e-5)


def test_the_loss_keeps_the_3d_form_for_plain_targets():
    truth, pred = _pose(13), _pose(14)
    np.testing.assert_allclose(np.asarray(pose_loss(truth[None], pred[None]))[0],
                               0.5 * np.sum((pred - truth) ** 2), rtol=1e-5)


def test_photos_pay_for_unequal_left_and_right_bones_renders_do_not():
    from kfusion import skeletons

    h36m = skeletons.get("h36m17")
    bones = h36m.mirrored_bones
    assert len(bones) == 6  # hip, thigh, shin, collar bone, upper arm, forearm
    pose = np.zeros((17, 3), np.float32)
    for j, p in enumerate(h36m.parents):  # a symmetric body: every right bone mirrors a left one
        if p >= 0:
            pose[j] = pose[p] + (np.array([100.0, 200.0, 0]) if h36m.joints[j].startswith("r_") else
                                 np.array([-100.0, 200.0, 0]) if h36m.joints[j].startswith("l_") else [0, -200.0, 0])
    uv = pose[:, :2]
    photo = _packed(uv=uv, w2=np.ones(17))[None]
    assert float(pose_loss(photo, pose[None], mirrored_bones=bones)[0]) < 1e-2
    longer = pose.copy()
    wrist, elbow = h36m.index("l_wrist"), h36m.index("l_elbow")
    longer[wrist] += 0.5 * (pose[wrist] - pose[elbow])  # the left forearm 50 % longer: 112 mm
    d = 0.5 * np.linalg.norm(pose[wrist] - pose[elbow])
    with_sym = float(pose_loss(photo, longer[None], mirrored_bones=bones)[0])
    without = float(pose_loss(photo, longer[None])[0])
    np.testing.assert_allclose(with_sym - without, 0.5 * d ** 2, rtol=1e-4)
    render = _packed(pose3d=longer)[None]  # with 3D the 3D term decides: no symmetry term
    np.testing.assert_allclose(float(pose_loss(render, longer[None], mirrored_bones=bones)[0]), 0.0, atol=1e-6)


# ---------------------------------------------------------------- a teacher's 3D (kfusion.data.teacher)
def _teacher(teacher, wt, pose):
    return float(np.asarray(teacher_loss(*[np.asarray(a, np.float32)[None] for a in (teacher, wt, pose)]))[0])


def test_the_teacher_teaches_the_pose_not_its_size_or_place():
    teacher = _pose(20)
    wt = np.zeros(17, np.float32)
    wt[[1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]] = 1.0  # the limbs
    pred = 0.6 * teacher + [40.0, -90.0, 300.0]
    pred[[0, 7, 8, 9, 10]] = _pose(21)[[0, 7, 8, 9, 10]]  # joints it does not teach: anything
    assert _teacher(teacher, wt, pred) < 1e-3
    bent = pred.copy()
    bent[13, 2] += 200.0  # the left wrist 200 mm deeper
    assert _teacher(teacher, wt, bent) > 1000.0
    assert _teacher(teacher, np.zeros(17, np.float32), bent) == 0.0
    # its value: the prediction centred and scaled onto the teacher, 0.5 x weighted squared mm
    t = teacher[wt > 0] - teacher[wt > 0].mean(0)
    p = bent[wt > 0] - bent[wt > 0].mean(0)
    s = np.sum(p * t) / np.sum(p * p)
    np.testing.assert_allclose(_teacher(teacher, 2 * wt, bent), np.sum((s * p - t) ** 2), rtol=1e-4)


def test_packed_photos_pay_the_teacher_term_renders_never_do():
    pred = np.stack([_pose(22), _pose(23)])
    teacher, uv = _pose(24), 0.3 * _pose(24)[:, :2]
    wt, w2 = np.ones(17, np.float32), np.ones(17, np.float32)
    photo = _packed(uv=uv, w2=w2, teacher=teacher, wt=wt)
    render = _packed(pose3d=teacher)
    render[:, 7] = 1.0  # a weight on a render is ignored: its 3D term is the plain one
    got = np.asarray(pose_loss(np.stack([photo, render]), pred))
    np.testing.assert_allclose(got[0], _loss(uv, w2, pred[0]) + _teacher(teacher, wt, pred[0]), rtol=1e-5)
    np.testing.assert_allclose(got[1], np.asarray(pose_loss(teacher[None], pred[1:]))[0], rtol=1e-6)


def test_the_teacher_term_teaches_depth_that_the_photo_cannot():
    import tensorflow as tf

    teacher = _pose(25)
    uv = 0.25 * teacher[:, :2] + 30
    start = teacher.copy()
    start[:, 2] = _pose(26)[:, 2]  # the right x, y; depth all wrong
    wt = np.ones(17, np.float32)
    packed = _packed(uv=uv, w2=np.ones(17, np.float32), teacher=teacher, wt=wt)[None]
    no_teacher = packed.copy()
    no_teacher[..., 7] = 0.0
    for targets, learns in ((packed, True), (no_teacher, False)):
        pose = tf.Variable(start[None])
        opt = tf.keras.optimizers.Adam(5.0)
        for _ in range(200):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(pose_loss(targets, pose))
            opt.apply_gradients([(tape.gradient(loss, pose), pose)])
        p, t = pose.numpy()[0] - pose.numpy()[0].mean(0), teacher - teacher.mean(0)
        s = np.sum(p * t) / np.sum(p * p)  # the prediction's size is not taught (the renders teach it)
        err = np.abs(s * p[:, 2] - t[:, 2]).mean()
        assert (err < 20.0) == learns, err
