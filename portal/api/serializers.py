"""What the API answers about models: the JSON of a model, its versions and its feature schema, built
from the registry's typed version properties (the shapes are schemas.ModelSummary and ModelDetail)."""
from __future__ import annotations

from engine.registry import ModelVersion, Registry


def version_summary(version: ModelVersion) -> dict:
    """A version with its headline held-out figures (engine.headline) and the abstain threshold."""
    return {"version": version.version, "aliases": list(version.aliases), "sha256": version.sha256,
            "algorithm": version.algorithm, "created": version.created,
            "metrics": {**version.headline_metrics, "abstain_threshold": version.abstain_threshold}}


def model_summary(registry: Registry, name: str) -> dict:
    versions = registry.versions(name)
    latest = versions[-1]
    return {"name": name, "dataset": latest.dataset_id, "classes": latest.classes,
            "versions": [version_summary(v) for v in versions]}


def model_detail(registry: Registry, name: str) -> dict:
    """The summary with the default version's feature schema and model card."""
    version = registry.version_of(name)
    schema = version.schema
    return {**model_summary(registry, name), "id_column": schema.id_column,
            "features": [{"name": f.name, "group": f.group, "kind": f.kind, "minimum": f.minimum,
                          "maximum": f.maximum} for f in schema.features],
            "model_card": version.model_card}
