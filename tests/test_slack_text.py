"""Text as Slack delivers it becomes the words a person typed, once."""

import pytest

from bot.slack_text import plain_text


@pytest.mark.parametrize(
    ("delivered", "typed"),
    [
        ("ops &amp; sre", "ops & sre"),
        ("a &lt; b &gt; c", "a < b > c"),
        ("&amp;lt; stays as typed", "&lt; stays as typed"),  # someone typed "&lt;": undone once, not twice
        ("&amp;amp;", "&amp;"),
        ("<@U0123ABC> kafka", "kafka"),
        ("<@U0123ABC|alice> kafka", "kafka"),
        ("talks for <#C0123|sre-team>", "talks for sre-team"),
        ("<!here> <!channel> <!subteam^S0123|@oncall> chaos", "chaos"),
        ("see <https://example.com/talk?a=1&amp;b=2|the scaling talk>", "see the scaling talk"),
        ("see <https://example.com/talk>", "see"),
        ("<mailto:someone@example.com|someone>", "someone"),
        ("plain words", "plain words"),
        ("", ""),
    ],
)
def test_slack_markup_and_escapes_become_plain_words(delivered, typed):
    assert plain_text(delivered) == typed
