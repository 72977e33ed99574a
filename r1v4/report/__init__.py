"""Static HTML reports of R1V4 trajectories: ``r1v4 report`` and, for notebooks, ``render_html``.

    from r1v4.report import render_html
    html = render_html(reply)                       # one ChatCompletion (or a results record)
    from IPython.display import HTML; HTML(html)    # in Jupyter

The page loads nothing from the network (inline CSS, images embedded as data URIs, a Content
Security Policy allowing no script), and everything from a transcript is escaped by Jinja2's
autoescape. Needs the ``cli`` extra (Jinja2, Pillow for thumbnails).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from r1v4 import ChatCompletion

__all__ = ["load_run", "render_html", "render_report", "write_report"]


def render_html(
    reply: ChatCompletion | Mapping[str, Any],
    *,
    question: str | None = None,
    images: Sequence[str] = (),
    title: str | None = None,
) -> str:
    """One reply as a self-contained HTML page (its trace, sources, plan, answer, usage).

    ``reply`` is a :class:`r1v4.ChatCompletion` or one record of a results file; ``question``
    and ``images`` (paths, data URIs or URLs) are shown as the input when given.
    """
    from ._html import render_one

    return render_one(reply, question=question, images=images, title=title)


def load_run(paths: Iterable[str | Path]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The records of several results files (shards) as one run, one record per case id."""
    from ._html import load_run as _load

    return _load(paths)


def render_report(paths: Iterable[str | Path], *, title: str | None = None) -> str:
    """The HTML report of one or more results files."""
    from ._html import render_run

    return render_run([Path(p) for p in paths], title=title)[0]


def write_report(
    paths: Iterable[str | Path], output: str | Path, *, title: str | None = None
) -> dict[str, Any]:
    """Write the report of ``paths`` to ``output``; return its summary counts."""
    from ._html import render_run

    html, summary = render_run([Path(p) for p in paths], title=title)
    Path(output).write_text(html, encoding="utf-8")
    return summary
