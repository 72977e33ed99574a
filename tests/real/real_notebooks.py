"""Save the notebooks that show a real model's tokens (``notebooks.REAL_NOTEBOOKS``) with what
they produce against the tier's llama.cpp server and model, started here by :func:`served`::

    make notebooks-real
    PYTHONPATH=tests python tests/real/real_notebooks.py [docs/notebooks/llama_cpp.ipynb ...]

The tier's test (``test_real_notebooks.py``) runs them against the same server and compares
what holds for any tokens. Each run saves other words (llama.cpp samples): save only after
changing a notebook or what it shows.
"""

from __future__ import annotations

import sys
from pathlib import Path

from notebooks import REAL_NOTEBOOKS, save
from real_server import REAL_KEY, LlamaServer, RealFiles, provision

# The server's cap on a reply's tokens. A grammar lets the model spell its text in any tokens,
# down to one per character, so the notebook's forced cells give ``max_tokens`` room for that
# (up to 200); the tier's other servers cap replies at 128.
N_PREDICT = 512


def served(files: RealFiles, key: str = REAL_KEY, *, own_template: bool = False) -> LlamaServer:
    """The server the notebooks run against: SmolLM2 with the tier's tool chat template (the
    one its ``llama`` fixture has), or with ``own_template`` the model's own."""
    server, model, template = files
    return LlamaServer(
        server,
        model,
        api_key=key,
        chat_template=None if own_template else template,
        n_predict=N_PREDICT,
    )


def variables(llama: LlamaServer, key: str) -> dict[str, str]:
    """What a notebook's kernel gets to reach ``llama``."""
    return {"SKYWORK_BASE_URL": llama.base_url, "SKYWORK_API_KEY": key}


def main(names: list[str]) -> None:
    paths = [Path(name).resolve() for name in names] or REAL_NOTEBOOKS
    with served(provision()) as llama:
        for path in paths:
            print(f"executing {path} against llama.cpp", flush=True)
            save(path, variables(llama, REAL_KEY))


if __name__ == "__main__":
    main(sys.argv[1:])
