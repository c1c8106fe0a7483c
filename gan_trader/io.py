"""Files gan-trader writes and reads back: atomic writes, format versions, damaged files, locks.

- Writes go to a temporary file in the same folder, then a rename: readers never see half a file.
- Each kind of file that holds state carries a format version (the constants below, one per kind, bumped
  when that kind's layout changes). A file of another version is out of date, not damaged.
- A file that cannot be read back is damaged: derived data (caches, forecasts, plots) is rebuilt by its
  owner with a logged warning; state (`read_state`) raises DamagedFileError naming the file and what to do.
- `file_lock` serialises processes that share a file (a saved policy, a cache entry) in one folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from gan_trader.errors import DamagedFileError, OutdatedFileError

log = logging.getLogger(__name__)

# Format versions, one per kind of file (the key `format` inside the file unless said otherwise).
SESSION_STATE_FORMAT = 2  # <sessions_dir>/<session>/state.json and strategy/random.json
OPTIMIZER_STATE_FORMAT = 1  # <sessions_dir>/<session>/strategy/optimizer.json (+ optimizer.bo.json)
CHECKPOINT_FORMAT = 2  # GAN checkpoints: best.pt, last.pt, model.pt
POLICY_FORMAT = 3  # saved RL policies (<runs_dir>/policies/<experiment>-<space>-<algo>.zip, gan_trader.json);
# 3: the learning curve's slope observed, DQN's replay buffer kept in the zip
RUN_FORMAT = 2  # logged runs: their tags, params and metric names (tag gan_trader.format); 2: val/relmae
FEATURE_CACHE_FORMAT = 2  # feature cache entries (part of the cache key and of the entry's .json)
EMBEDDING_CACHE_FORMAT = 1  # sentiment embedding chunks (in the chunk's magic bytes)


def _umask() -> int:
    """The process umask, read without changing it where Linux exposes it (os.umask would set it briefly)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed over `path`, on error removed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            # mkstemp creates 0600 files; give the result the permissions a plain open() would.
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing that replaces `path` only when the block succeeds."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_json(path: str | Path, payload: Any) -> None:
    write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def format_version(payload: Any) -> int | None:
    """The format version a file's payload declares (None: written before format versions)."""
    version = payload.get("format") if isinstance(payload, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def describe_version(version: int | None) -> str:
    return f"format version {version}" if version is not None else "no format version (an older gan-trader)"


def read_state(path: str | Path, what: str, expected: int, remedy: str) -> dict[str, Any]:
    """A JSON state file of format version `expected`; DamagedFileError when it cannot be read back,
    OutdatedFileError when it has another version. Both name the file and say `remedy` (what to do)."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DamagedFileError(f"{path}: damaged {what} ({type(exc).__name__}); {remedy}") from None
    if not isinstance(payload, dict):
        raise DamagedFileError(f"{path}: damaged {what} (not a JSON object); {remedy}")
    version = format_version(payload)
    if version != expected:
        raise OutdatedFileError(
            f"{path}: {what} of {describe_version(version)}, this gan-trader reads version {expected}; "
            f"{remedy}"
        )
    return payload


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock for `path` (on the hidden file `.<name>.lock` beside it) while the block runs.

    An advisory flock: every gan-trader process that reads or writes `path` takes it, so two runs in one
    folder never both build (or half-read) the same entry. The kernel drops it when its process dies, so a
    killed run never leaves a stale lock. On a file system without locks the block runs unlocked (with a
    warning): the atomic writes still keep every file whole.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(f".{target.name}.lock"), "a+b") as handle:
        locked = True
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another gan-trader process using %s", target)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        except OSError as exc:  # ENOLCK, EOPNOTSUPP: some network and FUSE mounts
            log.warning("cannot lock %s (%s); two runs sharing it may both rebuild it", target, exc)
            locked = False
        try:
            yield
        finally:
            if locked:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
