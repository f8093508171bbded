"""What tools/keycloak.py and tools/openam.py share to run a pinned Java server (stdlib only).

Fetching from Maven Central with its published SHA-1, unpacking into the cache, finding a
Java's major version, a free loopback port, starting a server in its own process group,
waiting until it answers, stopping it, and the foreground ``serve`` loop. Every function
that can fail takes the calling tool's error class, so each tool keeps raising its own.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

LOG_TAIL_LINES = 40
# A published .sha1 file is 40 hex digits and perhaps a file name; read no more than this.
CHECKSUM_READ_LIMIT = 200

ToolError = type[Exception]


def cache_root() -> Path:
    """``$UMA_CACHE`` (``make`` exports it; tests run with a fresh HOME)."""
    root = os.environ.get("UMA_CACHE") or str(Path.home() / ".cache" / "uma-desktop")
    return Path(root).expanduser()


def say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, flush=True)


# --------------------------------------------------------------------------- fetch


def _download(url: str, target: Path) -> None:
    part = target.with_name(target.name + ".part")
    with urllib.request.urlopen(url, timeout=60) as response, part.open("wb") as out:  # noqa: S310
        shutil.copyfileobj(response, out, length=1 << 20)
    part.replace(target)


def _sha1_of(path: Path) -> str:
    digest = hashlib.sha1()  # noqa: S324 (Maven Central publishes SHA-1 checksums)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, url: str, *, redo: str, error: ToolError, quiet: bool) -> None:
    """Compare with the .sha1 Maven Central publishes beside the file (once per file)."""
    marker = path.with_name(path.name + ".verified")
    actual = _sha1_of(path)
    if marker.is_file() and marker.read_text().strip() == actual:
        say(f"checksum already verified: {path.name}", quiet)
        return
    try:
        with urllib.request.urlopen(url + ".sha1", timeout=60) as response:  # noqa: S310
            answer = response.read(CHECKSUM_READ_LIMIT)
        published = answer.decode("ascii", "replace").split()[0].lower()
    except (urllib.error.URLError, OSError, IndexError) as exc:
        raise error(
            f"Could not fetch the published checksum {url}.sha1 ({exc}); "
            f"check the network and run `{redo}` again."
        ) from None
    if published != actual:
        path.rename(path.with_name(path.name + ".corrupt"))
        raise error(
            f"{path.name}: SHA-1 {actual} does not match the published {published}; "
            f"the file was moved aside, run `{redo}` again."
        )
    marker.write_text(actual + "\n")
    say(f"checksum verified: {path.name} sha1={actual}", quiet)


def fetch_verified(
    url: str, path: Path, *, redo: str, error: ToolError, quiet: bool
) -> float | None:
    """Download ``url`` to ``path`` unless it is there, then check its published SHA-1.

    Returns the seconds the download took, or None when the file was already there.
    ``redo`` is the command that repeats the fetch, named in error messages.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    seconds: float | None = None
    if path.is_file():
        say(f"already downloaded: {path}", quiet)
    else:
        say(f"downloading {url}", quiet)
        began = time.monotonic()
        try:
            _download(url, path)
        except (urllib.error.URLError, OSError) as exc:
            raise error(f"Download of {url} failed: {exc}") from None
        seconds = time.monotonic() - began
        say(f"downloaded {path.stat().st_size} bytes", quiet)
    _verify(path, url, redo=redo, error=error, quiet=quiet)
    return seconds


def unpack(
    archive: Path, target: Path, *, strip_top: bool, required: str, error: ToolError, quiet: bool
) -> None:
    """Unpack into a staging directory beside ``target``, keep modes, rename into place.

    ``strip_top``: the archive holds one top-level folder, whose content becomes ``target``.
    ``required``: a relative path the unpacked tree must contain.
    """
    staging = Path(tempfile.mkdtemp(prefix="unpack-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                extracted = Path(zf.extract(info, staging))
                mode = (info.external_attr >> 16) & 0o777
                if mode and not info.is_dir():
                    extracted.chmod(mode)
        top = staging
        if strip_top:
            entries = list(staging.iterdir())
            if len(entries) != 1 or not entries[0].is_dir():
                raise error(f"{archive.name}: expected one top-level folder")
            top = entries[0]
        if not (top / required).is_file():
            raise error(f"{archive.name} does not contain {required}")
        if target.exists():
            shutil.rmtree(target)
        top.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    say(f"unpacked to {target}", quiet)


# --------------------------------------------------------------------------- java


def java_major(java_home: Path) -> int | None:
    """Major version from the JDK's ``release`` file, or from ``java -version``."""
    release = java_home / "release"
    if release.is_file():
        match = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(errors="replace"), re.M)
        if match:
            return int(match.group(1))
    java = java_home / "bin" / "java"
    if not java.is_file():
        return None
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)', out.stderr + out.stdout)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------- run


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def launch(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """Start ``command`` with its output in ``log_path``, in its own process group."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stop_process_group() signals the script and java together
        )


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM the process group, SIGKILL it if it has not ended after ``timeout``."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_until(
    answers: Callable[[], bool],
    *,
    timeout: float,
    interval: float,
    error: ToolError,
    name: str,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> None:
    """Call ``answers`` until it is true; fail when ``process`` ends or ``timeout`` passes.

    ``name`` is the process's name, ``what`` the thing that did not answer; error messages
    end with the log's tail.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            tail = log_tail(log_path) if log_path else ""
            raise error(
                f"{name} exited with status {process.returncode} before it was ready.\n{tail}"
            )
        try:
            if answers():
                return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            tail = log_tail(log_path) if log_path else ""
            raise error(f"{what} was not ready after {timeout:.0f} s.\n{tail}")
        time.sleep(interval)


def serve_in_foreground(
    process: subprocess.Popen[bytes], stop: Callable[[], None], *, name: str
) -> int:
    """Wait for Ctrl-C or SIGTERM, then ``stop()``; 1 if the server ended by itself."""

    def _on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_term)
    try:
        while process.poll() is None:
            time.sleep(0.5)
        print(f"{name} exited with status {process.returncode}", file=sys.stderr)
        stop()
        return 1
    except KeyboardInterrupt:
        print(f"stopping {name} ...", flush=True)
        stop()
        return 0
