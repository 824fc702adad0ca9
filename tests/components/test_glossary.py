"""The glossary: every term the grids name has a one-line definition, and grid columns carry it."""
from __future__ import annotations

import pytest

from components import glossary


def test_every_definition_is_one_line_of_words():
    for term, text in glossary.TERMS.items():
        assert text.endswith(".") and "\n" not in text and 20 < len(text) < 260, term


def test_a_column_has_a_word_for_header_and_the_definition_as_tooltip():
    assert glossary.column("ood_score", "Distance to training", "distance to training") == {
        "field": "ood_score", "headerName": "Distance to training",
        "headerTooltip": glossary.TERMS["distance to training"]}
    assert "headerTooltip" not in glossary.column("sample_id", "Sample")
    with pytest.raises(KeyError):
        glossary.column("x", "X", "a word the glossary lacks")


def test_the_pages_grids_use_glossary_terms(app):
    import sys

    import dash

    # the page modules as the app loaded them (importing one again would register its page twice)
    modules = {page["module"].rsplit(".", 1)[-1]: sys.modules[page["module"]] for page in dash.page_registry.values()}
    for path, headers in (("run", "GRID_HEADERS"), ("runs", "HEADERS")):
        module = modules[path]
        for field, (header, term) in getattr(module, headers).items():
            assert header[0].isupper() and "_" not in header, (path, field)
            assert term is None or term in glossary.TERMS, (path, field)
