"""`/talk follow …`, `/talk following`, `/talk unfollow …`: a person's standing searches, one DM per import that adds
talks matching them (bot/follows/alerts.py sends it)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.follows import follow_usage_message, following_message
from bot.blocks.messages import notice_message, problem_message
from db.follows import MAX_FOLLOWS, add_follow, follows_of, query_key, remove_follow
from db.search.engine import SearchEngine
from db.search.query import QueryError

FOLLOW_COMMANDS = ("follow", "following", "unfollow")


class FollowCommands:
    def __init__(self, sessions: sessionmaker[Session], search: SearchEngine) -> None:
        self.sessions, self.search = sessions, search

    def handle(self, command: str, text: str, *, team_id: str, enterprise_id: str | None, user_id: str) -> dict:
        """`command` is one of FOLLOW_COMMANDS; `text` what follows it, as typed."""
        text = " ".join(text.split())
        if command == "following":
            return self.following(team_id, user_id)
        if command == "unfollow":
            return self.unfollow(team_id, user_id, text)
        return self.follow(team_id, enterprise_id, user_id, text)

    def follow(self, team_id: str, enterprise_id: str | None, user_id: str, text: str) -> dict:
        if not text:
            return follow_usage_message("Follow what? Give a topic or a speaker.")
        try:
            query = self.search.parse(text)
        except QueryError as error:
            return problem_message(str(error))
        if not query.words and not query.has_filters:  # sort:newest alone: every talk, in an order alerts do not have
            return follow_usage_message(f"“{text}” has nothing to search for. Give a topic or a speaker.")
        with self.sessions.begin() as session:
            theirs = follows_of(session, team_id, user_id)
            if len(theirs) >= MAX_FOLLOWS and query_key(text) not in {follow.query_key for follow in theirs}:
                return problem_message(
                    f"You follow {len(theirs)} searches, the most talkbot keeps for one person. Stop one first: "
                    "`/talk following` lists them with an Unfollow button."
                )
            follow, new = add_follow(session, team_id, enterprise_id, user_id, text)
            shown = follow.query
        if not new:
            return notice_message(f"You already follow `{shown}`. `/talk following` lists what you follow.")
        return notice_message(
            f"Following `{shown}`. When an import adds talks that match it, I will send you one DM listing them. "
            f"The talks that match it today: `/talk {shown}`."
        )

    def following(self, team_id: str, user_id: str, note: str | None = None) -> dict:
        with self.sessions() as session:
            queries = [follow.query for follow in follows_of(session, team_id, user_id)]
        return following_message(queries, note, MAX_FOLLOWS)

    def unfollow(self, team_id: str, user_id: str, text: str) -> dict:
        """Stop a follow named by its text or by its number in `/talk following`; then show what is left."""
        if not text:
            return follow_usage_message("Unfollow what? Give its text, or its number in `/talk following`.")
        with self.sessions.begin() as session:
            theirs = follows_of(session, team_id, user_id)
            by_text = [follow for follow in theirs if follow.query_key == query_key(text)]
            if by_text:
                chosen = by_text[0]
            elif text.isdigit() and 1 <= int(text) <= len(theirs):
                chosen = theirs[int(text) - 1]
            else:
                return problem_message(
                    f"You do not follow “{text}”. `/talk following` lists what you follow, numbered."
                )
            remove_follow(session, team_id, user_id, chosen.id)
            shown = chosen.query
        return self.following(team_id, user_id, note=f"Stopped following `{shown}`.")
