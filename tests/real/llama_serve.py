"""Run llama.cpp's server (its own C++ HTTP server, through the ``xllamacpp`` wheel) until
SIGTERM; ``real_server.LlamaServer`` starts this script as a child process.

    python llama_serve.py '{"package_dir": ..., "model": ..., "port": ..., ...}'

Each setting is the one of ``llama-server``'s flags named beside it. ``xllamacpp``'s Linux
x86_64 CPU wheel is built without ``-march=native`` (AVX2, no AVX-512), so it starts on any
x86_64 machine from the last ten years; the ``llama-server`` wheel it replaced was built for
AVX-512 and died of SIGILL on an AVX2-only CPU.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any


def main(config: dict[str, object]) -> None:
    sys.dont_write_bytecode = True  # the cached package stays as verified
    sys.path.insert(0, str(config["package_dir"]))
    xllamacpp: Any = importlib.import_module("xllamacpp")  # the verified cache's, not the venv's

    params = xllamacpp.CommonParams()
    params.model.path = config["model"]  # --model
    params.hostname = "127.0.0.1"  # --host
    params.port = config["port"]  # --port
    params.api_keys = [config["api_key"]]  # --api-key
    params.use_jinja = config["jinja"]  # --jinja / --no-jinja
    params.n_predict = config["n_predict"]  # -n
    params.n_ctx = config["ctx_size"]  # --ctx-size
    params.n_parallel = config["parallel"]  # --parallel
    params.cpuparams.n_threads = config["threads"]  # --threads
    params.cpuparams_batch.n_threads = config["threads"]  # --threads-batch (follows -t)
    params.n_batch = config["batch_size"]  # --batch-size
    params.ui = False  # --no-webui
    if config["chat_template"] is not None:  # --chat-template-file: the file's text
        params.chat_template = Path(str(config["chat_template"])).read_text()
    server = xllamacpp.Server(params)  # returns once the model is loaded and it listens
    print(f"listening on {server.listening_address}", flush=True)
    # Until SIGTERM, or until the test run that started it is gone (killed, it cannot stop us).
    parent = os.getppid()
    while not signal.sigtimedwait({signal.SIGTERM, signal.SIGINT}, 1.0):
        if os.getppid() != parent:
            break


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main(json.loads(sys.argv[1]))
