"""What the site's hooks share: the nav's pages, and which of them no file in docs/ provides.

A hook writes a page only where the nav names one and no file exists, so a page moved into
docs/ as a file simply takes over from what the hook wrote.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

# A child of mkdocs' own logger: `mkdocs build --strict` counts its warnings and fails on them.
log = logging.getLogger("mkdocs.hooks.r1v4")


def root(config: MkDocsConfig) -> Path:
    """The repository: where mkdocs.yml is."""
    return Path(config.config_file_path).resolve().parent


def nav_pages(nav: Any) -> Iterator[tuple[str | None, str]]:
    """Every (title, path) the nav names, in order (a title is None where the nav gives none)."""
    if isinstance(nav, str):
        yield None, nav
    elif isinstance(nav, list):
        for item in nav:
            yield from nav_pages(item)
    elif isinstance(nav, dict):
        for title, value in nav.items():
            if isinstance(value, str):
                yield title, value
            else:
                yield from nav_pages(value)


def unwritten(config: MkDocsConfig, files: Files, prefix: str = "") -> list[tuple[str, str]]:
    """The nav's pages under ``prefix`` that no file provides: (title, path)."""
    return [
        (title or path, path)
        for title, path in nav_pages(config.nav or [])
        if path.startswith(prefix) and "://" not in path and files.get_file_from_path(path) is None
    ]


def add(files: Files, config: MkDocsConfig, path: str, content: str) -> None:
    """Add a page written in memory to the site."""
    files.append(File.generated(config, path, content=content))
