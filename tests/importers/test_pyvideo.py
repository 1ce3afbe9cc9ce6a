"""pyvideo data read as untrusted input: sizes checked before reading, links and special files refused, days-long
durations imported as unknown."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tarfile
import time
from collections import Counter
from pathlib import Path

import pytest

from db.importers import ImportFileError, pyvideo, read_catalog_file
from db.importers.fields import NOT_HTTPS_THUMBNAIL
from db.importers.pyvideo import DataLimits
from tests.support.shared_data import pyvideo_archive

FIXTURES = Path(__file__).parent / "fixtures"
CATEGORY = b'{"title": "DemoCon 2024"}'
VIDEO = b'{"title": "A talk", "speakers": ["Ada Lovelace"], "duration": 1800}'
GIB = 1 << 30


def entry(name: str, data: bytes = b"", *, size: int | None = None, kind: bytes = tarfile.REGTYPE,
          link: str = "") -> bytes:  # fmt: skip
    """One tar entry as bytes: its header, then `data` padded to whole blocks. `size` may claim more than `data`."""
    info = tarfile.TarInfo(name)
    info.size = len(data) if size is None else size
    info.type, info.linkname = kind, link
    if kind == tarfile.CHRTYPE:
        info.devmajor, info.devminor = 1, 5  # /dev/zero
    padding = -len(data) % tarfile.BLOCKSIZE
    return info.tobuf(format=tarfile.GNU_FORMAT) + data + bytes(padding)


def archive(path: Path, *entries: bytes, end: bool = True) -> Path:
    """A .tar.gz of raw entries; without `end` it stops mid-archive, as a truncated download does."""
    with gzip.open(path, "wb") as packed:
        packed.write(b"".join(entries) + (bytes(2 * tarfile.BLOCKSIZE) if end else b""))
    return path


def good_entries() -> list[bytes]:
    return [entry("pyvideo-data/democon-2024/category.json", CATEGORY),
            entry("pyvideo-data/democon-2024/videos/a-talk.json", VIDEO)]  # fmt: skip


def refusal(path: Path, **options) -> ImportFileError:
    with pytest.raises(ImportFileError) as raised:
        if options:
            pyvideo.read(path, Counter(), **options)
        else:
            read_catalog_file(path)
    assert "\n" not in str(raised.value)
    return raised.value


def test_a_member_claiming_a_gibibyte_is_refused_from_its_header_before_any_of_it_is_read(tmp_path):
    """The archive holds only 64 KiB of the claimed GiB: reading the member would end in 'unexpected end of data',
    so the size refusal proves the reader stopped at the header."""
    bomb = entry("pyvideo-data/democon-2024/videos/zero.json", bytes(64 * 1024), size=GIB)
    path = archive(tmp_path / "bomb.tar.gz", *good_entries(), bomb, end=False)

    error = refusal(path)

    assert path.stat().st_size < 10_000
    assert (error.record, error.field) == ("pyvideo-data/democon-2024/videos/zero.json", None)
    assert error.problem == "is 1,073,741,824 bytes: refused, a pyvideo file is at most 1,048,576"


def test_the_default_limits_leave_the_real_archive_room_to_grow():
    """The largest file of pyvideo's own data is 16 KB and all of it 29.5 MB (22,262 files)."""
    limits = pyvideo.DATA_LIMITS
    assert limits.file_bytes >= 50 * 16_002 and limits.total_bytes >= 5 * 29_539_724 and limits.entries >= 5 * 23_344


def test_files_that_together_pass_the_total_are_refused_at_the_first_one_over(tmp_path):
    videos = [entry(f"pyvideo-data/democon-2024/videos/talk-{n}.json", VIDEO) for n in range(5)]
    path = archive(tmp_path / "many.tar.gz", entry("pyvideo-data/democon-2024/category.json", CATEGORY), *videos)
    total = len(CATEGORY) + 3 * len(VIDEO)  # room for three of the five videos

    assert len(pyvideo.read(path, Counter(), DataLimits(total_bytes=len(CATEGORY) + 5 * len(VIDEO)))) == 5
    error = refusal(path, limits=DataLimits(total_bytes=total))

    assert error.record == "pyvideo-data/democon-2024/videos/talk-3.json"
    assert error.problem == f"takes the files past {total:,} bytes: refused, more than pyvideo data holds"


def test_an_archive_with_more_entries_than_pyvideo_data_has_is_refused(tmp_path):
    path = archive(tmp_path / "listing.tar.gz", *good_entries(), entry("pyvideo-data/democon-2024/notes.txt"))

    error = refusal(path, limits=DataLimits(entries=2))

    assert error.record == "pyvideo-data/democon-2024/notes.txt"
    assert error.problem == "is entry 3: refused, pyvideo data has at most 2"


@pytest.mark.parametrize(
    ("kind", "link", "problem"),
    [
        (tarfile.SYMTYPE, "/dev/zero", "is a symbolic link (to /dev/zero)"),
        (tarfile.SYMTYPE, "../../../etc/passwd", "is a symbolic link (to ../../../etc/passwd)"),
        (tarfile.LNKTYPE, "pyvideo-data/democon-2024/category.json", "is a hard link (to pyvideo-data/democon-2024/"),
        (tarfile.CHRTYPE, "", "is a device, FIFO or socket"),
        (tarfile.FIFOTYPE, "", "is a device, FIFO or socket"),
    ],
)
def test_links_devices_and_fifos_in_an_archive_are_refused_in_one_line(tmp_path, kind, link, problem):
    odd = entry("pyvideo-data/democon-2024/videos/odd.json", kind=kind, link=link)
    path = archive(tmp_path / "odd.tar.gz", *good_entries(), odd)

    error = refusal(path)

    assert error.record == "pyvideo-data/democon-2024/videos/odd.json"
    assert error.problem.startswith(problem)
    assert error.problem.endswith("refused, pyvideo data holds only plain files and folders")


@pytest.fixture
def folder(tmp_path) -> Path:
    """The pyvideo fixture folder, to be spoilt by each test."""
    shutil.copytree(FIXTURES / "pyvideo", tmp_path / "pyvideo")
    return tmp_path / "pyvideo"


def test_a_link_to_dev_zero_in_a_folder_is_refused_at_once_instead_of_read_forever(folder):
    (folder / "pycon-demo-2023" / "videos" / "zero.json").symlink_to("/dev/zero")
    started = time.monotonic()

    error = refusal(folder)

    assert time.monotonic() - started < 2
    assert (error.record, error.problem) == (
        "pycon-demo-2023/videos/zero.json",
        "is a symbolic link (to /dev/zero): refused, pyvideo data holds only plain files and folders",
    )


def test_links_to_files_and_folders_outside_the_data_are_refused(folder, tmp_path):
    outside = tmp_path / "outside"
    (outside / "videos").mkdir(parents=True)
    (outside / "videos" / "secret.json").write_bytes(VIDEO)
    (folder / "pycon-demo-2023" / "videos" / "secret.json").symlink_to(outside / "videos" / "secret.json")
    assert refusal(folder).problem.startswith(f"is a symbolic link (to {outside / 'videos' / 'secret.json'})")

    (folder / "pycon-demo-2023" / "videos" / "secret.json").unlink()
    (folder / "elsewhere-2024").symlink_to(outside, target_is_directory=True)
    error = refusal(folder)
    assert error.record == "elsewhere-2024"
    assert (
        error.problem == f"is a symbolic link (to {outside}): refused, pyvideo data holds only plain files and folders"
    )


def test_a_fifo_in_a_folder_is_refused_without_waiting_for_a_writer(folder):
    os.mkfifo(folder / "pycon-demo-2023" / "videos" / "waiting.json")

    error = refusal(folder)

    assert error.record == "pycon-demo-2023/videos/waiting.json"
    assert error.problem.startswith("is a device, FIFO or socket")


def test_a_file_larger_than_any_pyvideo_file_is_refused_before_it_is_read(folder):
    with (folder / "pycon-demo-2023" / "videos" / "huge.json").open("wb") as huge:
        huge.truncate(GIB)  # sparse: claims a GiB, takes no disk

    error = refusal(folder)

    assert error.record == "pycon-demo-2023/videos/huge.json"
    assert error.problem == "is 1,073,741,824 bytes: refused, a pyvideo file is at most 1,048,576"


def test_a_device_or_fifo_named_on_the_command_line_is_refused(tmp_path):
    os.mkfifo(tmp_path / "talks.csv")
    for path in (Path("/dev/zero"), tmp_path / "talks.csv"):
        with pytest.raises(ImportFileError) as raised:
            read_catalog_file(path, "csv")
        assert raised.value.problem == "is not a regular file or a folder (a device, FIFO or socket)"


def test_a_duration_of_days_is_imported_as_unknown_and_counted(folder):
    video = folder / "pycon-demo-2023" / "videos" / "typing-in-practice.json"
    data = json.loads(video.read_text())
    video.write_text(json.dumps({**data, "duration": 3 * 24 * 3600}))

    parsed = read_catalog_file(folder)

    [typing] = [record for record in parsed.records if record.title == "Typing in practice"]
    assert typing.duration_minutes is None
    assert parsed.skipped["durations over 24 hours, imported as unknown"] == 1


def test_an_https_thumbnail_is_kept_an_http_one_left_out_and_counted_and_an_empty_one_is_none(folder):
    parsed = read_catalog_file(folder)

    thumbnails = {record.title: record.thumbnail_url for record in parsed.records}
    assert thumbnails == {
        "Streaming with Kafka from Python": "https://i.ytimg.com/vi/demo-kafka/hqdefault.jpg",
        "Async everything": None,  # http://a.images.blip.tv/…
        "Typing in practice": None,  # ""
    }
    assert parsed.skipped[NOT_HTTPS_THUMBNAIL] == 1


def test_the_real_archive_keeps_every_https_thumbnail_and_counts_the_old_http_ones():
    skipped = Counter()

    records = pyvideo.read(pyvideo_archive(), skipped)

    # 21,504 videos have an https thumbnail_url, 2 of them withdrawn; 62 are http (blip.tv), 8 are "".
    assert sum(record.thumbnail_url is not None for record in records) == 21502
    assert skipped[NOT_HTTPS_THUMBNAIL] == 62
