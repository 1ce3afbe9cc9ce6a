"""talkbot's log lines, which nobody can forge: every control character in a record is escaped.

Logged values can come from outside (a request's path, an exception message, a third-party library's warning
quoting a payload). A CR or LF in one would start a line of the attacker's choosing (`… ERROR bot.server: FORGED`),
and an ANSI escape can rewrite what a terminal shows. `EscapingFormatter` renders each record's line (the
message, and every other field) with CR, LF, tab, the other C0 and C1 controls, DEL and the Unicode line and
paragraph separators written as `\\n`, `\\x1b`, `\\u2028`…, so a record is exactly one line. A traceback (or stack)
follows on lines of its own, each escaped the same way and indented: a line that starts at column 0 is always the
start of a record."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTINUATION = "  "  # before each line of a traceback

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]
_ESCAPES = {
    code: _NAMED.get(chr(code)) or (f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}") for code in _CONTROLS
}


def escaped(text: str) -> str:
    """`text` with its control characters written out, so that it prints on one line and sets no terminal state."""
    return text.translate(_ESCAPES)


class EscapingFormatter(logging.Formatter):
    """One line per record, whatever its message holds; a traceback below it, indented and escaped line by line."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        lines = [escaped(self.formatMessage(record))]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for block in (record.exc_text, record.stack_info and self.formatStack(record.stack_info)):
            if block:
                lines += [CONTINUATION + escaped(line) for line in block.split("\n")]
        return "\n".join(lines)


def configure_logging(level: int = logging.INFO) -> None:
    """Every logger (talkbot's, waitress's, Bolt's…) writes through one escaping handler on standard error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
