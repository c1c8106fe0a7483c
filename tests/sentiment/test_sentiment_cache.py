"""The embedding cache: hits, keys by model identity, and survival of interrupted or damaged writes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gan_trader.sentiment import cache as cache_module
from gan_trader.sentiment.cache import EmbeddingCache, decode_chunk, encode_chunk, text_key
from gan_trader.sentiment.encoder import encode_cached


class CountingEncoder:
    """Test double for TextEncoder: a deterministic 'embedding' per text, counting what it is asked."""

    width = 4

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.seen += texts
        return np.array([[len(t), sum(map(ord, t)) % 97, t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_chunk_round_trip_and_damage_detection() -> None:
    keys = [text_key("a"), text_key("b")]
    values = np.arange(8, dtype=np.float32).reshape(2, 4)
    payload = encode_chunk(keys, values)
    decoded = decode_chunk(payload)
    assert decoded is not None
    assert decoded[0] == keys and np.array_equal(decoded[1], values)
    assert decode_chunk(payload[:-1]) is None  # cut short
    assert decode_chunk(payload + b"\0") is None  # padded
    flipped = bytearray(payload)
    flipped[len(payload) // 2] ^= 0xFF
    assert decode_chunk(bytes(flipped)) is None  # a bit changed
    assert decode_chunk(b"") is None


def test_second_run_hits_the_cache(tmp_path: Path) -> None:
    texts = ["alpha", "beta", "alpha", "gamma"]
    encoder = CountingEncoder()
    first = encode_cached(encoder, texts, EmbeddingCache(tmp_path, "model-a"))  # type: ignore[arg-type]
    assert encoder.seen == ["alpha", "beta", "gamma"]  # duplicates encoded once

    fresh_encoder = CountingEncoder()
    reopened = EmbeddingCache(tmp_path, "model-a")
    second = encode_cached(fresh_encoder, texts, reopened)  # type: ignore[arg-type]
    assert fresh_encoder.seen == []
    assert reopened.hits == 3 and reopened.misses == 0
    assert np.array_equal(first, second)

    # another model identity shares nothing
    other = CountingEncoder()
    encode_cached(other, texts, EmbeddingCache(tmp_path, "model-b"))  # type: ignore[arg-type]
    assert other.seen == ["alpha", "beta", "gamma"]

    # new texts are added without re-encoding the old ones
    more = CountingEncoder()
    encode_cached(more, ["beta", "delta"], EmbeddingCache(tmp_path, "model-a"))  # type: ignore[arg-type]
    assert more.seen == ["delta"]
    assert len(EmbeddingCache(tmp_path, "model-a")) == 4


class Interrupted(BaseException):
    """Stands for KeyboardInterrupt / SystemExit arriving in the middle of a write."""


def test_interrupted_write_leaves_no_valid_looking_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash half-way through a chunk write: nothing half-written is read back, the next run recomputes."""
    encode_cached(CountingEncoder(), ["old"], EmbeddingCache(tmp_path, "m"))  # type: ignore[arg-type]
    real_atomic_open = cache_module.atomic_open

    @contextlib.contextmanager
    def crash_half_way(path: Path, mode: str = "w") -> Iterator[object]:
        with real_atomic_open(path, mode) as handle:

            class HalfWriter:
                def write(self, data: bytes) -> None:
                    handle.write(data[: len(data) // 2])
                    handle.flush()
                    raise Interrupted

            yield HalfWriter()

    monkeypatch.setattr(cache_module, "atomic_open", crash_half_way)
    with pytest.raises(Interrupted):
        encode_cached(CountingEncoder(), ["old", "new"], EmbeddingCache(tmp_path, "m"))  # type: ignore[arg-type]
    monkeypatch.undo()

    assert len(list((tmp_path / "m").glob("chunk-*.bin"))) == 1  # only the complete, earlier chunk
    assert not list((tmp_path / "m").glob("*.tmp"))  # the temporary file was removed
    encoder = CountingEncoder()
    encode_cached(encoder, ["old", "new"], EmbeddingCache(tmp_path, "m"))  # type: ignore[arg-type]
    assert encoder.seen == ["new"]  # "old" still valid, "new" recomputed


def test_torn_and_stray_files_are_ignored(tmp_path: Path) -> None:
    """A chunk cut short after the rename (power loss, partial copy) and a stray temp file are not trusted."""
    encode_cached(CountingEncoder(), ["one", "two"], EmbeddingCache(tmp_path, "m"))  # type: ignore[arg-type]
    (chunk,) = (tmp_path / "m").glob("chunk-*.bin")
    chunk.write_bytes(chunk.read_bytes()[:-10])
    (tmp_path / "m" / ".chunk-abc.bin.123.tmp").write_bytes(b"partial")
    encoder = CountingEncoder()
    values = encode_cached(encoder, ["one", "two"], EmbeddingCache(tmp_path, "m"))  # type: ignore[arg-type]
    assert encoder.seen == ["one", "two"]
    assert np.array_equal(values, CountingEncoder().encode(["one", "two"]))


def test_many_chunks_are_compacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "MAX_CHUNKS", 3)
    cache = EmbeddingCache(tmp_path, "m")
    for i in range(5):
        encode_cached(CountingEncoder(), [f"text {i}"], cache)  # type: ignore[arg-type]
    assert len(list((tmp_path / "m").glob("chunk-*.bin"))) <= 3
    encoder = CountingEncoder()
    encode_cached(encoder, [f"text {i}" for i in range(5)], EmbeddingCache(tmp_path, "m"))  # type: ignore[arg-type]
    assert encoder.seen == []
