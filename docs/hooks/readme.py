"""The README as the site's home page, its guide sections as pages of their own, and links
to files outside docs/ made to work in the site.

Each guide in the nav is ``- <README heading>: guides/<name>.md``. While no file
docs/guides/<name>.md exists, this hook writes that page from the README section with that
heading (a nav title no README heading matches fails the build) and leaves the section out of
the home page, which is the rest of the README. Moving a section into docs/guides/<name>.md
therefore changes nothing in the site; the README's links are rewritten to where their
targets are in the site.

Links are written for GitHub, as paths in the repository relative to the file holding them. A
page under docs/ may so link to a file outside docs/ (``../../benchmarks/README.md``), which is
no page of the site: such a link goes to the file on ``repo_url``, or becomes its path as plain
text without one.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection
from dataclasses import dataclass, field

from _pages import add, log, nav_pages, root, unwritten
from markdown.extensions.toc import slugify
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


@dataclass
class Section:
    """One ``## `` section of the README: its heading and the lines under it."""

    heading: str
    lines: list[str] = field(default_factory=list)

    @property
    def slugs(self) -> list[str]:
        """The anchors of its heading and of every heading inside it."""
        found = [_slug(self.heading)]
        in_fence = False
        for line in self.lines:
            if _FENCE.match(line):
                in_fence = not in_fence
            elif not in_fence and line.startswith("#"):
                found.append(_slug(line.lstrip("#").strip()))
        return found


def _slug(heading: str) -> str:
    return slugify(heading, "-")


def split(text: str) -> tuple[list[str], list[Section]]:
    """The README's lines before its first ``## `` heading, and its sections."""
    head: list[str] = []
    sections: list[Section] = []
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        if not in_fence and line.startswith("## "):
            sections.append(Section(line[3:].strip()))
        elif sections:
            sections[-1].lines.append(line)
        else:
            head.append(line)
    return head, sections


def _relative(target: str, page: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(page) or ".")


def rewrite_links(
    text: str,
    page: str,
    repo_url: str | None,
    source: str = "README.md",
    places: dict[str, str] | None = None,
    titles: Collection[str] = (),
) -> str:
    """The links of ``source`` (a file of the repository) as seen from the site's ``page``:
    files under docs/ as pages of the site, other files of the repository on ``repo_url`` (as
    plain paths without one), and headings of the README (``places``: anchor -> page) on the
    pages holding them."""

    def one(match: re.Match[str]) -> str:
        bang, label, target = match.groups()
        path, _, anchor = target.partition("#")
        if "://" in target or target.startswith("mailto:"):
            return match[0]
        if not path:  # a heading of the same file
            if places is None:
                return match[0]
            where = places.get(anchor)
            if where is None:
                log.warning("README link to #%s: no such heading", anchor)
                return match[0]
            if where == page:
                return match[0]
            suffix = "" if anchor in titles else f"#{anchor}"
            return f"{bang}[{label}]({_relative(where, page)}{suffix})"
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
    readme = (root(config) / "README.md").read_text(encoding="utf-8")
    head, sections = split(readme)
    by_heading = {section.heading: section for section in sections}
    guides = {title: path for title, path in unwritten(config, files, "guides/")}
    for title in guides:
        if title not in by_heading:
            log.warning(
                "the nav's guide %r has no file and no README section of that heading", title
            )
    # Every anchor of the README, and the page its heading ends up on.
    places: dict[str, str] = {}
    titles = set()
    for section in sections:
        where = guides.get(section.heading, "index.md")
        if where != "index.md":
            titles.add(_slug(section.heading))
        for slug in section.slugs:
            places.setdefault(slug, where)
    for title, path in nav_pages(config.nav or []):
        # A guide already moved into docs/: README links to its heading go there.
        if title and path.startswith("guides/") and title not in guides:
            places.setdefault(_slug(title), path)
            titles.add(_slug(title))
    repo_url = config.repo_url

    def page(path: str, text: str) -> None:
        add(files, config, path, rewrite_links(text, path, repo_url, places=places, titles=titles))

    for title, path in guides.items():
        if title in by_heading:
            page(path, "\n".join([f"# {title}", *by_heading[title].lines]))
    if files.get_file_from_path("index.md") is None:
        kept = [
            "\n".join([f"## {s.heading}", *s.lines]) for s in sections if s.heading not in guides
        ]
        page("index.md", "\n".join([*head, *kept]))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """A page of docs/: its links to files outside docs/ rewritten (see the module docstring)."""
    if page.file.generated_by is not None or not page.file.src_uri.endswith(".md"):
        return markdown  # the hooks' own pages are written with their links already right
    source = f"docs/{page.file.src_uri}"
    return rewrite_links(markdown, page.file.src_uri, config.repo_url, source=source)
