"""The real data some tests read from the project's `shared/` folder beside the clone (../shared from the project
root; ../shared/README.md describes it), and the one skip reason each gives where it is absent (a fresh clone)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
PYVIDEO_ARCHIVE = SHARED / "data" / "pyvideo-data.tar.gz"
SCHEDULES = SHARED / "data" / "schedules"

PYVIDEO_SKIP = (
    f"{PYVIDEO_ARCHIVE} is absent: it is the pyvideo.org catalog (CC0; https://github.com/pyvideo/data as a .tar.gz), "
    "which the project's shared/ folder holds beside the clone (../shared/README.md)"
)
SCHEDULES_SKIP = (
    f"{SCHEDULES} is absent: real frab and pretalx schedule.json exports (frab-camp2019.json, pretalx-democon.json) "
    "and the c3voc schema (https://github.com/voc/schedule), which the project's shared/ folder holds beside the "
    "clone (../shared/README.md)"
)
DATA_SKIPS = (PYVIDEO_SKIP, SCHEDULES_SKIP)

needs_pyvideo_archive = pytest.mark.skipif(not PYVIDEO_ARCHIVE.exists(), reason=PYVIDEO_SKIP)


def real_schedule(name: str) -> Path:
    """A real schedule export from shared/data/schedules, or a skip saying where that data comes from."""
    if not (SCHEDULES / name).exists():
        pytest.skip(SCHEDULES_SKIP)
    return SCHEDULES / name


def pyvideo_archive() -> Path:
    if not PYVIDEO_ARCHIVE.exists():
        pytest.skip(PYVIDEO_SKIP)
    return PYVIDEO_ARCHIVE
