"""A griffe extension for the API reference: Sphinx roles in docstrings as code.

The docstrings name objects the way Sphinx does (``:class:`r1v4.R1V4Client```), which Markdown
shows as stray colons; this turns each role into the code span its text already is.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|attr|mod|exc|data|obj):`~?([^`]+)`")


class SphinxRoles(griffe.Extension):
    """``:role:`name``` -> ```name```, in every docstring griffe reads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(r"`\1`", obj.docstring.value)
