"""What the digest runner and the follow alerts share about a post they claimed before sending (db/claims.py): how
long a claim protects a post in progress, and how to find the post in Slack after a crash, by the claim id its
message metadata carries."""

from __future__ import annotations

import datetime as dt

from slack_sdk import WebClient

from db.claims import utc

# How long a claim protects a post in progress; after that a claim without a message is presumed crashed.
LEASE = dt.timedelta(minutes=2)
HISTORY_PAGES = 5  # how far back in a conversation a crashed post is looked for (200 messages a page)


class PassTally:
    """What one pass did, counted (a dataclass of counts deriving from this): printed as "2 posted, 0 skipped, …"."""

    def __str__(self) -> str:
        return ", ".join(f"{count} {name}" for name, count in vars(self).items())


def find_claimed_message(
    client: WebClient, channel_id: str, event_type: str, claim_id: str, claimed_at: dt.datetime
) -> dict | None:
    """The message posted under this claim, if it reached the conversation: read between transactions, never
    inside one, from a minute before the claim (clocks differ) onwards."""
    cursor = None
    oldest = f"{utc(claimed_at).timestamp() - 60:.6f}"
    for _ in range(HISTORY_PAGES):
        page = client.conversations_history(
            channel=channel_id, oldest=oldest, include_all_metadata=True, limit=200, cursor=cursor
        )
        for message in page.get("messages", []):
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == event_type and payload.get("claim_id") == claim_id:
                return message
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None
