"""The problems found in an uploaded table, as data: an `Issue` has a stable code, a sentence naming file,
row, sample and column, and a severity. Errors reject the file; warnings are told to the user but do not
stop prediction. Both the table reader (engine.tables) and the schema checks (engine.validation) report
with these, so a file that cannot be read and a file that does not fit give one kind of report."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

ERROR = "error"
WARNING = "warning"

LIST_FIRST = 5  # rows, names or ids spelled out in one message


@dataclass(frozen=True)
class Issue:
    """One problem found in an input. `row` is 1-based over data rows (first sample = row 1)."""

    code: str
    message: str
    severity: str
    row: int | None = None
    sample: str | None = None
    column: str | None = None
    count: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ValidationReport:
    source: str
    issues: list[Issue] = field(default_factory=list)
    n_samples: int = 0

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "n_samples": self.n_samples,
            "ok": self.ok,
            "n_errors": len(self.errors),
            "n_warnings": len(self.warnings),
            "issues": [i.to_dict() for i in self.issues],
        }

    def summary(self) -> str:
        n_err, n_warn = len(self.errors), len(self.warnings)
        head = f"{self.source}: {plural(self.n_samples, 'sample')}; "
        if not self.issues:
            return head + "no problems found."
        lines = [head + f"{plural(n_err, 'error')}, {plural(n_warn, 'warning')}."]
        lines += [f"  {i.severity}: {i.message}" for i in self.errors + self.warnings]
        return "\n".join(lines)


# Wording shared by the reader's and the checks' messages


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


NAME_CHARS = 40  # a name longer than this (a whole header read as one name) is cut in messages


def short(name) -> str:
    """A name as a message quotes it: at most NAME_CHARS characters."""
    text = str(name)
    return text if len(text) <= NAME_CHARS else text[:NAME_CHARS - 1] + "…"


def preview(names: list[str]) -> str:
    """The first LIST_FIRST names quoted (each cut to NAME_CHARS characters), then how many more."""
    shown = ", ".join(f"'{short(n)}'" for n in names[:LIST_FIRST])
    more = len(names) - LIST_FIRST
    return shown + (f" and {more:,} more" if more > 0 else "")
