"""The reports of `kfusion bench`: markdown blocks (tables from ``kfusion.eval.tables.markdown_table``,
notes), printed and written to ``--out``."""
from kfusion.io import write_text


def publish(*blocks, out=None):
    """Print the report (``blocks`` of markdown, a blank line between them); also write it to ``out``.

    Returns 0, the exit code of a bench that ran.
    """
    text = "\n\n".join(block.strip("\n") for block in blocks) + "\n"
    print(text)
    if out:
        write_text(out, text)
    return 0
