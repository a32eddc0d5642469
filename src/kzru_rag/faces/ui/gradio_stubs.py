"""Import Gradio without its type-stub writer, which takes about half of `import gradio` here.

Each time Gradio defines a component class (`gradio.component_meta.ComponentMeta`) it parses the class's source
file twice and renders a Jinja template to rewrite the `.pyi` stub beside it in site-packages: about 3 of the 7 s
that importing Gradio takes on these machines (docs/startup.md). The stubs are for editors and type checkers;
nothing reads them at run time. `skip_stub_writing` replaces the writer with a no-op as `gradio.component_meta` is
first imported, so the app starts sooner and writes nothing into the installed package. If Gradio renames the
writer, nothing is replaced and Gradio imports as before (`tests/test_ui.py` notices).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

MODULE = "gradio.component_meta"
WRITER = "create_or_modify_pyi"


def no_stubs(*args: object, **kwargs: object) -> None:
    """Stands in for Gradio's stub writer: writes nothing."""


class _PatchingLoader(importlib.abc.Loader):
    """Gradio's own loader for `gradio.component_meta`, then the writer swapped before any component is defined."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        if callable(getattr(module, WRITER, None)):
            setattr(module, WRITER, no_stubs)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: object, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader)
        return spec


def skip_stub_writing() -> None:
    """Make the coming import of Gradio skip its stub writer (nothing to do once Gradio is imported)."""
    if MODULE not in sys.modules and not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
