"""The one error an importer raises: which file, which record, which field, and what was expected."""

from __future__ import annotations

from pathlib import Path

from db.records import printable

NOT_A_CATALOG = "this is not a schedule/catalog file"


class ImportFileError(Exception):
    """One line for the person importing: file, record and field as the file names them, then the problem. Text
    taken from the file (a record's id, say) is shown with control characters escaped and cut short."""

    def __init__(self, path: Path, record: str | None, field: str | None, problem: str) -> None:
        self.path, self.record, self.field, self.problem = path, record, field, problem
        where = str(path)
        if record is not None:
            where += f", {printable(record)}"
        if field is not None:
            where += f", field {printable(repr(field), limit=100)}"
        super().__init__(printable(f"{where}: {problem}", limit=1000))
