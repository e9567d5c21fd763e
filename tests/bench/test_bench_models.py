"""`kfusion bench models` run end to end at the tiny presets: its table says what the models are."""
import re

import pytest

from kfusion.cli.main import main


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench-models.md"
    assert main(["bench", "models", "--presets", "tiny", "--repeats", "1", "--out", str(out)]) == 0
    text = out.read_text()
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| model |"))
    header = _cells(lines[start])
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = _cells(line)
        rows[cells[0]] = dict(zip(header, cells))
    return text, rows


def test_bench_models_tables_the_tiny_models_and_their_pruning(report):
    from kfusion.models.fusion import build_fusion_network
    from kfusion.models.hourglass import build_hourglass
    from kfusion.models.pruning import prune
    from kfusion.models.summary import count_flops

    text, rows = report
    # L = 5 blocks: beta in the middle of block 2, so the pruned network fuses at block 2, the network
    # of the fixed strategy at that layer
    expected = {"hourglass tiny": build_hourglass("tiny"),
                "fusion tiny unpruned": build_fusion_network("tiny", "trainable", seed=0),
                "fusion tiny pruned (fusion at 2)": prune(build_fusion_network("tiny", "fixed", fusion_layer=2))}
    assert list(rows) == list(expected)
    peak = max(float(v) for v in re.search(r"matmul (\d+) GFLOP/s, conv 3x3 (\d+) GFLOP/s", text).groups())
    for name, model in expected.items():
        row = rows[name]
        assert row["params"] == f"{model.count_params():,}", name
        mflop = count_flops(model) / 1e6
        assert float(row["MFLOP/img"]) == pytest.approx(mflop, abs=0.05), name
        throughput, batch = re.fullmatch(r"([\d.]+) \(b=(\d+)\)", row["throughput (img/s)"]).groups()
        assert batch == "32" and float(throughput) > 0 and float(row["latency b=1 (ms)"]) > 0, name
        gflops = float(row["GFLOP/s"])
        assert gflops == pytest.approx(mflop * float(throughput) / 1e3, abs=0.06), name
        assert abs(float(row["% of peak"].rstrip("%")) - 100 * gflops / peak) <= 1.0, name
    assert int(rows["fusion tiny pruned (fusion at 2)"]["params"].replace(",", "")) < \
        int(rows["fusion tiny unpruned"]["params"].replace(",", ""))
    # the training rate of the unpruned models only, a number of images per second
    assert [row["train img/s (b=64)"] != "-" for row in rows.values()] == [True, True, False]
    assert all(float(row["train img/s (b=64)"]) > 0 for row in list(rows.values())[:2])
    # at binary weights the pruned network computes what the unpruned one does
    diff = re.fullmatch(r"max abs\(pruned - unpruned\) = (\S+) mm", rows["fusion tiny pruned (fusion at 2)"]["note"])
    assert float(diff.group(1)) < 1e-3
    speedup = re.search(r"Pruning speed-up, fusion tiny: ([\d.]+)x latency", text)
    latency = [float(rows[n]["latency b=1 (ms)"]) for n in ("fusion tiny unpruned", "fusion tiny pruned (fusion at 2)")]
    assert float(speedup.group(1)) == pytest.approx(latency[0] / latency[1], rel=0.02)


def test_bench_models_names_an_unknown_preset(capsys):
    assert main(["bench", "models", "--presets", "tiny", "huge"]) == 2
    assert "--presets: unknown ['huge']; expected some of ['tiny', 'cpu', 'paper']" in capsys.readouterr().err
