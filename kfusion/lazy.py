"""Lazy re-exports (PEP 562) for the public packages: ``import kfusion.data`` stays cheap (no
TensorFlow) and ``kfusion.data.make_dataset`` imports its module on first use."""
import importlib


def lazy_exports(package, table):
    """``(__getattr__, __dir__)`` for ``package`` (its ``__name__``) re-exporting ``table``: public
    name -> the module that defines it. A name is imported on first use and then kept in the package."""
    import sys

    def __getattr__(name):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(table[name]), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__
