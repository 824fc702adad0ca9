"""The data-use basis (consent) that comes with every upload: one of a fixed set of bases
(core.states.DataUseBasis) and a free-text reference (the IRB or ethics approval number, the consent or
biobank reference, the public data set), which some bases require. One check serves every way samples
arrive: the Predict page, the API's `data_use` object, a notebook's input file on the command line.

A reference is stripped, at most MAX_REFERENCE characters, one line of text without control or format
characters, and must not look like personal data (an e-mail address): it names a protocol or a source,
never a person. A refusal is a ConsentError naming its field (`basis` or `reference`)."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from portal.core.context import Portal
from portal.core.models import Upload
from portal.core.states import DataUseBasis

MAX_REFERENCE = 200
# control, format (bidirectional overrides, zero-width), surrogate, private-use and unassigned characters,
# and the line and paragraph separators
REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
EMAIL = re.compile(r"[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+\.[^\s@<>()\[\],;:\"]{2,}")


class ConsentError(ValueError):
    """A data-use basis or reference that cannot be recorded; `field` is "basis" or "reference"."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class DataUse:
    """A checked data-use basis and its reference (None when none was given)."""

    basis: DataUseBasis
    reference: str | None = None

    def to_dict(self) -> dict:
        """As it is recorded in audit entries and notebook runs' parameters."""
        return {"basis": self.basis.value, "reference": self.reference}

    @property
    def words(self) -> str:
        """The basis in words, with its reference: what the run page shows."""
        return f"{self.basis.words}: {self.reference}" if self.reference else self.basis.words


UNRECORDED = DataUse(DataUseBasis.UNRECORDED)


def choices_text() -> str:
    return ", ".join(basis.value for basis in DataUseBasis.choices())


def check_basis(value) -> DataUseBasis:
    """The chosen basis (ConsentError when none, an unknown one, or `unrecorded`, which is never chosen)."""
    if value is None or value == "":
        raise ConsentError("basis", "choose the data-use basis of these samples (consent): an upload without "
                                    f"one is refused; one of {choices_text()}")
    if not isinstance(value, str) or value not in DataUseBasis.choices():
        shown = repr(value)[:60]
        raise ConsentError("basis", f"{shown} is not a data-use basis; choose one of {choices_text()}")
    return DataUseBasis(value)


def check_reference(basis: DataUseBasis, value) -> str | None:
    """The reference as stored: stripped, None when empty (ConsentError when required and missing, too
    long, not one line of plain text, or looking like an e-mail address)."""
    if value is not None and not isinstance(value, str):
        raise ConsentError("reference", "the data-use reference must be text")
    text = (value or "").strip()
    if not text:
        if basis.reference_required:
            raise ConsentError("reference", f"the data-use reference is required for '{basis.words}' "
                                            f"({basis.reference_label})")
        return None
    if len(text) > MAX_REFERENCE:
        raise ConsentError("reference", f"keep the data-use reference to {MAX_REFERENCE} characters "
                                        f"(it has {len(text)})")
    position = next((i for i, c in enumerate(text) if unicodedata.category(c) in REFUSED_CATEGORIES), None)
    if position is not None:
        raise ConsentError("reference", f"the data-use reference holds a control character (U+"
                                        f"{ord(text[position]):04X} at position {position + 1}); type it as "
                                        f"one line of plain text")
    if EMAIL.search(text):
        raise ConsentError("reference", "the data-use reference looks like personal data (an e-mail address): "
                                        "give the protocol, consent or source reference, not a person's details")
    return text


def check(basis, reference=None) -> DataUse:
    """A DataUse from what a person sent (ConsentError naming the field otherwise)."""
    chosen = check_basis(basis)
    return DataUse(chosen, check_reference(chosen, reference))


def recorded(basis: str | None, reference: str | None) -> DataUse:
    """What a stored record holds, for display (uploads from before a basis was recorded: UNRECORDED)."""
    if basis not in DataUseBasis.choices():
        return UNRECORDED
    return DataUse(DataUseBasis(basis), reference)


def parse(value) -> DataUse:
    """A DataUse from what a caller hands on: a DataUse (checked again: `unrecorded` is never chosen), a
    mapping with "basis" and "reference" (a form, a request body), or None (ConsentError: none chosen)."""
    if isinstance(value, DataUse):
        return check(value.basis.value, value.reference)
    if isinstance(value, dict):
        return check(value.get("basis"), value.get("reference"))
    return check(None)


def of_upload(portal: Portal, upload_id: str | None) -> DataUse:
    """The data-use basis recorded with an upload (UNRECORDED for an upload from before, or none)."""
    if not upload_id:
        return UNRECORDED
    with portal.db.session() as session:
        upload = session.get(Upload, upload_id)
        return recorded(upload.data_use_basis, upload.data_use_reference) if upload else UNRECORDED
