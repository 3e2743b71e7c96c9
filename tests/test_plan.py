"""`rules.ruleset.plan`: from a verdict and the ladder's decision to canonical actions.

One message is one offence: it counts once with the highest strike, is deleted if any rule says
so, gets the reply of its most serious rule, and at most one punishment: the most severe of the
ladder's step and the rules' direct actions. Admins are never punished.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bot.actions import (
    PUNITIVE,
    Action,
    Ban,
    Delete,
    Kick,
    Mute,
    NotifyAdmins,
    Permission,
    Restrict,
    Send,
    Warn,
)
from bot.facts import MemberFacts
from rules import RuleSet, StrikeEntry, Verdict, plan
from rules.ladder import LadderDecision
from tests.helpers import ALICE, BOB, CHAT, T0, evaluate, join, load, member, message

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def run(
    ruleset: RuleSet,
    event: Any,
    facts: MemberFacts | None = None,
    ledger: Sequence[StrikeEntry] = (),
    **kwargs: Any,
) -> tuple[Verdict, LadderDecision, list[Action]]:
    """What the pipeline does: evaluate, ask the ladder about the verdict's strike, plan."""
    verdict = evaluate(ruleset, event, facts)
    decision = ruleset.ladder.decide(ledger, T0, verdict.strike)
    return verdict, decision, plan(verdict, decision, T0, **kwargs)


SEVERAL = load(
    """
    rules:
      - id: mild
        reason: mild language
        when: {keywords: [spam]}
        strike: 1
        delete: true
        reply: "{user}, mild"
      - id: serious
        reason: scam offer
        when: {keywords: [crypto]}
        strike: 3
        reply: "{user}, serious"
      - id: middling
        when: {keywords: [crypto]}
        strike: 2
        reply: "{user}, middling"
    """
)


def test_a_clean_message_needs_no_actions() -> None:
    _, _, actions = run(SEVERAL, message("hello"))

    assert actions == []


def test_one_offence_counts_once_with_the_highest_strike() -> None:
    verdict, decision, actions = run(SEVERAL, message("spam about crypto", id="m1"))

    assert [m.rule.id for m in verdict.matches] == ["mild", "serious", "middling"]
    assert verdict.strike == 3
    assert decision == LadderDecision(
        before=0, after=3, step=SEVERAL.ladder.step_for(3)
    )  # not 1 + 3 + 2
    assert actions == [
        Delete(chat=CHAT.id, message_id="m1", reason="scam offer"),
        Send(chat=CHAT.id, text="Alice, serious", reason="scam offer"),
        Mute(
            chat=CHAT.id,
            user=ALICE.id,
            user_name="Alice",
            reason="scam offer",
            until=T0 + DAY,
        ),
    ]


def test_delete_if_any_rule_deletes() -> None:
    _, _, with_delete = run(SEVERAL, message("spam", id="m1"))
    _, _, without = run(SEVERAL, message("crypto", id="m2"))

    assert [a for a in with_delete if isinstance(a, Delete)] == [
        Delete(chat=CHAT.id, message_id="m1", reason="mild language")
    ]
    assert [a for a in without if isinstance(a, Delete)] == []


def test_reply_answers_the_message_when_it_is_kept() -> None:
    _, _, actions = run(SEVERAL, message("crypto", id="m2"))

    assert [a for a in actions if isinstance(a, Send)] == [
        Send(chat=CHAT.id, text="Alice, serious", reply_to="m2", reason="scam offer")
    ]


def test_reply_of_equal_strikes_comes_from_the_first_rule() -> None:
    ruleset = load(
        """
        rules:
          - {id: a, when: {keywords: [x]}, strike: 2, reply: first}
          - {id: b, when: {keywords: [x]}, strike: 2, reply: second}
        """
    )

    _, _, actions = run(ruleset, message("x"))

    assert [a.text for a in actions if isinstance(a, Send)] == ["first"]


def test_reply_placeholders_are_filled() -> None:
    ruleset = load(
        """
        rules:
          - id: scam
            reason: scam offers
            when: {keywords: [crypto]}
            strike: 1
            reply: >-
              {user} ({mention}) broke {rule}: {reason}. {strikes} strikes, {step} until
              {until} in {chat}. {{literal}}
        """
    )
    ledger = [StrikeEntry(at=T0 - HOUR, points=1)]

    _, _, actions = run(ruleset, message("crypto"), ledger=ledger)

    assert [a.text for a in actions if isinstance(a, Send)] == [
        "Alice (@alice) broke scam: scam offers. 2 strikes, mute for 1h until "
        "2026-01-15 13:00 UTC in Test chat. {literal}"
    ]


def test_reply_placeholders_without_a_punishment_or_username() -> None:
    ruleset = load(
        """
        rules:
          - {id: note, when: {keywords: [x]}, reply: "{mention}: {rule} ({step}|{until}|{strikes})"}
        """
    )

    _, _, actions = run(ruleset, message("x", actor=BOB))

    assert [a.text for a in actions if isinstance(a, Send)] == ["Bob: note (||0)"]


def test_chat_title_can_be_given() -> None:
    ruleset = load('rules: [{id: a, when: {keywords: [x]}, reply: "welcome to {chat}"}]')

    _, _, actions = run(ruleset, message("x"), chat_title="Rust Beginners")

    assert [a.text for a in actions if isinstance(a, Send)] == ["welcome to Rust Beginners"]


# -- one punishment: the most severe ------------------------------------------------------------


def punishments(actions: list[Action]) -> list[Action]:
    return [a for a in actions if a.kind in PUNITIVE]


def test_ladder_step_alone() -> None:
    ruleset = load("rules: [{id: a, when: {keywords: [x]}, strike: 1}]")

    _, _, actions = run(ruleset, message("x"))

    assert actions == [
        Warn(
            chat=CHAT.id,
            user=ALICE.id,
            user_name="Alice",
            reason="a",
            text="Alice, this is a warning: a.",
        )
    ]


def test_direct_action_beats_a_milder_ladder_step() -> None:
    ruleset = load(
        """
        rules:
          - {id: a, when: {keywords: [x]}, strike: 1}
          - {id: b, when: {keywords: [x]}, action: ban}
        """
    )

    _, _, actions = run(ruleset, message("x"))

    assert punishments(actions) == [
        Ban(chat=CHAT.id, user=ALICE.id, user_name="Alice", reason="a", until=None)
    ]


def test_ladder_step_beats_a_milder_direct_action() -> None:
    ruleset = load(
        """
        rules:
          - {id: a, when: {keywords: [x]}, strike: 5}
          - {id: b, when: {keywords: [x]}, action: {type: mute, duration: 10m}}
        """
    )

    _, _, actions = run(ruleset, message("x"))

    assert punishments(actions) == [
        Ban(chat=CHAT.id, user=ALICE.id, user_name="Alice", reason="a", until=T0 + 7 * DAY)
    ]


def test_the_longer_of_two_equally_severe_punishments() -> None:
    ruleset = load(
        """
        rules:
          - {id: a, when: {keywords: [x]}, strike: 2}
          - {id: b, when: {keywords: [x]}, action: {type: mute, duration: 1d}}
          - {id: c, when: {keywords: [x]}, action: {type: mute, duration: 10m}}
        """
    )

    _, _, actions = run(ruleset, message("x"))

    assert punishments(actions) == [
        Mute(chat=CHAT.id, user=ALICE.id, user_name="Alice", reason="a", until=T0 + DAY)
    ]


def test_a_permanent_ban_beats_a_temporary_one_and_a_kick() -> None:
    ruleset = load(
        """
        rules:
          - {id: a, when: {keywords: [x]}, action: kick}
          - {id: b, when: {keywords: [x]}, action: {type: ban, duration: 1d}}
          - {id: c, when: {keywords: [x]}, action: ban}
        """
    )

    _, _, actions = run(ruleset, message("x"))

    assert punishments(actions) == [
        Ban(chat=CHAT.id, user=ALICE.id, user_name="Alice", reason="a", until=None)
    ]


def test_restrict_action() -> None:
    ruleset = load(
        """
        rules:
          - id: a
            when: {keywords: [x]}
            action: {type: restrict, permissions: [send_media, send_links], duration: 1d}
        """
    )

    _, _, actions = run(ruleset, message("x"))

    assert punishments(actions) == [
        Restrict(
            chat=CHAT.id,
            user=ALICE.id,
            user_name="Alice",
            reason="a",
            denied=frozenset({Permission.SEND_MEDIA, Permission.SEND_LINKS}),
            until=T0 + DAY,
        )
    ]


def test_step_message_is_rendered_for_warnings() -> None:
    ruleset = load(
        """
        ladder:
          steps:
            - {at: 1, action: warn, message: "{user}, careful: {reason} ({strikes})"}
        rules:
          - {id: a, reason: be nice, when: {keywords: [x]}, strike: 1}
        """
    )

    _, _, actions = run(ruleset, message("x"))

    assert punishments(actions) == [
        Warn(
            chat=CHAT.id,
            user=ALICE.id,
            user_name="Alice",
            reason="be nice",
            text="Alice, careful: be nice (1)",
        )
    ]


def test_raid_kick_on_a_join_event() -> None:
    ruleset = load(
        """
        rules:
          - {id: raid, on: join, when: {member: {messages: {eq: 0}}}, action: kick, delete: true}
        """
    )

    _, _, actions = run(ruleset, join(), member(messages=0))

    assert actions == [Kick(chat=CHAT.id, user=ALICE.id, user_name="Alice", reason="raid")]


def test_zero_point_rules_fire_no_ladder_step() -> None:
    ruleset = load("rules: [{id: a, when: {keywords: [x]}, delete: true}]")

    _, decision, actions = run(ruleset, message("x", id="m1"), ledger=[StrikeEntry(T0, 4)])

    assert decision.step is None
    assert actions == [Delete(chat=CHAT.id, message_id="m1", reason="a")]


# -- admins --------------------------------------------------------------------------------------

ADMIN_RULES = load(
    """
    rules:
      - id: everyone
        exempt_admins: false
        when: {keywords: [x]}
        strike: 5
        delete: true
        reply: "{user}, no"
        action: ban
        notify_admins: true
    """
)


def test_admins_never_get_a_punitive_action() -> None:
    verdict, decision, actions = run(ADMIN_RULES, message("x", id="m1"), member(admin=True))

    assert verdict.strike == 0
    assert decision.step is None
    assert punishments(actions) == []
    assert actions == [
        Delete(chat=CHAT.id, message_id="m1", reason="everyone"),
        Send(chat=CHAT.id, text="Alice, no", reason="everyone"),
        NotifyAdmins(
            chat=CHAT.id,
            text="Alice broke rule 'everyone': keywords: keyword 'x' («x»)",
            reason="everyone",
        ),
    ]


def test_admins_are_not_punished_even_with_a_ladder_step() -> None:
    verdict = evaluate(ADMIN_RULES, message("x"), member(admin=True))
    decision = ADMIN_RULES.ladder.decide([], T0, 7)  # a step, however it came about

    actions = plan(verdict, decision, T0)

    assert punishments(actions) == []


def test_the_same_rule_punishes_members() -> None:
    _, _, actions = run(ADMIN_RULES, message("x"), member(admin=False))

    assert punishments(actions) == [
        Ban(
            chat=CHAT.id,
            user=ALICE.id,
            user_name="Alice",
            reason="everyone",
            until=None,
            delete_recent_messages=True,  # the rule deletes: the ban sweeps the rest too
        )
    ]


# -- notify_admins ---------------------------------------------------------------------------------


def test_notify_admins_names_the_primary_rule_and_its_evidence() -> None:
    ruleset = load(
        """
        rules:
          - {id: tell, when: {keywords: [x]}, notify_admins: true}
          - {id: main, when: {keywords: [x], length: {lt: 5}}, strike: 1}
        """
    )

    _, _, actions = run(ruleset, message("x!"))

    assert [a for a in actions if isinstance(a, NotifyAdmins)] == [
        NotifyAdmins(
            chat=CHAT.id,
            text="Alice broke rule 'main': length: 2 characters, < 5; keywords: keyword 'x' («x»)",
            reason="main",
        )
    ]


def test_no_notice_unless_a_rule_asks_for_one() -> None:
    _, _, actions = run(SEVERAL, message("spam crypto"))

    assert [a for a in actions if isinstance(a, NotifyAdmins)] == []


def test_shadow_matches_plan_nothing() -> None:
    ruleset = load(
        """
        rules:
          - {id: a, mode: shadow, when: {keywords: [x]}, strike: 3, delete: true, reply: hi,
             notify_admins: true}
        """
    )

    verdict, _, actions = run(ruleset, message("x"))

    assert [m.rule.id for m in verdict.shadow] == ["a"]
    assert actions == []
