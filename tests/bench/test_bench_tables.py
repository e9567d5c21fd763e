from kfusion.bench.tables import publish
from kfusion.eval.tables import markdown_table


def test_publish_prints_and_writes_the_same_report(tmp_path, capsys):
    out = tmp_path / "bench.md"
    table = markdown_table(["stage", "rate"], [["parse", "1,000"]])
    assert publish("# Title", table, "a note\n", out=out) == 0
    text = "# Title\n\n| stage | rate |\n|---|---:|\n| parse | 1,000 |\n\na note\n"
    assert out.read_text() == text
    assert capsys.readouterr().out == text + "\n"
