"""The pages' model and version dropdowns, built one way (components.version_choices), on the session's
registry: two real models, each with version 1 under production."""
from __future__ import annotations

from components.version_choices import alias_and_version_options, model_choice, version_choice, version_options

MODEL = "tcga-mirna-type"


def test_versions_are_labelled_with_their_aliases_and_the_default_is_production(registry):
    versions = registry.versions(MODEL)
    assert version_options(versions) == [{"label": "1 (production)", "value": 1}]
    default = registry.default_version(MODEL)
    assert version_choice(versions, 1, default) == 1
    assert version_choice(versions, 9, default) == default == 1  # a version that does not exist
    assert version_choice(versions, None, default) == 1
    assert alias_and_version_options(registry.aliases(MODEL), versions) == [
        {"label": "production (version 1)", "value": "production"}, {"label": "version 1", "value": "1"}]


def test_a_page_opens_with_the_model_asked_for_or_the_first(registry):
    names = registry.models()
    assert model_choice(names, MODEL) == MODEL
    assert model_choice(names, "no-such-model") == names[0]
    assert model_choice([], None) is None
