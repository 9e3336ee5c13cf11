"""Check upgradectl's model table against the installed anthropic SDK (run by scripts/update-deps.sh).

A dependency refresh may bring an SDK that drops or deprecates a model upgradectl names. The unit tests
only check the default and the aliases against the *locked* SDK; this script checks every priced model
family too, so a refresh shows what to update in upgradectl/settings.py before the lock is committed.
Exit 0 when everything is current, 1 with one line per problem otherwise.
"""

from __future__ import annotations

import sys
import typing

from anthropic import __version__ as sdk_version
from anthropic._data import DEPRECATED_MODELS
from anthropic.types.model_param import ModelParam

from upgradectl.settings import DEFAULT_MODEL, MODEL_ALIASES, MODEL_PRICES, price_for


def sdk_models() -> set[str]:
    """The model ids the SDK's `ModelParam` literal lists."""
    literal = next(arg for arg in typing.get_args(ModelParam) if typing.get_origin(arg) is typing.Literal)
    return set(typing.get_args(literal))


def problems() -> list[str]:
    """One line per model upgradectl names that the SDK no longer lists or calls deprecated."""
    known = sdk_models()
    lines = []
    named = {"default": [DEFAULT_MODEL], "alias": list(MODEL_ALIASES.values()), "priced": list(MODEL_PRICES)}
    for role, models in named.items():
        for model in models:
            if model not in known:
                lines.append(f"{role} model {model!r} is not in anthropic {sdk_version}'s model list")
            elif model in DEPRECATED_MODELS and role != "priced":
                lines.append(f"{role} model {model!r} is deprecated ({DEPRECATED_MODELS[model]})")
    unpriced = sorted(m for m in known if price_for(m) is None)
    if unpriced:
        print(f"note: models without a price row (costs reported as unknown): {', '.join(unpriced)}")
    return lines


if __name__ == "__main__":
    found = problems()
    for line in found:
        print(line)
    print(f"anthropic {sdk_version}: " + ("model table current" if not found else f"{len(found)} problem(s)"))
    sys.exit(1 if found else 0)
