import subprocess
import sys

from kfusion import __version__
from kfusion.cli.main import COMMANDS, build_parser, main


def test_help_and_version_do_not_import_tensorflow():
    code = ("import sys; from kfusion.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
    version = subprocess.run([sys.executable, "-m", "kfusion", "--version"], capture_output=True, text=True,
                             timeout=60)
    assert version.stdout.strip() == f"kfusion {__version__}"


def test_every_command_is_registered_once():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == list(COMMANDS)
    assert set(COMMANDS) == {"prepare", "train", "evaluate", "predict", "export", "calibrate", "bench", "tune",
                             "reproduce", "demo"}


def test_bad_config_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("fusion:\n  lamda: 1\n")
    assert main(["train", "fusion", "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown key 'fusion.lamda'" in err[0] and str(bad) in err[0]
