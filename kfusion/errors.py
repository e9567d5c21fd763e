"""One error type for bad user input: the CLI prints its message as one line."""


class KfusionError(ValueError):
    """Bad input (a file, key or value) with a one-line message naming it and what was expected."""


def one_line(error, limit=120, last=False):
    """The first (``last``: the last) line of an exception's message, cut to ``limit`` characters (for
    one-line errors; tools such as ffmpeg put their verdict on the last line)."""
    lines = [ln for ln in str(error).strip().splitlines() if ln.strip()] or [""]
    text = lines[-1 if last else 0] or type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
