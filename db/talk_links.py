"""Finding talks by a link to them (a pasted video or page URL), for link unfurls in Slack.

A URL matches a talk's stored link when both name the same page: the scheme (http/https), a `www.`/`m.` prefix,
a trailing slash, a #fragment and the case of the host do not matter, and YouTube's forms of one video
(`youtube.com/watch?v=ID`, `youtu.be/ID`, `/embed/ID`, `/live/ID`, `/shorts/ID`) are one. Lookups use the index on
links.url: the forms a stored link may take are listed and looked up exactly, never by scanning links."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Link, Talk

_YOUTUBE_HOSTS = {"youtube.com", "youtube-nocookie.com"}
_YOUTUBE_PATH = re.compile(r"^/(?:embed|live|shorts|v)/([\w-]{6,20})/?$")
_VIDEO_ID = re.compile(r"^[\w-]{6,20}$")


def _host_and_rest(url: str) -> tuple[str, str, str] | None:
    try:
        parts = urlsplit(html.unescape(url.strip()))
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    for prefix in ("www.", "m."):
        host = host.removeprefix(prefix)
    return host, parts.path, parts.query


def _youtube_id(host: str, path: str, query: str) -> str | None:
    if host == "youtu.be":
        video_id = path.strip("/")
    elif host in _YOUTUBE_HOSTS:
        found = _YOUTUBE_PATH.match(path)
        video_id = found.group(1) if found else (parse_qs(query).get("v") or [""])[0] if path == "/watch" else ""
    else:
        return None
    return video_id if _VIDEO_ID.match(video_id) else None


def link_key(url: str) -> str | None:
    """What a URL names, the same for every form of it; None for what is not an http(s) URL."""
    parts = _host_and_rest(url)
    if parts is None:
        return None
    host, path, query = parts
    video_id = _youtube_id(host, path, query)
    if video_id:
        return f"youtube:{video_id}"
    return f"{host}{path.rstrip('/')}" + (f"?{query}" if query else "")


def _forms(url: str) -> set[str]:
    """The spellings a stored link naming the same page may have (each looked up exactly, using the index)."""
    parts = _host_and_rest(url)
    if parts is None:
        return set()
    host, path, query = parts
    video_id = _youtube_id(host, path, query)
    if video_id:
        hosts, paths = ["youtube.com", "www.youtube.com", "m.youtube.com"], [f"/watch?v={video_id}"]
        paths += [f"/{kind}/{video_id}" for kind in ("embed", "live", "shorts")]
        places = [host + path for host in hosts for path in paths] + [f"youtu.be/{video_id}"]
    else:
        suffix = f"?{query}" if query else ""
        bare = path.rstrip("/")
        places = [f"{h}{p}{suffix}" for h in (host, f"www.{host}") for p in {bare, bare + "/", path or "/"}]
    return {f"{scheme}://{place}" for scheme in ("https", "http") for place in places}


def talks_by_link(session: Session, urls: Iterable[str]) -> dict[str, Talk]:
    """The talk each of `urls` links to, keyed by the URL as given; URLs of no talk in the catalog are left out."""
    wanted = {url: link_key(url) for url in urls}
    forms = set().union(*(_forms(url) for url, key in wanted.items() if key))
    if not forms:
        return {}
    links = session.execute(select(Link.url, Link.talk_id).where(Link.url.in_(sorted(forms)))).all()
    talk_of_key = {}
    for url, talk_id in sorted(links, key=lambda link: link.talk_id):  # one talk per key: the first imported
        talk_of_key.setdefault(link_key(url), talk_id)
    talks = {talk.id: talk for talk in session.scalars(select(Talk).where(Talk.id.in_(set(talk_of_key.values()))))}
    return {url: talks[talk_of_key[key]] for url, key in wanted.items() if key in talk_of_key}


def common_link_domains(session: Session, most: int = 10) -> list[tuple[str, int]]:
    """The catalog's most linked domains (without `www.`), for the manifest's `features.unfurl_domains`."""
    counts: Counter[str] = Counter()
    for url in session.scalars(select(Link.url)):
        parts = _host_and_rest(url)
        if parts:
            counts[parts[0]] += 1
    return counts.most_common(most)
