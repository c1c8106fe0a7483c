"""On-disk cache of encoder outputs keyed by (model identity, text), safe against interrupted writes.

Entries live in chunk files under `<root>/<model identity>/`; each encode call that computed something new
writes one chunk. A chunk is written to a temporary file and renamed into place (gan_trader.io.atomic_path),
and it carries its own length and SHA-256 checksum, so a chunk cut short by a crash, a full disk or a copy
that stopped half-way is recognised and ignored (the texts are simply encoded again), never read as valid.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from pathlib import Path

import numpy as np

from gan_trader.io import atomic_open

log = logging.getLogger(__name__)

MAGIC = b"GTSENT1\n"
HEADER = struct.Struct("<QI")  # rows, width
KEY_BYTES = 32
DIGEST_BYTES = 32
CHUNK_GLOB = "chunk-*.bin"
MAX_CHUNKS = 64  # beyond this many files, chunks are merged into one on the next write


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def encode_chunk(keys: list[bytes], values: np.ndarray) -> bytes:
    """Serialise one chunk: magic, header, keys, float32 values, then the SHA-256 of all of it."""
    values = np.ascontiguousarray(values, dtype="<f4")
    body = MAGIC + HEADER.pack(len(keys), values.shape[1]) + b"".join(keys) + values.tobytes()
    return body + hashlib.sha256(body).digest()


def decode_chunk(payload: bytes) -> tuple[list[bytes], np.ndarray] | None:
    """Parse a chunk; None when it is truncated, padded, corrupted or not a chunk at all."""
    start = len(MAGIC) + HEADER.size
    if len(payload) < start + DIGEST_BYTES or not payload.startswith(MAGIC):
        return None
    rows, width = HEADER.unpack_from(payload, len(MAGIC))
    expected = start + rows * KEY_BYTES + rows * width * 4 + DIGEST_BYTES
    if len(payload) != expected:
        return None
    body, digest = payload[:-DIGEST_BYTES], payload[-DIGEST_BYTES:]
    if hashlib.sha256(body).digest() != digest:
        return None
    keys_end = start + rows * KEY_BYTES
    keys = [payload[start + i * KEY_BYTES : start + (i + 1) * KEY_BYTES] for i in range(rows)]
    values = np.frombuffer(payload, dtype="<f4", count=rows * width, offset=keys_end).reshape(rows, width)
    return keys, values.astype(np.float32)


class EmbeddingCache:
    """Encoder outputs for one model identity, loaded from disk once and extended by `store`."""

    def __init__(self, root: str | Path, model_identity: str) -> None:
        self.directory = Path(root) / model_identity
        self._rows: dict[bytes, np.ndarray] = {}
        self._loaded = False
        self.hits = 0
        self.misses = 0

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if not self.directory.is_dir():
            return
        for chunk in sorted(self.directory.glob(CHUNK_GLOB)):
            try:
                decoded = decode_chunk(chunk.read_bytes())
            except OSError:
                decoded = None
            if decoded is None:
                log.warning("sentiment cache: ignoring damaged chunk %s (its texts are encoded again)", chunk)
                continue
            keys, values = decoded
            for key, row in zip(keys, values, strict=True):
                self._rows[key] = row

    def lookup(self, texts: list[str]) -> tuple[dict[int, np.ndarray], list[int]]:
        """Cached rows by position in `texts`, and the positions that still need encoding."""
        self._load()
        found: dict[int, np.ndarray] = {}
        missing: list[int] = []
        for position, text in enumerate(texts):
            row = self._rows.get(text_key(text))
            if row is None:
                missing.append(position)
            else:
                found[position] = row
        self.hits += len(found)
        self.misses += len(missing)
        return found, missing

    def store(self, texts: list[str], values: np.ndarray) -> Path | None:
        """Write the new rows as one chunk (atomically) and keep them in memory; returns the chunk path."""
        self._load()
        fresh = {text_key(t): v for t, v in zip(texts, values, strict=True) if text_key(t) not in self._rows}
        if not fresh:
            return None
        self._rows.update(fresh)
        self.directory.mkdir(parents=True, exist_ok=True)
        chunks = sorted(self.directory.glob(CHUNK_GLOB))
        if len(chunks) >= MAX_CHUNKS:
            return self._compact(chunks)
        keys = list(fresh)
        payload = encode_chunk(keys, np.stack([fresh[k] for k in keys]))
        name = f"chunk-{hashlib.sha256(payload).hexdigest()[:20]}.bin"
        return self._write(self.directory / name, payload)

    def _compact(self, old_chunks: list[Path]) -> Path:
        """Merge everything known into one chunk, then remove the old chunk files it replaces."""
        keys = list(self._rows)
        payload = encode_chunk(keys, np.stack([self._rows[k] for k in keys]))
        merged = self._write(
            self.directory / f"chunk-{hashlib.sha256(payload).hexdigest()[:20]}.bin", payload
        )
        for chunk in old_chunks:
            if chunk != merged:
                chunk.unlink(missing_ok=True)
        return merged

    @staticmethod
    def _write(path: Path, payload: bytes) -> Path:
        with atomic_open(path, "wb") as handle:
            handle.write(payload)
        return path

    def __len__(self) -> int:
        self._load()
        return len(self._rows)
