"""The README as the site's home page, and links to files outside docs/ made to work in the site.

Links are written for GitHub, as paths in the repository relative to the file holding them:
the README links to ``docs/guides/configuration.md``, a guide to ``../../benchmarks/README.md``.
In the site a file under docs/ is a page at another relative place, and a file outside docs/
is no page at all. The home page is the README with its links rewritten (unless a file
docs/index.md takes over), and so are the links of every page of docs/ that leave it: a file
under docs/ becomes its page, any other file of the repository a link to it on ``repo_url``
(its path as plain text without one).
"""

from __future__ import annotations

import posixpath
import re

from _pages import add, root
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def _relative(target: str, page: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(page) or ".")


def rewrite_links(text: str, source: str, page: str, repo_url: str | None) -> str:
    """The links of ``source`` (a markdown file, its path in the repository) as seen from the
    site's ``page``: files under docs/ as pages of the site, other files of the repository on
    ``repo_url`` (as plain paths without one). Anchors of the same page and URLs stay."""

    def one(match: re.Match[str]) -> str:
        bang, label, target = match.groups()
        path, _, anchor = target.partition("#")
        if not path or "://" in target or target.startswith("mailto:"):
            return match[0]
        file = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
        if file.startswith("docs/"):
            new = _relative(file.removeprefix("docs/"), page)
            return f"{bang}[{label}]({new}{'#' + anchor if anchor else ''})"
        if repo_url:
            where = f"{file}#{anchor}" if anchor else file
            return f"{bang}[{label}]({repo_url.rstrip('/')}/blob/main/{where})"
        return f"`{file}`" if label.strip("`") == file else f"{label} (`{file}`)"

    out: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        out.append(line if in_fence else _LINK.sub(one, line))
    return "\n".join(out) + "\n"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    if files.get_file_from_path("index.md") is None:
        readme = (root(config) / "README.md").read_text(encoding="utf-8")
        home = rewrite_links(readme, "README.md", "index.md", config.repo_url)
        add(files, config, "index.md", home)
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """A page of docs/: its links to files outside docs/ rewritten (see the module docstring)."""
    if page.file.generated_by is not None or not page.file.src_uri.endswith(".md"):
        return markdown  # the hooks' own pages are written with their links already right
    source = f"docs/{page.file.src_uri}"
    return rewrite_links(markdown, source, page.file.src_uri, config.repo_url)
