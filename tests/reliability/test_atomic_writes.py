"""Every file gan_trader writes goes through a temporary file and a rename (gan_trader.io)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gan_trader.io import atomic_open, atomic_path, write_json, write_text

PACKAGE = Path(__file__).resolve().parents[2] / "gan_trader"
WRITE = re.compile(
    r"\.to_csv\(|\.to_parquet\(|\.savefig\(|\.write_text\(|\.write_bytes\(|torch\.save\(|np\.save|"
    r"json\.dump\(|shutil\.copy|open\([^)]*['\"][wa]b?\+?['\"]|\.save\("
)
# Writes whose target is a temporary file (atomic_path's tmp), an in-memory buffer or atomic_open's handle.
SAFE_TARGET = re.compile(r"\((tmp|buffer|handle)\b|^tmp\.|, tmp\)|\.to_csv\(\)|atomic_(open|path)\(")
# Methods of our own that write atomically inside (BayesOptimizer.save, Policy.save use gan_trader.io).
ATOMIC_INSIDE = {
    ("tuning/strategies/bo.py", 'self.optimizer.save(folder / "optimizer.json")'),
    ("tuning/agents.py", "policy.save(path)"),
    ("tuning/agents.py", "current.save(path)"),
}
# Writes into a fresh TemporaryDirectory (then copied by MLflow or Ray): nobody reads them half-written.
IN_TEMP_DIR = {
    ("tuning/strategies/pbt.py", "shutil.copy(result.checkpoint, Path(out) / result.checkpoint.name)"),
    ("tracking/store.py", 'target.write_text(text, encoding="utf-8")'),
    ("tracking/store.py", 'figure.savefig(target, dpi=110, bbox_inches="tight")'),
    ("tuning/strategies/pbt.py", '(Path(out) / "meta.json").write_text(json.dumps(meta), encoding="utf-8")'),
}
# Calls named like writes that write nothing to the project's files.
NOT_FILES = (
    "self.strategy.save(",
    "strategy.save(",
    "session.save(",
    "self.save(",
    "super().save(",  # the parent's save, itself checked here
    "self.model.save(buffer)",
)


def _writes() -> set[tuple[str, str]]:
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "io.py" and path.parent == PACKAGE:
            continue
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            code = line.split("#")[0].strip()
            if not WRITE.search(code) or SAFE_TARGET.search(code) or code.startswith(NOT_FILES):
                continue
            if code.endswith("(") and SAFE_TARGET.search("(" + lines[number + 1].strip()):
                continue  # the target is on the next line
            found.add((str(path.relative_to(PACKAGE)), code))
    return found


def test_no_new_non_atomic_writes() -> None:
    unexpected = _writes() - ATOMIC_INSIDE - IN_TEMP_DIR
    assert not unexpected, f"route these through gan_trader.io: {sorted(unexpected)}"


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path: Path, error: type[BaseException]) -> None:
    target = tmp_path / "state.json"
    write_json(target, {"v": 1})
    with pytest.raises(error), atomic_open(target) as handle:
        handle.write('{"v": 2, "half')
        raise error()
    assert target.read_text() == '{\n  "v": 1\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    with pytest.raises(error), atomic_path(tmp_path / "new.csv") as tmp:
        tmp.write_text("half")
        raise error()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    write_text(target, "done")
    assert target.read_text() == "done"
