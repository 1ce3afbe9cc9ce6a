"""`talkbot console`: blank lines, quitting, line editing on a terminal, and Slack mrkdwn rendered for a terminal."""

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from bot.devtools.console import BOLD, EMOJI, RESET, render_mrkdwn, run_console
from db.config import sessions_for
from db.importers import read_catalog_file
from db.search.engine import SearchEngine
from db.setup import SEED_FILE
from tests.talkbot_cli import TALKBOT

ROOT = Path(__file__).resolve().parents[1]


def console_answers(database_url: str, lines: list[str]) -> list[str]:
    answers: list[str] = []
    run_console(database_url, SearchEngine(sessions_for(database_url)), iter(lines), answers.append)
    return answers


# --- quitting and blank lines --------------------------------------------------------------------------------


def test_a_blank_or_whitespace_only_line_does_nothing(seeded_database):
    answers = console_answers(seeded_database, ["", "   ", "\t", "k8s"])

    assert len(answers) == 1 and "From Borg to Kubernetes" in answers[0]


@pytest.mark.parametrize("word", ["quit", "exit", "  QUIT  "])
def test_quit_or_exit_leaves_the_console(seeded_database, word):
    answers = console_answers(seeded_database, ["k8s", word, "kafka"])

    assert len(answers) == 1 and "Scaling Kafka" not in answers[0]


def test_the_end_of_piped_input_leaves_the_console(seeded_database):
    assert len(console_answers(seeded_database, ["k8s", "kafka"])) == 2


# --- mrkdwn for a terminal ------------------------------------------------------------------------------------


def test_bold_is_ansi_bold_on_a_terminal_and_plain_otherwise():
    assert render_mrkdwn("*Saved* it", bold=True) == f"{BOLD}Saved{RESET} it"
    assert render_mrkdwn("*Saved* it") == "Saved it"
    assert render_mrkdwn("2*3*4 stays") == "2*3*4 stays"


def test_a_link_shows_its_text_then_the_url():
    linked_title = "*<http://velocityconf.com/velocityeu2011|Anticipation: What could possibly go wrong?>*"

    assert (
        render_mrkdwn(linked_title)
        == "Anticipation: What could possibly go wrong? <http://velocityconf.com/velocityeu2011>"
    )
    assert render_mrkdwn("see <https://example.org/a>") == "see https://example.org/a"


def test_user_ids_show_as_names_and_channels_as_their_names():
    names = {"UYOU": "you"}

    assert render_mrkdwn("<@UYOU> shared a talk", names) == "@you shared a talk"
    assert render_mrkdwn("<@UOTHER> voted", names) == "@user voted"
    assert render_mrkdwn("posted in <#C123|general> and <#C456>") == "posted in #general and #C456"


def test_emoji_shortcodes_show_as_emoji():
    assert render_mrkdwn(":warning: There is no `room:` filter") == "⚠️ There is no `room:` filter"
    assert render_mrkdwn("year:2019 :not_an_emoji:") == "year:2019 :not_an_emoji:"


def test_every_emoji_shortcode_talkbot_sends_has_its_emoji():
    sources = "\n".join(path.read_text() for path in (ROOT / "bot").rglob("*.py") if path.name != "console.py")
    used = set(re.findall(r"[\"' ]:([a-z][a-z0-9_]*):[ \"']", sources))

    assert used and used <= EMOJI.keys()


def test_escaped_catalog_text_is_unescaped_last_and_never_becomes_markup():
    assert render_mrkdwn("Tom &amp; Jerry &lt;@UYOU&gt; a &lt;b&gt;") == "Tom & Jerry <@UYOU> a <b>"


def test_the_console_shows_a_linked_title_without_slack_markup(seeded_database):
    [answer] = console_answers(seeded_database, ["anticipation what could possibly go wrong"])

    assert "Anticipation: What could possibly go wrong? <http" in answer
    assert "*" not in answer and "<http://velocityconf.com/velocityeu2011|" not in answer


def test_a_pasted_catalog_link_shows_its_unfurl_card(seeded_database):
    page = "https://velocityconf.com/velocityeu/public/schedule/detail/21653/"  # a seed talk's page, another form
    [answer] = console_answers(seeded_database, [f"have you seen {page}"])

    assert answer.startswith(f"── preview of {page} under your message in #general")
    assert "Velocity Europe 2011" in answer and "`/talk` finds more talks like this" in answer


def test_watched_and_foryou_work_as_in_slack(seeded_database):
    watched, for_you = console_answers(seeded_database, ["/talk watched", "/talk foryou"])

    assert "Talks you watched (0)" in watched
    assert "For you recommends talks like the ones you Save, mark Watched or 👍" in for_you and "] Watched" in for_you


def test_the_clock_delivers_a_for_you_dm_once_it_is_asked_for(seeded_database):
    nothing, _, delivered, again = console_answers(
        seeded_database, ["clock", "/talk foryou weekly fri 16:00", "clock", "clock"]
    )

    assert "nothing is scheduled" in nothing
    assert delivered.startswith("── talkbot in your DM with talkbot") and "🎤 For you" in delivered
    assert "Why this one:" in delivered and "🎤 For you" in again  # a week later, the next one


def test_no_seed_title_carries_a_url():
    titles = [record.title for record in read_catalog_file(SEED_FILE).records]

    assert titles and not [title for title in titles if re.search(r"https?:|://|\bwww\.", title)]


# --- a real terminal ------------------------------------------------------------------------------------------

UP_ARROW = b"\x1b[A"


def _read_until(fd: int, seen: bytearray, needle: bytes, count: int = 1, timeout: float = 60) -> None:
    """Read the terminal until `needle` was shown `count` times and the prompt is back."""
    deadline = time.monotonic() + timeout
    while seen.count(needle) < count or not seen.rstrip(b" ").endswith(b"you>"):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {needle!r} x{count} in {bytes(seen)[-2000:]!r}")
        if select.select([fd], [], [], 0.5)[0]:
            seen += os.read(fd, 65536)


def test_arrow_keys_edit_and_recall_lines_on_a_terminal(tmp_path):
    """On a terminal the console reads lines with readline: Up recalls the last line instead of sending `^[[A`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLACK_")}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.sqlite3'}", "XDG_DATA_HOME": str(tmp_path), "TERM": "dumb"}
    main, terminal = pty.openpty()
    process = subprocess.Popen([*TALKBOT, "console"], stdin=terminal, stdout=terminal, stderr=terminal, env=env,
                               cwd=ROOT, close_fds=True)  # fmt: skip
    os.close(terminal)
    seen, borg = bytearray(), b"From Borg to Kubernetes"
    try:
        _read_until(main, seen, b"you>")
        os.write(main, b"k8s\r")
        _read_until(main, seen, borg)
        first = seen.count(borg)
        os.write(main, UP_ARROW + b"\r")  # the previous line, again
        _read_until(main, seen, borg, count=first + 1)
        os.write(main, b"\x04")  # Ctrl-D leaves
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(main)

    assert b"^[[A" not in seen
    assert (tmp_path / "talkbot" / "console_history").read_text().splitlines()[-1] == "k8s"


# --- the search modal, as a form --------------------------------------------------------------------------------


def test_the_console_fills_in_and_submits_the_search_modal_and_shares_from_it(seeded_database):
    results, shared = console_answers(seeded_database, ['modal kafka speaker="liz fong-jones" years=2015..2023', "1"])

    assert results.startswith("── the search modal") and "Speaker: liz fong-jones" in results
    assert 'for `kafka speaker:"liz fong-jones" year:2015..2023`' in results and "[1] Share" in results
    assert "talkbot in CGENERAL" in shared and "@you shared a talk" in shared
    assert "✅ Shared Scaling Kafka in #CGENERAL." in shared


def test_the_console_fills_in_the_modals_length_language_and_order(seeded_database):
    (results,) = console_answers(seeded_database, ["modal kafka length=long language=German order=newest"])

    assert "Length: Long (45 min or more)" in results and "Order: Newest first" in results
    assert "match `kafka is:long lang:de sort:newest`" in results  # the seed catalog knows no lengths


def test_the_console_shows_the_modals_field_errors_and_how_to_use_it(seeded_database):
    errors, usage, unknown = console_answers(seeded_database, ["modal years=2019..2015 speaker=???", "modal",
                                                               "modal colour=red"])  # fmt: skip

    assert "⚠️ years: That range runs backwards: write 2015..2019" in errors and "⚠️ speaker:" in errors
    assert usage.startswith("Usage: modal WORDS") and unknown == usage
