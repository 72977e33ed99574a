"""``from llama_index.llms.r1v4 import R1V4``: LlamaIndex's naming for ``llama_index_r1v4``.

A pure re-export of ``llama_index_r1v4``'s public names, taken from its ``__all__`` so the two
never drift apart. ``llama_index`` and ``llama_index.llms`` are namespace packages shared with
llama-index-core and the other integrations, so this distribution ships no ``__init__.py`` in
either of them.
"""

import llama_index_r1v4
from llama_index_r1v4 import *  # noqa: F403 - the names listed in its __all__

__all__ = llama_index_r1v4.__all__
