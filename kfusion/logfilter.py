"""Filter TensorFlow's start-up chatter from stderr, keeping oneDNN on.

TensorFlow prints "oneDNN custom operations are on ..." and absl's "All log messages before
absl::InitializeLog() ..." from C++ before its log level applies, so ``TF_CPP_MIN_LOG_LEVEL``
cannot hide them. ``install()`` puts a pipe behind file descriptor 2 and forwards every other line.
"""
import atexit
import os
import re
import sys
import threading

NOISE = re.compile(
    rb"oneDNN custom operations are on|All log messages before absl::InitializeLog|op_level_cost_estimator|"
    rb"Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered|"
    rb"This TensorFlow binary is optimized to use available CPU instructions|"
    rb"To enable the following instructions|rebuild TensorFlow with the appropriate compiler flags"
)
_installed = False


def install():
    """Start filtering fd 2 (idempotent). Returns True if the filter is active."""
    global _installed
    if _installed or os.environ.get("KFUSION_RAW_STDERR"):
        return _installed
    try:
        sys.stderr.flush()
        original = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:
        return False

    def pump():
        buf = b""
        with os.fdopen(read_end, "rb", buffering=0) as src:
            while True:
                chunk = src.read(4096)
                if not chunk:
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                out = b"".join(line + b"\n" for line in lines if not NOISE.search(line))
                if out:
                    os.write(original, out)
        if buf and not NOISE.search(buf):
            os.write(original, buf)

    thread = threading.Thread(target=pump, name="kfusion-stderr-filter", daemon=True)
    thread.start()

    def restore():  # at exit: close the pipe so every pending line is forwarded, then wait
        try:
            sys.stderr.flush()
            os.dup2(original, 2)
        except (OSError, ValueError):
            return
        thread.join(timeout=2)

    atexit.register(restore)
    _installed = True
    return True
