"""On-disk cache of encoder outputs keyed by (model identity, text), safe against interrupted writes.

Entries live in chunk files under `<root>/<model identity>/`; each encode call that computed something new
writes one chunk. A chunk is written to a temporary file and renamed into place (gan_trader.io.atomic_path),
and it carries its own length and SHA-256 checksum, so a chunk cut short by a crash, a full disk or a copy
that stopped half-way is recognised and ignored with a warning (the texts are simply encoded again), never
read as valid. The magic bytes carry the format version (`io.EMBEDDING_CACHE_FORMAT`): a chunk of another
version is skipped with a note and its texts are encoded again. Processes sharing the folder take its lock
(`io.file_lock`) to read, write and merge chunks, so a merge never removes a chunk another process wrote.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from pathlib import Path

import numpy as np

from gan_trader.io import EMBEDDING_CACHE_FORMAT, atomic_open, file_lock

log = logging.getLogger(__name__)

MAGIC_PREFIX = b"GTSENT"
MAGIC = MAGIC_PREFIX + str(EMBEDDING_CACHE_FORMAT).encode() + b"\n"
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
        with file_lock(self.directory):
            self._read_chunks()

    def _read_chunks(self) -> list[Path]:
        """Add every readable chunk on disk to the rows in memory; returns the chunk files found."""
        chunks = sorted(self.directory.glob(CHUNK_GLOB))
        for chunk in chunks:
            try:
                payload = chunk.read_bytes()
            except OSError:
                payload = b""
            decoded = decode_chunk(payload)
            if decoded is None:
                if payload.startswith(MAGIC_PREFIX) and not payload.startswith(MAGIC):
                    log.info(
                        "sentiment cache: skipping %s, written by another format version (%r); its texts "
                        "are encoded again",
                        chunk,
                        payload[len(MAGIC_PREFIX) : payload.find(b"\n")].decode(errors="replace"),
                    )
                else:
                    log.warning(
                        "sentiment cache: ignoring damaged chunk %s (its texts are encoded again)", chunk
                    )
                continue
            keys, values = decoded
            for key, row in zip(keys, values, strict=True):
                self._rows.setdefault(key, row)
        return chunks

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
        with file_lock(self.directory):
            chunks = sorted(self.directory.glob(CHUNK_GLOB))
            if len(chunks) >= MAX_CHUNKS:
                return self._compact()
            keys = list(fresh)
            payload = encode_chunk(keys, np.stack([fresh[k] for k in keys]))
            name = f"chunk-{hashlib.sha256(payload).hexdigest()[:20]}.bin"
            return self._write(self.directory / name, payload)

    def _compact(self) -> Path:
        """Merge every chunk on disk (other processes' too) and the rows in memory into one chunk, then
        remove the chunk files it replaces. Called with the folder's lock held."""
        old_chunks = self._read_chunks()
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
