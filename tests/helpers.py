"""Shared builders for engine tests: a fixed clock, events, member facts and small rule sets.

Tests never read the wall clock: every event happens at or around `T0`. (The loader and CLI tests
keep their own helpers in `tests/cli_helpers.py`.)
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import yaml

from bot.events import Chat, ForwardInfo, Join, MediaKind, Message, User
from bot.facts import NO_CHAT_FACTS, ChatFacts, MemberFacts, RecentMessage
from rules import LIBRARY, RuleSet, Verdict, load_rule_text
from rules.context import fingerprint
from rules.normalize import normalize

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
NOW = T0
CHAT = Chat(id="chat-1", title="Test chat")
ALICE = User(id="user-1", name="Alice", username="alice")
BOB = User(id="user-2", name="Bob")
PHISHING_LIST = LIBRARY / "lists" / "discord-phishing-domains.txt"
CORPORA = Path(__file__).resolve().parent.parent / "bench" / "corpora"

_ids = count(1)


def message(
    text: str = "",
    *,
    at: datetime = T0,
    actor: User = ALICE,
    media: Iterable[str] = (),
    forwarded: bool = False,
    **fields: Any,
) -> Message:
    """A message in the test chat; `media` by name, `forwarded=True` for a forward."""
    return Message(
        platform="test",
        chat=CHAT,
        actor=actor,
        at=at,
        id=fields.pop("id", f"m{next(_ids)}"),
        text=text,
        media=frozenset(MediaKind(m) for m in media),
        forward=ForwardInfo(from_name="elsewhere") if forwarded else None,
        **fields,
    )


def join(*, at: datetime = T0, actor: User = ALICE) -> Join:
    return Join(platform="test", chat=CHAT, actor=actor, at=at, id=f"j{next(_ids)}")


def member(
    *,
    level: int = 0,
    joined_days_ago: float | None = None,
    messages: int = 100,
    strikes: int = 0,
    admin: bool = False,
    recent: Iterable[RecentMessage] = (),
    now: datetime = T0,
) -> MemberFacts:
    """Member facts; without `joined_days_ago` the join date is unknown (as for old members)."""
    joined = None if joined_days_ago is None else now - timedelta(days=joined_days_ago)
    return MemberFacts(
        level=level,
        joined_at=joined,
        message_count=messages,
        strikes=strikes,
        is_admin=admin,
        recent=tuple(recent),
    )


def earlier(
    text: str, *, ago: timedelta, now: datetime = T0, media_group: str = ""
) -> RecentMessage:
    """An earlier message of the same member, as the pipeline remembers it."""
    return RecentMessage(
        at=now - ago, fingerprint=fingerprint(normalize(text)), media_group=media_group
    )


def load(yaml_text: str, **kwargs: Any) -> RuleSet:
    """A rule set from YAML text (dedented), e.g. a triple-quoted block in a test."""
    return load_rule_text(textwrap.dedent(yaml_text), **kwargs).ruleset


def yaml_of(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), allow_unicode=True, sort_keys=False)


def one_rule(when: Any, *, lists: Mapping[str, Any] | None = None, **rule: Any) -> RuleSet:
    """A rule set holding one rule `r` (strike 1 unless given) with condition `when`.

    List files (`{file: …}`) are found relative to `rules/library/`.
    """
    spec: dict[str, Any] = {"id": "r", "when": when}
    spec.update(rule)
    if not any(k in spec for k in ("strike", "delete", "reply", "action", "notify_admins")):
        spec["strike"] = 1
    document: dict[str, Any] = {"version": 1}
    if lists:
        document["lists"] = dict(lists)
    document["rules"] = [spec]
    return load(yaml_of(document), base=LIBRARY)


def evaluate(
    ruleset: RuleSet,
    event: Any,
    facts: MemberFacts | None = None,
    chat: ChatFacts = NO_CHAT_FACTS,
    now: datetime | None = None,
) -> Verdict:
    """Evaluate through the fast path, checking that the exhaustive path agrees."""
    facts = facts if facts is not None else member()
    fast = ruleset.evaluate(event, facts, chat, now)
    slow = ruleset.evaluate(event, facts, chat, now, explain=True)
    assert fast.matches == slow.matches
    assert fast.shadow == slow.shadow
    return fast


def matched(
    ruleset: RuleSet,
    event: Any,
    facts: MemberFacts | None = None,
    chat: ChatFacts = NO_CHAT_FACTS,
    now: datetime | None = None,
) -> bool:
    """Whether any rule matched (enforced or shadow)."""
    verdict = evaluate(ruleset, event, facts, chat, now)
    return bool(verdict.matches or verdict.shadow)


def ids(verdict: Verdict) -> list[str]:
    return [m.rule.id for m in verdict.matches]


def shadow_ids(verdict: Verdict) -> list[str]:
    return [m.rule.id for m in verdict.shadow]


def evidence_lines(verdict: Verdict) -> list[str]:
    return [e.format() for m in verdict.matches for e in m.evidence]
