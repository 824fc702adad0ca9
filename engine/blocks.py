"""Several files for one model, one file a feature group (an omics block: mRNA, miRNA, methylation; or
mutation, copy number...), joined on the sample id into the one table validation checks.

`validate_files` takes one file (checked as today, engine.validation.validate) or several. Each of several
files is read once through engine.tables within the upload's limits, which the files share (their bytes and
their values together stay under one upload's), and its block is recognised from its feature columns: all of
one group of the model's schema. A file that mixes groups, holds columns that are no feature, id or label, or
holds a block another file already holds is an error naming the file and the columns. Each block is checked
against its part of the schema, so an error names the block's file, row and column. Then the ids are
compared: per block, which samples of the upload it lacks, which of its features are missing, which of its
ids appear in it only. A sample that lacks a whole block is an error for that sample (never imputed), and
the error names the versions of the model that could still serve it (those trained without that block,
looked up by `alternatives_in`). Only an upload without errors is joined: one row a sample (in the first
file's order), the schema's columns, out-of-range counts summed over blocks, the label from the blocks that
carry one (which must agree).

`split_frame` cuts a wide table into block tables (the templates and examples per block).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from engine.issues import ERROR, WARNING, Issue, ValidationReport, plural, preview, short
from engine.read_limits import (InputError, ReadLimits, max_upload_bytes, max_upload_cells, max_upload_rows,
                                release_memory, size_text)
from engine.schema import FeatureSchema
from engine.tables import looks_transposed, read_samples, source_name
from engine.validation import PERSONAL_ID, RELEASE_AFTER_CELLS, ValidatedInput, looks_personal, validate, validate_frame

MAX_LISTED = 20  # ids and feature names a block's findings keep (with their counts)


@dataclass
class BlockFindings:
    """What the ids and columns of one block say against the whole upload."""

    group: str
    file: str | None  # None: no file held this block
    n_features: int  # the model's features in this block
    n_samples: int = 0
    missing_features: list[str] = field(default_factory=list)
    n_missing_features: int = 0
    missing_samples: list[str] = field(default_factory=list)  # ids of the upload this block lacks
    n_missing_samples: int = 0
    only_here: list[str] = field(default_factory=list)  # ids no other block holds
    n_only_here: int = 0
    read: bool = True  # False: the file could not be read, so its ids are unknown

    def to_dict(self) -> dict:
        return {"group": self.group, "file": self.file, "n_features": self.n_features, "n_samples": self.n_samples,
                "missing_features": self.missing_features, "n_missing_features": self.n_missing_features,
                "missing_samples": self.missing_samples, "n_missing_samples": self.n_missing_samples,
                "only_here": self.only_here, "n_only_here": self.n_only_here, "read": self.read}


@dataclass
class BlockReport(ValidationReport):
    """A validation report of an upload in several files: its issues and, per block, its findings."""

    blocks: list[BlockFindings] = field(default_factory=list)

    def to_dict(self) -> dict:
        return super().to_dict() | {"blocks": [b.to_dict() for b in self.blocks]}

    def summary(self) -> str:
        lines = [super().summary()]
        for b in self.blocks:
            lines.append(f"  block {b.group}: {b.file or 'no file'}; {plural(b.n_samples, 'sample')}, "
                         f"{b.n_missing_samples:,} of the upload's missing, {b.n_missing_features:,} features "
                         f"missing, {b.n_only_here:,} ids in this block only.")
        return "\n".join(lines)


def alternatives_in(registry, name: str, version: int | None = None) -> list[tuple[str, FeatureSchema]]:
    """(ref, schema) of the versions of model `name` other than `version`: those a sample lacking a block
    may still be served by, when one was trained without it."""
    return [(v.ref, v.schema) for v in registry.versions(name) if v.version != version]


def validate_files(files: Sequence[tuple[str, Any]], schema: FeatureSchema, *, label_column: str | None = None,
                   max_rows: int | None = None, max_bytes: int | None = None, max_cells: int | None = None,
                   model: str = "the model", alternatives: Iterable[tuple[str, FeatureSchema]] = ()
                   ) -> ValidatedInput:
    """Check one file (`[(name, source)]`: validation.validate) or one file per block, joined. Never raises for
    bad input. `model` names the model in messages; `alternatives` (alternatives_in) are the other versions."""
    if len(files) == 1:
        name, source = files[0]
        return validate(source, schema, filename=name, label_column=label_column, max_rows=max_rows,
                        max_bytes=max_bytes, max_cells=max_cells)
    return _Join(files, schema, label_column, max_rows, max_bytes, max_cells, model, list(alternatives)).run()


@dataclass
class _Block:
    """One file read and checked against its block's part of the schema."""

    name: str
    group: str
    checked: ValidatedInput
    columns: set[str]


class _Join:
    def __init__(self, files, schema: FeatureSchema, label_column, max_rows, max_bytes, max_cells, model: str,
                 alternatives: list[tuple[str, FeatureSchema]]):
        self.files = list(files)
        self.schema = schema
        self.label_column = label_column
        self.max_rows = max_upload_rows(max_rows)
        self.max_bytes = max_upload_bytes(max_bytes)
        self.max_cells = max_upload_cells(max_cells)
        self.model = model
        self.alternatives = alternatives
        self.group_of = {f.name: f.group for f in schema.features}
        self.groups = list(dict.fromkeys(schema.groups))  # schema order
        self.issues: list[Issue] = []
        self.blocks: dict[str, _Block] = {}
        self.unassigned: list[str] = []  # files whose block is unknown (unreadable, mixed, no features)
        self.names = [source_name(source, name) for name, source in self.files]

    # -- reading ----------------------------------------------------------------------------

    def run(self) -> ValidatedInput:
        if self._sizes_fit():
            cells_left = self.max_cells
            for name, (_, source) in zip(self.names, self.files):
                cells_left -= self._read_block(name, source, cells_left)
        findings = self._findings()
        report = BlockReport(source=_joined_names(self.names), issues=self.issues, blocks=findings,
                             n_samples=len(self._all_ids()))
        if not report.ok:
            return ValidatedInput(report=report, ids=self._all_ids())
        return self._joined(report)

    def _sizes_fit(self) -> bool:
        """The files' bytes together within one upload's limit (known before any is read)."""
        sizes = [_size(source) for _, source in self.files]
        total = sum(s for s in sizes if s is not None)
        if total <= self.max_bytes:
            return True
        listed = ", ".join(f"{short(n)} {size_text(s)}" for n, s in zip(self.names, sizes) if s is not None)
        self.issues.append(Issue("too-large", f"The files together hold {size_text(total)} ({listed}), more than the "
                                 f"upload limit of {size_text(self.max_bytes)} that the files of one upload share; "
                                 "split the samples into smaller uploads.", ERROR))
        return False

    def _read_block(self, name: str, source: Any, cells_left: int) -> int:
        """Read and check one file; the values it holds (counted against the upload's cell limit)."""
        text_columns = {self.schema.id_column} | ({self.label_column} if self.label_column else set())
        limits = ReadLimits(max_bytes=self.max_bytes, max_rows=self.max_rows, max_cells=max(cells_left, 0),
                            schema_columns=len(self.schema.names) + 2)
        try:
            frame = read_samples(source, name, id_column=self.schema.id_column, text_columns=text_columns,
                                 limits=limits)
        except InputError as error:
            self.issues.extend(error.report.issues)
            self.unassigned.append(name)
            if cells_left < self.max_cells and any(i.code == "too-many-cells" for i in error.report.issues):
                self.issues.append(Issue("too-many-cells", f"{name}: the files of one upload share its limit of "
                                         f"{self.max_cells:,} values; the files before it hold "
                                         f"{self.max_cells - cells_left:,}.", ERROR))
            return 0
        group = self._block_of(name, frame)
        if group is None:
            return frame.size
        unknown = self._unknown_columns(name, frame)
        sub_schema = FeatureSchema(features=tuple(f for f in self.schema.features if f.group == group),
                                   id_column=self.schema.id_column)
        columns = set(frame.columns)
        label = self.label_column if self.label_column in columns else None
        checked = validate_frame(frame.drop(columns=unknown), sub_schema, name=name, label_column=label,
                                 max_rows=self.max_rows)
        self.issues.extend(checked.report.issues)
        self.blocks[group] = _Block(name, group, checked, columns)
        size = frame.size
        del frame
        if size > RELEASE_AFTER_CELLS:
            release_memory()  # the table read is gone; only its values checked stay
        return size

    def _block_of(self, name: str, frame: pd.DataFrame) -> str | None:
        """The one group of the file's feature columns; None (and an issue) otherwise."""
        by_group: dict[str, list[str]] = {}
        for column in frame.columns:
            if column in self.group_of:
                by_group.setdefault(self.group_of[column], []).append(column)
        if not by_group:
            found = looks_transposed(frame, self.schema.names)
            if found is not None:
                self._error("transposed", f"{name}: samples appear to be columns and features rows ({found.hits} "
                            f"feature names such as '{short(found.example)}' are in the first column); transpose the "
                            "file so each row is a sample.", column=found.first_column)
            else:
                self._error("no-block-features", f"{name} holds no feature column of {self.model}, so its block "
                            f"cannot be told; each file holds one block, named by its columns: {self._blocks_text()}.")
            self.unassigned.append(name)
            return None
        if len(by_group) > 1:
            parts = "; ".join(f"{g}: {plural(len(c), 'column')} such as '{short(c[0])}'" for g, c in by_group.items())
            second = list(by_group.values())[1][0]
            self._error("mixed-blocks", f"{name} holds features of {len(by_group)} blocks ({parts}); when you upload "
                        "several files, each holds one block. Split it by block, or upload one wide file alone.",
                        column=second)
            self.unassigned.append(name)
            return None
        (group,) = by_group
        if group in self.blocks:
            other = self.blocks[group].name
            self._error("duplicate-block", f"{name} and {other} both hold the {group} block; give each block one "
                        "file (put all samples' values of one block in one file).", column=by_group[group][0])
            return None
        return group

    def _unknown_columns(self, name: str, frame: pd.DataFrame) -> list[str]:
        """Columns that are no feature, id or label (an error in a block file, since its block is told from its
        columns); columns that name a person are left to validation, which refuses them with its own words."""
        known = set(self.group_of) | {self.schema.id_column, self.label_column}
        unknown = [c for c in frame.columns if c not in known and not looks_personal(c)]
        if unknown:
            self._error("unknown-column", f"{name} holds {plural(len(unknown), 'column')} that {self.model} does not "
                        f"know ({preview(unknown)}); a block file holds the sample id '{self.schema.id_column}', the "
                        f"block's features and, optionally, '{self.label_column or 'a label'}'. Remove "
                        f"{'it' if len(unknown) == 1 else 'them'}.", column=unknown[0], count=len(unknown))
        return unknown

    def _error(self, code: str, message: str, **where) -> None:
        self.issues.append(Issue(code, message, ERROR, **where))

    def _blocks_text(self) -> str:
        counts = self.schema.group_counts()
        return "; ".join(f"{g} ({plural(counts[g], 'feature')} such as "
                         f"'{short(next(f.name for f in self.schema.features if f.group == g))}')" for g in self.groups)

    # -- comparing ids ----------------------------------------------------------------------

    def _personal(self) -> bool:
        return any(i.code == PERSONAL_ID for i in self.issues)

    def _all_ids(self) -> list[str]:
        """Every non-empty id of the blocks read, in the order the files were given (none when ids look
        personal: they are never repeated)."""
        if self._personal():
            return []
        seen: dict[str, None] = {}
        for block in sorted(self.blocks.values(), key=lambda b: self.names.index(b.name)):
            seen.update((i, None) for i in block.checked.ids if i)
        return list(seen)

    def _findings(self) -> list[BlockFindings]:
        everyone = self._all_ids()
        id_sets = {g: {i for i in b.checked.ids if i} for g, b in self.blocks.items()}
        findings = []
        for group in self.groups:
            names = [f.name for f in self.schema.features if f.group == group]
            block = self.blocks.get(group)
            found = BlockFindings(group=group, file=block.name if block else None, n_features=len(names))
            if block is None:
                found.read = False
                if not self.unassigned and not self._personal():  # no file for it: everyone lacks it
                    _keep(found, "missing_samples", everyone)
                findings.append(found)
                continue
            found.n_samples = len(id_sets[group])
            _keep(found, "missing_features", [n for n in names if n not in block.columns])
            if not self._personal():
                _keep(found, "missing_samples", [i for i in everyone if i not in id_sets[group]])
                if len(id_sets) > 1:
                    others = set().union(*(s for g, s in id_sets.items() if g != group))
                    _keep(found, "only_here", [i for i in block.checked.ids if i and i not in others])
            findings.append(found)
        if not self._personal():
            self._missing_blocks(everyone, id_sets)
            self._labels_agree()
        self._no_label()
        return findings

    def _missing_blocks(self, everyone: list[str], id_sets: dict[str, set[str]]) -> None:
        """One error per set of blocks some samples lack, naming them and the versions that could serve them."""
        # a block without a file counts only when every file's block is known (else that file's error says enough)
        known = [g for g in self.groups if g in self.blocks or not self.unassigned]
        lacking: dict[tuple[str, ...], list[str]] = {}
        for sample in everyone:
            missing = tuple(g for g in known if sample not in id_sets.get(g, ()))
            if missing:
                lacking.setdefault(missing, []).append(sample)
        for missing, samples in lacking.items():
            where = "; ".join(f"{g}: " + (f"not in {self.blocks[g].name}" if g in self.blocks else "no file holds it")
                              for g in missing)
            served = self._served_without(missing)
            self.issues.append(Issue(
                "missing-block", f"{plural(len(samples), 'sample')} {'lacks' if len(samples) == 1 else 'lack'} the "
                f"{' and '.join(missing)} block{'s' if len(missing) > 1 else ''} ({where}): "
                f"{preview(samples)}. A sample needs every block of {self.model}; a missing block is never imputed. "
                f"Versions that could serve {'it' if len(samples) == 1 else 'them'} without "
                f"{'it' if len(missing) == 1 else 'them'}: {', '.join(served) if served else 'none'}.",
                ERROR, sample=samples[0], count=len(samples)))

    def _served_without(self, missing: tuple[str, ...]) -> list[str]:
        """The other versions whose every feature the blocks present hold (so none of `missing` is needed)."""
        present = set()
        for group, block in self.blocks.items():
            if group not in missing:
                present |= block.columns
        return [ref for ref, schema in self.alternatives if not set(schema.groups) & set(missing)
                and set(schema.names) <= present]

    def _labels_agree(self) -> None:
        """Blocks that carry the label must give each sample the same one."""
        labelled = [b for b in self.blocks.values() if b.checked.labels is not None]
        if len(labelled) < 2:
            return
        first = labelled[0]
        for other in labelled[1:]:
            both = first.checked.labels.index.intersection(other.checked.labels.index)
            a = first.checked.labels.loc[both].astype("string")
            b = other.checked.labels.loc[both].astype("string")
            differ = [str(s) for s, x, y in zip(both, a, b) if _text(x) != _text(y)]
            if differ:
                self.issues.append(Issue(
                    "label-mismatch", f"{first.name} and {other.name} give {plural(len(differ), 'sample')} different "
                    f"'{self.label_column}' values ({preview(differ)}); give each sample one known class, or leave "
                    "the column in one file only.", ERROR, sample=differ[0], column=self.label_column,
                    count=len(differ)))

    def _no_label(self) -> None:
        if self.label_column and self.blocks and all(self.label_column not in b.columns for b in self.blocks.values()):
            self.issues.append(Issue(
                "missing-label-column", f"None of the files has a '{self.label_column}' column, so the predictions "
                "cannot be compared with known labels.", WARNING, column=self.label_column))

    # -- joining ----------------------------------------------------------------------------

    def _joined(self, report: BlockReport) -> ValidatedInput:
        ids = self._all_ids()
        position = {sample: row for row, sample in enumerate(ids)}
        column = {name: j for j, name in enumerate(self.schema.names)}
        X = np.full((len(ids), len(self.schema.names)), np.nan)
        out_of_range = np.zeros(len(ids), dtype=np.int64)
        labels = None
        for group in self.groups:
            checked = self.blocks[group].checked
            rows = np.array([position[i] for i in checked.ids], dtype=np.int64)
            cols = np.array([column[f.name] for f in self.schema.features if f.group == group], dtype=np.int64)
            X[rows[:, None], cols[None, :]] = checked.X
            out_of_range[rows] += checked.out_of_range
            if labels is None and checked.labels is not None:
                labels = checked.labels.reindex(ids)
            checked.X = checked.out_of_range = None  # its values live in X now
        return ValidatedInput(report=report, ids=ids, X=X, out_of_range=out_of_range, labels=labels)


def _text(value) -> str | None:
    return None if pd.isna(value) else str(value)


def _keep(found: BlockFindings, what: str, values: list[str]) -> None:
    setattr(found, what, values[:MAX_LISTED])
    setattr(found, f"n_{what}", len(values))


def _size(source: Any) -> int | None:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return len(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            return Path(source).stat().st_size
        except OSError:
            return None  # the reader says it cannot be opened
    return None


def _joined_names(names: list[str]) -> str:
    text = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
    return text if len(text) <= 200 else text[:199] + "…"


# ---------------------------------------------------------------------------------------------
# Block files from a wide table


def block_slug(group: str) -> str:
    """A block's name as a file name part: 'copy number' -> 'copy-number', 'mRNA' -> 'mrna'."""
    return re.sub(r"[^0-9a-z]+", "-", group.lower()).strip("-") or "block"


def split_frame(frame: pd.DataFrame, schema: FeatureSchema, label_column: str | None = None) -> dict[str, pd.DataFrame]:
    """A wide table (the id column, an optional label, the features) as one table per block, in schema order:
    the id, the label in the first block only, the block's features."""
    groups = list(dict.fromkeys(schema.groups))
    out = {}
    for index, group in enumerate(groups):
        columns = [schema.id_column]
        if index == 0 and label_column and label_column in frame.columns:
            columns.append(label_column)
        columns += [f.name for f in schema.features if f.group == group]
        out[group] = frame[columns]
    return out


def many(schema: FeatureSchema) -> bool:
    """True when the schema has several blocks (so an upload may come as one file per block)."""
    return len(set(schema.groups)) > 1


__all__ = ["BlockFindings", "BlockReport", "alternatives_in", "block_slug", "many", "split_frame", "validate_files"]
