"""Annotated frames without matplotlib: skeletons in each track's colour where the joints are, 3D views
along the bottom edge, the orthographic projection's geometry."""
import numpy as np

from kfusion import skeletons
from kfusion.runtime.annotate import TRACK_COLOURS, annotate_frame, orthographic, track_colour

H, W = 360, 640


def person(track_id, x, y, size=120):
    """A standing mpii16 pose at (x, y) px (its pelvis), a 17-joint 3D pose 1.7 m tall."""
    rng = np.random.default_rng(track_id)
    pose_2d = np.array([[x, y]], float) + rng.uniform(-size / 3, size / 3, (16, 2))
    pose_3d = rng.normal(0, 200, (17, 3)) + np.linspace([0, -900, 0], [0, 800, 0], 17)
    return {"track_id": track_id, "pose_2d": pose_2d, "confidence": np.ones(16), "pose_3d": pose_3d}


def near(image, xy, colour, radius=6, tol=40):
    """Whether a pixel within ``radius`` of ``xy`` has ``colour`` (or its lighter left-side tint)."""
    x, y = (int(round(v)) for v in xy)
    patch = image[max(y - radius, 0):y + radius + 1, max(x - radius, 0):x + radius + 1].reshape(-1, 3).astype(int)
    light = [c + (255 - c) // 2 for c in colour]
    return any(np.abs(patch - c).max(1).min() <= tol for c in (colour, light))


def test_skeletons_are_drawn_where_the_joints_are_in_the_tracks_colour():
    frame = np.full((H, W, 3), 128, np.uint8)
    people = [person(3, 150, 150), person(7, 450, 160)]
    out = annotate_frame(frame, people, t=0.0)
    assert out.shape == frame.shape and out.dtype == np.uint8 and (frame == 128).all()  # the input is left as it was
    sk = skeletons.get("mpii16")
    for p in people:
        colour = track_colour(p["track_id"])
        for a, b in sk.bones:  # every bone's middle is painted in the track's colour
            assert near(out, (p["pose_2d"][a] + p["pose_2d"][b]) / 2, colour), (p["track_id"], a, b)
        assert (out[np.abs(out.astype(int) - colour).max(-1) <= 2]).size > 0
    assert track_colour(3) != track_colour(7) and track_colour(3 + len(TRACK_COLOURS)) == track_colour(3)
    # unsure joints are left out: a pose with every confidence at 0 draws no skeleton
    quiet = annotate_frame(frame, [{**people[0], "confidence": np.zeros(16)}])
    assert (quiet[:H - 100] == 128).all()


def test_3d_views_along_the_bottom_edge():
    frame = np.full((H, W, 3), 150, np.uint8)
    people = [person(1, 100, 100), person(2, 300, 100), person(3, 500, 100)]
    out = annotate_frame(frame, people)
    side = int(min(H / 4, 200 * H / 720, W / 3))
    for k, p in enumerate(people):  # each view darkens its square and draws the 3D pose in its colour
        panel = out[H - side:, k * side:(k + 1) * side].astype(int)
        assert np.median(panel) == 50  # 150 // 3: the frame shows through, darker
        assert (np.abs(panel - track_colour(p["track_id"])).max(-1) <= 2).sum() > 20
    assert (out[H - side:, 3 * side + 2:] == 150).all()  # nothing past the last view
    away = [person(1, 1000, 1000)]  # its 2D skeleton lies outside the frame
    assert (annotate_frame(np.zeros((60, 80, 3), np.uint8), away) == 0).all()  # too small for 3D views: none
    assert (annotate_frame(np.zeros((200, 200, 3), np.uint8), away)[-50:, :50] > 0).any()  # large enough: one


def test_orthographic_projection_turns_about_the_vertical():
    pose = np.array([[100.0, -50.0, 0.0], [0.0, 20.0, 300.0]])  # mm, camera frame (x right, y down, z forward)
    np.testing.assert_allclose(orthographic(pose, 0, 0), [[100, -50], [0, 20]], atol=1e-9)  # seen from the camera
    np.testing.assert_allclose(orthographic(pose, 90, 0), [[0, -50], [-300, 20]], atol=1e-9)  # from the side
    up = orthographic(pose, 0, 30)  # from above: what lies farther rises in the view
    assert up[1, 1] < 20 and np.isclose(up[0, 1], -50 * np.cos(np.radians(30)))
