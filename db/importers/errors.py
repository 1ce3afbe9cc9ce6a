"""The one error an importer raises: which file, which record, which field, and what was expected."""

from __future__ import annotations

from pathlib import Path


class ImportFileError(Exception):
    def __init__(self, path: Path, record: str | None, field: str | None, problem: str) -> None:
        self.path, self.record, self.field, self.problem = path, record, field, problem
        where = str(path)
        if record is not None:
            where += f", {record}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem}")
