"""The package's layers, read from the source with ``ast`` (nothing is imported).

A module may import only from its own layer or lower ones (imports at top level and inside
functions, and module names written as strings for ``importlib``), never uses another kfusion
module's private (``_name``) names nor the facade ``kfusion.load``, and kfusion's modules import
each other at top level without a cycle. The layers are the table of docs/ARCHITECTURE.md.
"""
import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kfusion"

# Layer of each folder of kfusion/, lowest first; the modules directly in kfusion/ (CORE) are layer 0.
FOLDER_LAYERS = {
    "data": 1,         # records and tf.data pipelines
    "datasets": 2,     # readers of real datasets
    "synthetic": 3,    # motion capture, pose sampler, renderer, the synthetic benchmarks
    "models": 4,
    "train": 5,
    "eval": 6,
    "export": 7,       # the artefacts (SavedModel, TFLite, model card) and the runners that run them
    "runtime": 8,      # the estimator (kfusion.load), predict, detector, tracking, motion, demo
    "bench": 9,        # speed tables
    "experiments": 10, # they train and measure
    "cli": 11,
}
CORE = {"errors", "io", "skeletons", "geometry", "heatmaps", "config", "logfilter", "images", "timing", "lazy",
        "video", "peers"}
OTHER_LAYERS = {"kfusion": 0,                           # the facade; its __version__ is core
                "kfusion.__main__": FOLDER_LAYERS["cli"]}  # ``python -m kfusion`` is the command line
# What the package's own modules may take from the facade ``kfusion/__init__.py``.
FACADE_NAMES = {"__version__"}

# (importer, imported) -> (where: the function it happens in, or "module"; why it is allowed)
ALLOWED_UPWARD = {
    ("kfusion", "kfusion.runtime.estimator"): (
        "load", "the facade kfusion.load() imports the estimator lazily, inside load() only"),
}
MODULE_STRING = re.compile(r"kfusion(\.\w+)+")


def all_modules(package=PACKAGE):
    """``{"kfusion.eval.figures": path}`` for every module and package under ``package``."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def layer_of(module):
    if module in OTHER_LAYERS:
        return OTHER_LAYERS[module]
    parts = module.split(".")
    if len(parts) == 2 and parts[1] in CORE:
        return 0
    return FOLDER_LAYERS.get(parts[1]) if len(parts) > 2 or parts[1] in FOLDER_LAYERS else None


def resolve(name, modules):
    """The longest kfusion module (or package) that a dotted name such as ``kfusion.eval.figures.x`` starts with."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return None


def is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


class ImportVisitor(ast.NodeVisitor):
    """Every kfusion import of one module, the private and facade names it uses, the modules it
    names that do not exist."""

    def __init__(self, module, is_package, modules):
        self.module, self.modules = module, modules
        self.package = module if is_package else module.rpartition(".")[0]
        self.imports = []   # (imported module, line, where: "module" or the enclosing top-level function)
        self.private = []   # (owner module, private name, line)
        self.facade = []    # (name taken from the facade kfusion/__init__.py, line)
        self.missing = []   # (module name that no file defines, line)
        self.aliases = {}   # local name -> the kfusion module it is bound to
        self.where = "module"

    def _import(self, target, node):
        self.imports.append((target, node.lineno, self.where))

    def _use(self, owner, name, node):
        """``owner.name`` is read (``from owner import name`` or an attribute)."""
        if owner == self.module:
            return
        if is_private(name):
            self.private.append((owner, name, node.lineno))
        elif (owner == "kfusion" and name not in FACADE_NAMES and f"kfusion.{name}" not in self.modules
              and self.module != "kfusion"):
            self.facade.append((name, node.lineno))

    def _visit_scope(self, node):
        outer = self.where
        if outer == "module" and not isinstance(node, ast.ClassDef):  # class bodies run at import
            self.where = getattr(node, "name", "<lambda>")
        self.generic_visit(node)
        self.where = outer

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _visit_scope

    def visit_Import(self, node):
        for alias in node.names:
            if alias.name.split(".")[0] != "kfusion":
                continue
            if alias.name not in self.modules:
                self.missing.append((alias.name, node.lineno))
                continue
            self._import(alias.name, node)
            owner = "kfusion"
            for part in alias.name.split(".")[1:]:
                self._use(owner, part, node)
                owner = f"{owner}.{part}"
            # ``import kfusion.x.y`` binds ``kfusion``; ``import kfusion.x.y as m`` binds m to kfusion.x.y
            self.aliases[alias.asname or "kfusion"] = alias.name if alias.asname else "kfusion"

    def visit_ImportFrom(self, node):
        if node.level:
            base = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        if source.split(".")[0] != "kfusion":
            return
        if source not in self.modules:
            self.missing.append((source, node.lineno))
            return
        for alias in node.names:
            full = f"{source}.{alias.name}"
            if full in self.modules:  # ``from kfusion import geometry`` imports the module kfusion.geometry
                self._import(full, node)
                self.aliases[alias.asname or alias.name] = full
            else:
                self._import(source, node)
            self._use(source, alias.name, node)

    def visit_Attribute(self, node):
        chain, value = [node.attr], node.value
        while isinstance(value, ast.Attribute):
            chain.append(value.attr)
            value = value.value
        if isinstance(value, ast.Name) and value.id in self.aliases:
            dotted = ".".join([self.aliases[value.id]] + chain[::-1])
            owner = resolve(dotted, self.modules)
            if owner != dotted:
                self._use(owner, dotted[len(owner) + 1:].split(".")[0], node)
            return  # the whole chain is read; its inner attributes are not visited again
        self.generic_visit(node)

    def visit_Constant(self, node):
        """A string naming a kfusion module (a registry for ``importlib.import_module``) imports it."""
        if isinstance(node.value, str) and MODULE_STRING.fullmatch(node.value):
            owner = resolve(node.value, self.modules)
            if owner == node.value:
                self._import(owner, node)
            elif (owner not in (None, "kfusion") and self.modules[owner].name == "__init__.py"
                  and node.value.count(".") == owner.count(".") + 1):
                self.missing.append((node.value, node.lineno))  # a sub-package and a name no file defines


def scan(modules):
    """One visitor per module: what that module imports, the names it uses, the modules it misses."""
    result = {}
    for module, path in modules.items():
        visitor = ImportVisitor(module, path.name == "__init__.py", modules)
        visitor.visit(ast.parse(path.read_text(), filename=str(path)))
        result[module] = visitor
    return result


MODULES = all_modules()
SCAN = scan(MODULES)


def test_every_module_has_a_layer():
    unmapped = sorted(m for m in MODULES if layer_of(m) is None)
    assert not unmapped, f"modules without a layer (add them here and to docs/ARCHITECTURE.md): {unmapped}"


def upward_imports(scanned):
    found = set()
    for module, visitor in scanned.items():
        own = layer_of(module)
        for target, line, where in visitor.imports:
            if layer_of(target) is None or own is None or layer_of(target) <= own:
                continue
            if ALLOWED_UPWARD.get((module, target), ("",))[0] == where:
                continue
            found.add(f"{module}:{line} (layer {own}) imports {target} (layer {layer_of(target)})")
    return sorted(found)


def test_no_module_imports_from_a_higher_layer():
    found = upward_imports(SCAN)
    assert not found, "imports from a higher layer:\n" + "\n".join(found)


def test_allowed_exceptions_are_still_needed():
    used = {(m, t, where) for m, v in SCAN.items() for t, _, where in v.imports}
    stale = [pair for pair, (where, _) in ALLOWED_UPWARD.items() if (*pair, where) not in used]
    assert not stale, f"ALLOWED_UPWARD entries that no module needs any more (remove them): {stale}"


def private_uses(scanned):
    return sorted({f"{module}:{line} uses {owner}.{name}"
                   for module, visitor in scanned.items() for owner, name, line in visitor.private})


def test_no_module_uses_another_modules_private_names():
    found = private_uses(SCAN)
    assert not found, "private names used across modules (give them public names):\n" + "\n".join(found)


def facade_uses(scanned):
    return sorted({f"{module}:{line} uses kfusion.{name}"
                   for module, visitor in scanned.items() for name, line in visitor.facade})


def test_no_module_goes_through_the_facade():
    found = facade_uses(SCAN)
    assert not found, ("kfusion/__init__.py is for users (kfusion.load imports the runtime layer); inside the "
                       "package import the module that defines the name:\n" + "\n".join(found))


def missing_modules(scanned):
    return sorted({f"{module}:{line} names {name}, which no file defines"
                   for module, visitor in scanned.items() for name, line in visitor.missing})


def test_every_kfusion_module_named_exists():
    found = missing_modules(SCAN)
    assert not found, "\n".join(found)


def import_cycles(scanned):
    """The strongly connected components (Tarjan) of the top-level import graph with more than one
    module, each as its sorted module names."""
    graph = {m: sorted({t for t, _, where in v.imports if where == "module" and t != m})
             for m, v in scanned.items()}
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def connect(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.get(module, ()):
            if target not in index:
                connect(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                components.append(" <-> ".join(sorted(component)))

    for module in sorted(graph):
        if module not in index:
            connect(module)
    return sorted(components)


def test_no_import_cycles_at_top_level():
    cycles = import_cycles(SCAN)
    assert not cycles, "modules that import each other at top level:\n" + "\n".join(cycles)


# The checks themselves: each must see the violations planted in a small fake package.
def fake_package(root, files):
    for name, text in files.items():
        path = root / "kfusion" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return scan(all_modules(root / "kfusion"))


def test_checks_see_planted_violations(tmp_path):
    scanned = fake_package(tmp_path, {
        "__init__.py": "__version__ = '0'\ndef load(): pass\n",
        "geometry.py": "from kfusion import __version__\n",
        "eval/__init__.py": "",
        "eval/figures.py": "from kfusion.eval import tables\ndef _plt(): pass\n",
        "eval/tables.py": "import kfusion.eval.figures\nclass T:\n    from kfusion.eval import figures\n",
        "runtime/__init__.py": "",
        "runtime/estimator.py": "import kfusion\ndef _runner(): pass\nest = kfusion.load\n",
        "export/__init__.py": "",
        "export/runners.py": "def keras_model_runner(): pass\n",
        "export/package.py": ("from kfusion.export import runners\n"
                              "def f():\n    from kfusion.runtime import estimator as est\n    return est._runner\n"),
        "eval/photos.py": ("def g():\n    from kfusion.runtime.estimator import read_image\n"
                           "    from kfusion.eval.figures import _plt\n"),
        "bench/__init__.py": "",
        "bench/export.py": "import kfusion.runtime.estimator\nx = kfusion.runtime.estimator._runner\n",
        "data/__init__.py": "READERS = ('kfusion.bench.export', 'kfusion.data.gone', 'kfusion.json')\n",
    })
    assert upward_imports(scanned) == [
        "kfusion.data:1 (layer 1) imports kfusion.bench.export (layer 9)",
        "kfusion.eval.photos:2 (layer 6) imports kfusion.runtime.estimator (layer 8)",
        "kfusion.export.package:3 (layer 7) imports kfusion.runtime.estimator (layer 8)",
    ]
    assert private_uses(scanned) == [
        "kfusion.bench.export:2 uses kfusion.runtime.estimator._runner",
        "kfusion.eval.photos:3 uses kfusion.eval.figures._plt",
        "kfusion.export.package:4 uses kfusion.runtime.estimator._runner",
    ]
    assert facade_uses(scanned) == ["kfusion.runtime.estimator:3 uses kfusion.load"]
    assert missing_modules(scanned) == ["kfusion.data:1 names kfusion.data.gone, which no file defines"]
    assert import_cycles(scanned) == ["kfusion.eval.figures <-> kfusion.eval.tables"]
