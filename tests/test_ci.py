"""CI runs every test but the accelerator ones: the README's test command, run by `.ci/run`, selects
the slow tests too (a test that nothing runs is a test that rots)."""
import configparser
import re
import shlex
from pathlib import Path

from _pytest.mark.expression import Expression

ROOT = Path(__file__).resolve().parents[1]


def _selected(markers):
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    args = shlex.split(cfg["tool:pytest"]["addopts"])
    expression = args[args.index("-m") + 1] if "-m" in args else ""
    return not expression or Expression.compile(expression).evaluate(lambda name: name in markers)


def test_the_default_pytest_run_selects_slow_tests_and_skips_only_gpu_ones():
    assert _selected(set()) and _selected({"slow"})
    assert not _selected({"gpu"}) and not _selected({"slow", "gpu"})


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    (command,) = re.findall(r'^pip install -e "\.\[cpu,test\]" && pytest.*$', readme, flags=re.M)
    ci = (ROOT / ".ci" / "run").read_text()
    # the same install and pytest with no marker expression of its own (only quieter, with timings)
    (line,) = [l for l in ci.splitlines() if l.startswith("pip install -q -e")]
    assert line.replace(" -q", "", 1).startswith(command) and " -m " not in line
