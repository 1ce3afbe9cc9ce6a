"""The one error path for lazy listeners: ack at once, do the work after the ack, and on any failure log it with its
traceback and tell the person to try again."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable

from slack_bolt import Ack, Args
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.answers import TRY_AGAIN
from bot.blocks.home import home_problem_view
from bot.blocks.messages import problem_message
from bot.blocks.modal import modal_problem_view
from bot.listeners.replies import SlackRefused, say_in_place, tell_privately
from db.event_receipts import claim_event

log = logging.getLogger(__name__)

SOMETHING_WENT_WRONG = "Something went wrong on our side, and it has been logged. Please try again."
SLACK_REFUSED = "Slack would not show my answer (it has been logged for us to fix). Please try again."


def after_ack(sessions: sessionmaker[Session]) -> Callable:
    """`@after_ack(app.command("/talk"))`: ack at once, then do the work as Bolt "lazy" work, behind one error path.

    The work function names the arguments it wants (as a Bolt listener would). Events are claimed here, after the
    ack, so that an ack never waits on the database: Slack redelivers events it thinks were missed, and only the
    first process to claim an event_id answers it."""

    def register_with(register: Callable, once: bool = False, ack: Callable | None = None) -> Callable:
        """`once`: a click whose effect others see (Share) is done once even if its request is replayed. `ack`: an
        ack that answers something itself (answered_at_once), instead of a bare ack."""

        def decorate(work: Callable) -> Callable:
            wanted = tuple(inspect.signature(work).parameters)

            def run(args: Args) -> None:
                if not _first_delivery(sessions, args.body, once):
                    log.info("%s: a repeated delivery, already handled", work.__name__)
                    return
                try:
                    work(**{name: getattr(args, name) for name in wanted})
                except Exception as error:
                    report_failure(work.__name__, args, error)

            run.__name__ = work.__name__
            register(ack=ack or _ack_at_once, lazy=[run])
            return work

        return decorate

    return register_with


def answered_at_once(answer: Callable[[dict], dict], failed: Callable[[str], dict]) -> Callable:
    """An ack that carries an answer worked out from the request alone, before the ack and within Slack's 3 s (a
    modal's field errors, its next view). Should working it out fail, that is logged and `failed(text)` answered,
    so the person reads what happened instead of Slack's "trouble connecting"."""

    def ack_with_answer(ack: Ack, body: dict) -> None:
        try:
            reply = answer(body)
        except Exception:
            log.exception("working out the answer to ack with failed")
            reply = failed(SOMETHING_WENT_WRONG)
        ack(**reply)

    return ack_with_answer


def report_failure(listener: str, args: Args, error: Exception) -> None:
    """Log with the traceback, then tell the person what happened, as plainly as Slack allows."""
    log.error("%s failed", listener, exc_info=error)
    if (args.event or {}).get("type") == "link_shared":
        return  # nobody asked: a link simply stays without its preview
    text = (
        TRY_AGAIN if isinstance(error, SQLAlchemyError)
        else SLACK_REFUSED if isinstance(error, SlackApiError | SlackRefused)
        else SOMETHING_WENT_WRONG
    )  # fmt: skip
    try:
        if args.event and args.say is not None:  # a DM or a mention: answer where the question was
            say_in_place(args.event, args.say, problem_message(text))
        elif (args.body.get("view") or {}).get("type") == "home":  # a click on the Home tab: no response_url there
            args.client.views_publish(user_id=args.body["user"]["id"], view=home_problem_view(text))
        elif (args.body.get("view") or {}).get("type") == "modal":  # the search modal: said in the modal itself
            args.client.views_update(view_id=args.body["view"]["id"], view=modal_problem_view(text))
        elif args.body.get("type") == "shortcut":  # a global shortcut: no conversation and no modal yet, so a DM
            args.client.chat_postMessage(channel=args.body["user"]["id"], **problem_message(text))
        elif args.respond is not None:  # a command or a click: Slack gave a response_url (for events Bolt still
            tell_privately(args.body, args.respond, problem_message(text))  # hands a `respond`, which raises)
    except Exception:
        log.exception("%s: could not tell the person about the failure either", listener)


def _ack_at_once(ack: Ack) -> None:
    ack()


def _first_delivery(sessions: sessionmaker[Session], body: dict, once: bool) -> bool:
    """False for a delivery already handled: an event Slack retried (or another replica took), or a `once` click sent
    again (a replayed request repeats its trigger_id). Other commands and clicks are answered again: they only read,
    or their writes are idempotent (save, vote, subscribe), and claiming them would cost every one a database write."""
    if body.get("type") == "event_callback":
        delivery_id = body.get("event_id")
    else:
        delivery_id = f"trigger:{body['trigger_id']}" if once and body.get("trigger_id") else None
    if not isinstance(delivery_id, str) or not delivery_id:
        return True
    try:
        with sessions.begin() as session:
            return claim_event(session, delivery_id, _team_of(body))
    except SQLAlchemyError:
        # No database, no claim: handle it anyway, so its listener can say "try again".
        log.warning("could not claim delivery %s: database unavailable; handling it unclaimed", delivery_id[:80])
        return True


def _team_of(body: dict) -> str | None:
    team = body.get("team_id") or body.get("team")
    return team.get("id") if isinstance(team, dict) else team
