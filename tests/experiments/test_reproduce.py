"""`kfusion reproduce --preset smoke`: the whole comparison end to end on a few renders."""
import json
from pathlib import Path

from kfusion.experiments import reproduce

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "synthetic.yaml")


def test_smoke_reproduction_writes_every_table_and_figure(tmp_path):
    out = tmp_path / "run"
    r = reproduce.run("smoke", out, base_config=CONFIG, workers=1, report_dir=tmp_path / "docs",
                      verbose=0)
    labels = [label for label, _ in reproduce.VARIANTS]
    assert list(r["table5"]) == labels
    for row in r["table5"].values():
        assert row["mpjpe"] > 0 and row["pa_mpjpe"] <= row["mpjpe"] + 1e-6
    t6 = r["table6"]
    assert t6["With regularisation (pruned)"]["network"] == "pruned"
    assert t6["With regularisation (pruned)"]["params_pruned"] < t6["With regularisation (pruned)"]["params_unpruned"]
    report = (out / "report.md").read_text()
    for heading in ("Table 5 analogue", "Table 6 analogue", "Table 1 analogue", "fig4", "fig5", "fig7"):
        assert heading in report
    for name in ("report.md", "results.json", "fig4_fusion_trace.png", "fig5_examples.png",
                 "fig7_stream_correlation.png"):
        assert (tmp_path / "docs" / name).is_file(), name
    assert (out / "fusion-trainable" / "end_to_end.keras").is_file()
    assert json.loads((out / "results.json").read_text())["preset"] == "smoke"
    from kfusion.synthetic.benchmark import GENERATOR_VERSION  # the renderer is named in the report

    assert r["generator"]["version"] == GENERATOR_VERSION
    assert f"Data (`kfusion.synthetic.benchmark` version {GENERATOR_VERSION}):" in report
    # free weights that do not rise monotonically have no single fusion layer: Table 6 says so
    from kfusion.models import load_model
    from kfusion.models import save_model

    free = load_model(out / "fusion-free" / "model.keras")
    layer = free.get_layer("fusion_weights")
    layer.logits.assign([5.0 if i % 2 == 0 else -5.0 for i in range(layer.num_weights)])
    save_model(free, out / "fusion-free" / "model.keras")
    # resumable: a second run with two seeds retrains nothing of seed 0 (same numbers and training
    # times) and trains the fusion networks once more; the cells are mean +- std over the two seeds
    again = reproduce.run("smoke", out, base_config=CONFIG, workers=1, verbose=0, seeds=2)
    trainable = again["table5"]["Trainable Fusion"]
    assert trainable["mpjpe_seeds"][0] == r["table5"]["Trainable Fusion"]["mpjpe"]
    assert len(trainable["mpjpe_seeds"]) == 2 and trainable["mpjpe_std"] > 0
    assert trainable["mpjpe"] == sum(trainable["mpjpe_seeds"]) / 2
    assert again["table5"]["Image-Only"]["train_seconds_seeds"][0] == r["table5"]["Image-Only"]["train_seconds"]
    assert len(again["table5"]["Lifting baseline (Martinez et al.)"]["mpjpe_seeds"]) == 1
    assert (out / "fusion-trainable-seed1" / "model.keras").is_file()
    assert again["table6"]["Without regularisation (free w)"]["pruning"] == "impossible"
    report = (out / "report.md").read_text()
    assert "cannot be pruned" in report and f"{trainable['mpjpe']:.1f} ± {trainable['mpjpe_std']:.1f}" in report
    assert len(again["table1_seeds"]) == 2 and "seeds" in report.split("Table 1 analogue")[1]
    t6 = again["table6"]["With regularisation (pruned)"]
    assert t6["mpjpe_unpruned"] == trainable["mpjpe_seeds"][0]  # Table 6 compares the seed-0 networks
    assert [c["claim"] for c in again["claims"]] == [c[0] for c in reproduce.CLAIMS]
    assert all(c["verdict"] in ("holds", "fails", "cannot be told at this noise") for c in again["claims"])


def test_h36m_table1_gives_mean_and_std_over_the_seeds_each_row_has():
    from kfusion.datasets.h36m import ACTIONS

    def tables(offset):  # protocol 1 = 100 + offset + action index, protocol 2 = 60 + offset
        p1 = {a: 100.0 + offset + i for i, a in enumerate(ACTIONS)}
        p2 = {a: 60.0 + offset for a in ACTIONS}
        return {"protocol1": {"mpjpe": p1, "avg_all": sum(p1.values()) / len(p1)},
                "protocol2": {"pa_mpjpe": p2, "avg_all": 60.0 + offset}}

    seeds = [{"Trainable Fusion": tables(0.0), "Lifting baseline (Martinez et al.)": tables(50.0)},
             {"Trainable Fusion": tables(2.0)}]
    md = "\n".join(reproduce.h36m_table1_markdown(seeds))
    p1, p2 = md.split("protocol 2, PA-MPJPE")
    row = next(line for line in p1.splitlines() if line.startswith("| Trainable Fusion"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "101.0 ± 1.4" and cells[-1] == "2"  # first action: 100 and 102
    assert cells[-2] == f"{100 + 1 + (len(ACTIONS) - 1) / 2:.1f} ± 1.4"
    lifting = next(line for line in p1.splitlines() if line.startswith("| Lifting"))
    assert "±" not in lifting and "150.00" in lifting and lifting.rstrip(" |").endswith("1")
    assert "| Trainable Fusion | 61.0 ± 1.4 |" in p2
    one = "\n".join(reproduce.h36m_table1_markdown(seeds[:1]))
    assert "±" not in one and "seeds" not in one.split("\n\n")[1] and "| Trainable Fusion | 100.00 |" in one


def test_protocol_tables_of_one_seed_feed_table1():
    from types import SimpleNamespace

    import numpy as np

    from kfusion.datasets.h36m import ACTIONS

    rng = np.random.default_rng(0)
    gt = rng.normal(0, 300, (4, 17, 3))
    cache = SimpleNamespace(pose_3d=gt, actions=[ACTIONS[0]] * 2 + [ACTIONS[1]] * 2, subjects=["S9"] * 4)
    pred = gt + np.array([0.0, 0.0, 30.0])  # every joint 30 mm off in z: root alignment leaves 0
    pred[:2, 5] += [40.0, 0.0, 0.0]  # one joint of the first action 40 mm off
    t = reproduce._protocol_tables(pred, cache)
    assert abs(t["protocol1"]["mpjpe"][ACTIONS[0]] - 40.0 / 17) < 1e-6
    assert abs(t["protocol1"]["mpjpe"][ACTIONS[1]]) < 1e-6 and t["protocol1"]["mpjpe"][ACTIONS[2]] is None
    md = "\n".join(reproduce.h36m_table1_markdown([{"Trainable Fusion": t}] * 2))
    assert f"| Trainable Fusion | {40 / 17:.1f} ± 0.0 | 0.0 ± 0.0 | - |" in md
