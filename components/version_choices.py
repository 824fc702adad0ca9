"""The model and version choices of the pages' dropdowns, built one way for every page: a registry's
model names and versions in, options and the chosen value out. No registry, no state."""
from __future__ import annotations

EMPTY_REGISTRY = "The registry is empty: run `make run` or `python -m engine bootstrap`."


def model_choice(names: list[str], wanted: str | None) -> str | None:
    """The model a page opens with: the `?model=` asked for if it exists, else the first."""
    return wanted if wanted in names else (names[0] if names else None)


def version_options(versions) -> list[dict]:
    """Options of a model's versions (engine.registry.ModelVersion), each labelled with its aliases."""
    return [{"label": v.label, "value": v.version} for v in versions]


def version_choice(versions, wanted: int | None, default: int | None) -> int | None:
    """The version a page shows: `wanted` if it is one of `versions`, else `default`
    (Registry.default_version: production's, else the newest)."""
    return wanted if wanted in [v.version for v in versions] else default


def alias_and_version_options(aliases: dict[str, int], versions) -> list[dict]:
    """Options for a parameter that names a version as text (a notebook's `version`): every alias with
    the version it points at, then every version number, newest first."""
    options = [{"label": f"{alias} (version {number})", "value": alias} for alias, number in sorted(aliases.items())]
    options += [{"label": f"version {v.version}", "value": str(v.version)} for v in reversed(list(versions))]
    return options
