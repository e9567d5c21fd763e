"""`kfusion predict --bvh-units cm|m|mm`: parsed, refused when unknown, and handed to the predictor."""
import pytest

from kfusion.cli.main import build_parser, main
from kfusion.runtime import estimator, motion, predict


def _predict_args(*extra):
    return ["predict", "clip.mp4", "--out", "out", "--bvh", "m.bvh", *extra]


def test_bvh_units_choices_are_the_writers_and_cm_is_the_default():
    sub = build_parser()._subparsers._group_actions[0].choices["predict"]
    (action,) = [a for a in sub._actions if a.dest == "bvh_units"]
    assert tuple(action.choices) == motion.BVH_UNITS and action.default == "cm"
    assert build_parser().parse_args(_predict_args("--bvh-units", "mm")).bvh_units == "mm"
    with pytest.raises(SystemExit):
        build_parser().parse_args(_predict_args("--bvh-units", "inch"))


@pytest.mark.parametrize("extra, units", [((), "cm"), (("--bvh-units", "m"), "m")])
def test_bvh_units_reach_the_predictor(monkeypatch, tmp_path, extra, units):
    seen = {}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(estimator, "load", lambda model, backend: estimator.Estimator(
        None, 32, backend="fake", source="test"))
    monkeypatch.setattr(predict, "predict_paths", lambda *a, **kw: seen.update(kw) or (1, []))
    assert main(_predict_args(*extra)) == 0
    assert seen["bvh"] == "m.bvh" and seen["bvh_units"] == units
