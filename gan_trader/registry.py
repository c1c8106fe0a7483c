"""Registries map a name to "module:attribute"; the module is imported only when the name is used."""

from __future__ import annotations

import importlib
from typing import Any

from gan_trader.errors import ConfigError


def resolve(registry: dict[str, str], name: str, unknown: str) -> Any:
    """Import what `name` is registered as; an unknown name raises ConfigError("<unknown> (known: ...)")."""
    if name not in registry:
        raise ConfigError(f"{unknown} (known: {', '.join(registry)})")
    module_name, _, attribute = registry[name].partition(":")
    return getattr(importlib.import_module(module_name), attribute)
