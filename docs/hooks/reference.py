"""The API reference, written from the code: every public name, and nothing undocumented.

Pages, by their place in the nav:

- ``- <module>: reference/<module>.md`` (a title that is a module path, such as
  ``r1v4.testing``): the module's docstring, then every name of its ``__all__``.
- ``reference/r1v4/<topic>.md``: one topic of the core (``CORE_TOPICS``), the names of
  ``r1v4.__all__`` defined in the topic's modules.

So a name added to an ``__all__`` appears on its page by itself, and a new public subpackage
needs one line in the nav. The build fails (a warning under ``--strict``) when a name of
``r1v4.__all__`` is on no topic page, when a public subpackage of a documented package has no
page, or when a public name, or a public method of a public class, has no docstring (a method
that overrides one of a framework's base classes keeps the framework's).
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterable

import griffe
from _pages import add, log, nav_pages, root, unwritten
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files

PACKAGES = ("r1v4", "langchain_r1v4", "llama_index_r1v4")

# The core's topics: the modules whose public names each page shows, and what it is about.
CORE_TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "clients": (
        "The clients: one call, streamed or not, sync or async, and a stream gathered into a "
        "reply.",
        ("r1v4._client", "r1v4._accumulate"),
    ),
    "settings": (
        "Settings, their defaults and where they are read from.",
        ("r1v4._config",),
    ),
    "errors": (
        "The ``R1V4Error`` family: what went wrong, with the text already streamed.",
        ("r1v4._errors",),
    ),
    "types": (
        "The wire types: requests, replies, chunks and their parts.",
        ("r1v4._types",),
    ),
    "transcript": (
        "R1V4's tagged transcript as typed events, parsed incrementally; the images its tools "
        "make.",
        ("r1v4._transcript",),
    ),
    "images": (
        "Anything image-like to a checked data URI.",
        ("r1v4._images",),
    ),
    "adapters": (
        "What the adapters share, for authors of another one: the client pair a model object "
        "holds and the settings it takes, the parser of raw chunks, the trace as plain data, "
        "earlier replies sent back, tool calls on the wire.",
        (
            "r1v4._model_clients",
            "r1v4._model_options",
            "r1v4._streaming",
            "r1v4._trace",
            "r1v4._history",
            "r1v4._tool_calls",
        ),
    ),
}

_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
# Each object's own options; the rest are set once in mkdocs.yml.
_OBJECT = "::: {path}\n    options:\n      show_root_heading: true\n      heading_level: 2\n"


class Reference:
    """The packages as griffe sees them, loaded once per build."""

    def __init__(self, config: MkDocsConfig) -> None:
        search = [str(root(config))]
        self.packages = {
            name: griffe.load(name, search_paths=search, resolve_aliases=True) for name in PACKAGES
        }
        self.shown: list[str] = []
        # What some public module exports, by where it is defined.
        self.exported = {
            _target(module[name]).path
            for package in self.packages.values()
            for module in _public_modules(package)
            for name in self.exports(module)
        }

    def module(self, path: str) -> griffe.Module:
        top, _, rest = path.partition(".")
        found = self.packages[top][rest] if rest else self.packages[top]
        if not isinstance(found, griffe.Module):
            raise TypeError(f"{path} is not a module")
        return found

    def exports(self, module: griffe.Module) -> list[str]:
        return [str(name) for name in module.exports or []]

    def objects(self, module_path: str, names: Iterable[str]) -> str:
        """The markdown showing each name of ``module_path``."""
        paths = [f"{module_path}.{name}" for name in names]
        self.shown += paths
        module = self.module(module_path)
        return "\n".join(
            _OBJECT.format(path=path) + self._inherited(module[path.rpartition(".")[2]])
            for path in paths
        )

    def _inherited(self, obj: griffe.Object | griffe.Alias) -> str:
        """The option showing, as a class's own, the public methods it inherits from a base of
        these packages that no page shows (a private base, such as the executors' one)."""
        cls = _target(obj)
        if not isinstance(cls, griffe.Class):
            return ""
        names = [
            name
            for name, member in cls.inherited_members.items()
            if not name.startswith("_")
            and isinstance(member.final_target, griffe.Function)
            and member.final_target.parent is not None
            and member.final_target.parent.path.split(".")[0] in PACKAGES
            and member.final_target.parent.path not in self.exported
        ]
        return f"      inherited_members: {names}\n" if names else ""

    def module_page(self, path: str) -> str:
        module = self.module(path)
        body = self.objects(path, self.exports(module))
        intro = f"::: {path}\n    options:\n      members: false\n      show_root_heading: false\n"
        return f"# `{path}`\n\n{intro}\n{body}"

    def core_page(self, topic: str, title: str) -> str:
        about, modules = CORE_TOPICS[topic]
        core = self.module("r1v4")
        names = [
            name for name in self.exports(core) if _defined_in(core[name], modules) is not None
        ]
        names.sort(key=lambda name: _defined_in(core[name], modules) or (0, 0))
        return f"# {title}\n\n{about}\n\n{self.objects('r1v4', names)}"

    def check_core(self) -> None:
        core = self.module("r1v4")
        every = tuple(m for _, modules in CORE_TOPICS.values() for m in modules)
        for name in self.exports(core):
            if _defined_in(core[name], every) is None:
                where = _target(core[name]).path
                log.warning(
                    "r1v4.%s (defined in %s) is on no page of the reference: add its module to "
                    "CORE_TOPICS in docs/hooks/reference.py",
                    name,
                    where.rpartition(".")[0],
                )

    def check_subpackages(self, documented: set[str]) -> None:
        for package in self.packages.values():
            for name, member in package.members.items():
                if name.startswith("_") or member.is_alias or not isinstance(member, griffe.Module):
                    continue
                if not member.is_init_module:  # a public module (chat_models): its names are the
                    continue  # package's, shown on the package's page
                if member.path not in documented:
                    log.warning(
                        "%s has no page in the reference: add `- %s: reference/%s.md` to the "
                        "nav in mkdocs.yml",
                        member.path,
                        member.path,
                        member.path,
                    )

    def check_docstrings(self) -> None:
        for path in self.shown:
            module_path, _, name = path.rpartition(".")
            obj = _target(self.module(module_path)[name])
            if not _has_docstring(obj):
                log.warning("%s has no docstring (defined in %s)", path, obj.path)
            if isinstance(obj, griffe.Class):
                for member in _undocumented_methods(obj):
                    log.warning("%s.%s has no docstring", path, member)


def _public_modules(module: griffe.Module) -> Iterable[griffe.Module]:
    yield module
    for name, member in module.members.items():
        if not name.startswith("_") and not member.is_alias and isinstance(member, griffe.Module):
            yield from _public_modules(member)


def _target(obj: griffe.Object | griffe.Alias) -> griffe.Object:
    return obj.final_target if isinstance(obj, griffe.Alias) else obj


def _has_docstring(obj: griffe.Object) -> bool:
    return obj.docstring is not None and bool(obj.docstring.value.strip())


def _defined_in(
    obj: griffe.Object | griffe.Alias, modules: tuple[str, ...]
) -> tuple[int, int] | None:
    """(which of ``modules`` defines ``obj``, its line there), or None when none of them does."""
    path = _target(obj).path
    for order, module in enumerate(modules):
        if path.startswith(module + "."):
            return order, _target(obj).lineno or 0
    return None


def _undocumented_methods(cls: griffe.Class) -> list[str]:
    """Public methods and properties ``cls`` defines without a docstring, except overrides of a
    method of a base class outside these packages (that one's docstring stands)."""
    runtime = getattr(importlib.import_module(cls.module.path), cls.name)
    foreign = [
        base
        for base in inspect.getmro(runtime)[1:]
        if base.__module__.split(".")[0] not in PACKAGES
    ]
    missing = []
    for name, member in cls.members.items():
        if name.startswith("_") or member.is_alias or not isinstance(member, griffe.Function):
            continue
        if _has_docstring(member) or any(name in vars(base) for base in foreign):
            continue
        missing.append(name)
    return missing


def on_files(files: Files, config: MkDocsConfig) -> Files:
    reference = Reference(config)
    for title, path in unwritten(config, files, "reference/"):
        name = path.removeprefix("reference/").removesuffix(".md")
        if name.startswith("r1v4/") and name.removeprefix("r1v4/") in CORE_TOPICS:
            add(files, config, path, reference.core_page(name.removeprefix("r1v4/"), title))
        elif _MODULE.match(title) and title.split(".")[0] in PACKAGES:
            add(files, config, path, reference.module_page(title))
    # What the nav documents, pages written by hand included: the core (its topic pages), each
    # module page by its title, the command line (its page, written by docs/hooks/cli.py).
    documented = set()
    for title, path in nav_pages(config.nav or []):
        if path.startswith("reference/r1v4/"):
            documented.add("r1v4")
        elif path == "reference/cli.md":
            documented.add("r1v4.cli")
        elif path.startswith("reference/") and title:
            documented.add(title)
    if "r1v4" in documented:
        reference.check_core()
    reference.check_subpackages(documented)
    reference.check_docstrings()
    return files
