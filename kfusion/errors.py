"""One error type for bad user input: the CLI prints its message as one line."""
import re


class KfusionError(ValueError):
    """Bad input (a file, key or value) with a one-line message naming it and what was expected."""


def one_line(error, limit=120, last=False):
    """The first (``last``: the last) line of an exception's message, cut to ``limit`` characters (for
    one-line errors; tools such as ffmpeg put their verdict on the last line)."""
    lines = [ln for ln in str(error).strip().splitlines() if ln.strip()] or [""]
    text = lines[-1 if last else 0] or type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def tf_error_message(error):
    """The readable part of a TF runtime error ("corrupted record at 12")."""
    msg = str(getattr(error, "message", "") or error).splitlines()[0] if str(error) else ""
    msg = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", msg)
    msg = re.sub(r"\s*\[Op:[^\]]*\].*$", "", msg)
    return msg.strip() or type(error).__name__
