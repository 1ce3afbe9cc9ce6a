"""`--format auto`: every file is recognised by its content, whatever it is called."""

import shutil
from pathlib import Path

import pytest

from db.importers import FORMATS, ImportFileError, detect_format, sample
from tests.support.shared_data import real_schedule

FIXTURES = Path(__file__).parent / "fixtures"

EXPECTED = {
    "frab-minicon.json": "frab",
    "frab-minicon.xml": "frab",
    "frab-bad-entities.xml": "frab",  # recognised, so the user hears why it is refused
    "widget/democamp.json": "pretalx",
    "sessionize-all.json": "sessionize",
    "ical-program.ics": "ics",
    "csv-talks.csv": "csv",
    "csv-talks-semicolon.csv": "csv",
    "other-talks.csv": "csv",
    "other-talkbot.yaml": "talkbot",
    "other-talkbot.json": "talkbot",
    "pyvideo": "pyvideo",
}


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED.items()))
def test_each_file_is_claimed_first_by_its_own_format(name, expected):
    path = FIXTURES / name
    claims = [fmt for fmt, module in FORMATS.items() if module.detect(path, sample(path))]

    assert detect_format(path) == expected
    assert claims[0] == expected
    assert set(claims[1:]) <= {"talkbot", "csv"}  # only the generic formats, tried last, may also fit


@pytest.mark.parametrize(("name", "expected"), [("frab-camp2019.json", "frab"), ("pretalx-democon.json", "frab")])
def test_the_real_schedule_exports_are_recognised(name, expected):
    assert detect_format(real_schedule(name)) == expected


@pytest.mark.parametrize("name", ["frab-minicon.json", "ical-program.ics", "csv-talks.csv", "sessionize-all.json"])
def test_the_content_decides_not_the_file_name(tmp_path, name):
    misleading = tmp_path / "schedule.txt"
    shutil.copy(FIXTURES / name, misleading)

    assert detect_format(misleading) == EXPECTED[name]


def test_an_unrecognisable_file_asks_for_the_format(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\nnothing like a schedule\n")

    with pytest.raises(ImportFileError, match="could not tell the format from the content; name it with --format"):
        detect_format(path)
