"""The same moderation stories told through Telegram and Discord, with the same outcomes.

Each scenario runs twice, once on Steward + python-telegram-bot against the fake Bot API and
once on Steward + discord.py against the fake Discord gateway and REST API (tests/fakes), both
on a virtual clock. The drivers (tests/scenarios/drivers.py) translate the story into each
platform's updates and read the outcome back from each platform's state: a Telegram
restriction or a Discord timeout and when it ends, a ban, a deleted message, what the bot
posted in the chat.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.scenarios.drivers import PLATFORMS, Driver, Platform, open_driver

RULES = textwrap.dedent(
    """\
    version: 1
    ladder:
      decay: {points: 1, every: 7d}
      steps:
        - {at: 1, action: warn, message: "{user}, this is a warning ({reason})."}
        - {at: 2, action: mute, duration: 1h}
        - {at: 3, action: ban, duration: 1d}
    rules:
      - id: crypto-spam
        description: No crypto spam
        reason: crypto spam
        when: {keywords: [free crypto]}
        strike: 1
        delete: true
    """
)
SPAM = "free crypto for everyone, DM me"


@pytest.fixture(params=PLATFORMS)
async def chat(request: pytest.FixtureRequest) -> AsyncIterator[Driver]:
    platform: Platform = request.param
    async with open_driver(platform, rules_text=RULES) as driver:
        yield driver


def warning(who: str, reason: str) -> str:
    return f"{who}, this is a warning ({reason})."


# -- 1. spam escalation -----------------------------------------------------------------------


async def test_spam_escalates_from_a_warning_to_a_mute_to_a_ban(chat: Driver) -> None:
    mallory = chat.member("mallory")

    first = await chat.say(mallory, SPAM)
    assert chat.deleted(first)
    assert chat.bot_texts() == [warning("Mallory", "crypto spam")]
    assert not chat.is_muted(mallory) and not chat.is_banned(mallory)
    assert await chat.strikes(mallory) == 1

    await chat.advance("10m")
    second = await chat.say(mallory, SPAM)
    assert chat.deleted(second)
    assert chat.muted_until(mallory) == chat.now() + timedelta(hours=1)
    assert not chat.is_banned(mallory)
    assert await chat.strikes(mallory) == 2

    await chat.advance("61m")  # the mute ran out on the platform
    assert not chat.is_muted(mallory)
    third = await chat.say(mallory, SPAM)
    assert chat.deleted(third)
    assert chat.is_banned(mallory)
    assert await chat.strikes(mallory) == 3
    assert chat.said_count("this is a warning") == 1  # the later steps were no warnings


# -- 2. exempt admin --------------------------------------------------------------------------


async def test_an_admin_posting_spam_is_exempt(chat: Driver) -> None:
    ann = await chat.admin("ann")
    posts = []
    for _ in range(3):
        posts.append(await chat.say(ann, SPAM))
        await chat.advance("10m")
    assert not any(chat.deleted(p) for p in posts)
    assert await chat.strikes(ann) == 0
    assert not chat.is_muted(ann) and not chat.is_banned(ann)
    assert chat.bot_texts() == []


# -- 3. /warn by reply ------------------------------------------------------------------------


async def test_an_admin_warns_by_replying(chat: Driver) -> None:
    ann, bob = await chat.admin("ann"), chat.member("bob")
    rude = await chat.say(bob, "whatever, you are all idiots")
    warn = await chat.command(ann, "/warn being rude", reply_to=rude)

    assert chat.bot_said(warning("Bob", "being rude"))
    (answer,) = chat.answers_to(warn)
    assert answer.startswith("Bob warned: being rude. Strikes 0 → 1")
    assert await chat.strikes(bob) == 1
    assert not chat.deleted(rude)  # a warning, not a removal
    assert not chat.is_muted(bob) and not chat.is_banned(bob)

    asked = await chat.command(ann, "/strikes", reply_to=rude)
    (count,) = chat.answers_to(asked)
    assert count.splitlines()[0] == "Bob: 1 strike."


# -- 4. refused non-admin ---------------------------------------------------------------------


async def test_a_non_admin_cannot_mute(chat: Driver) -> None:
    bob, eve = chat.member("bob"), chat.member("eve")
    hello = await chat.say(bob, "hello everyone")
    attempt = await chat.command(eve, "/mute 1h", reply_to=hello)

    assert chat.answers_to(attempt) == ["Sorry Eve, /mute is for admins."]
    assert chat.bot_texts() == ["Sorry Eve, /mute is for admins."]
    assert not chat.is_muted(bob)
    assert await chat.strikes(bob) == 0 and await chat.strikes(eve) == 0


# -- 5. missing permission --------------------------------------------------------------------


async def test_a_missing_ban_right_is_one_notice_and_moderation_goes_on(chat: Driver) -> None:
    mallory, trudy = chat.member("mallory"), chat.member("trudy")
    await chat.say(mallory, SPAM)  # warned
    await chat.advance("10m")
    await chat.say(mallory, SPAM)  # muted
    assert chat.is_muted(mallory)
    await chat.advance("61m")
    assert chat.notices_to_admins() == []

    await chat.revoke("ban")
    third = await chat.say(mallory, SPAM)  # the ban step: the platform refuses
    assert chat.deleted(third)
    assert not chat.is_banned(mallory)
    (notice,) = chat.notices_to_admins()
    assert notice.startswith("I could not ban:")
    assert chat.right_name("ban") in notice

    await chat.advance("1m")
    fourth = await chat.say(mallory, SPAM)  # the ban step again, still refused: no new notice
    assert chat.deleted(fourth)
    assert not chat.is_banned(mallory)
    assert len(chat.notices_to_admins()) == 1

    # Steward keeps moderating everyone else.
    spam = await chat.say(trudy, SPAM)
    assert chat.deleted(spam)
    assert chat.bot_said(warning("Trudy", "crypto spam"))
    assert await chat.strikes(trudy) == 1
    assert len(chat.notices_to_admins()) == 1


# -- 6. redelivery ignored --------------------------------------------------------------------


async def test_a_redelivered_message_counts_once(chat: Driver) -> None:
    mallory = chat.member("mallory")
    spam = await chat.say(mallory, SPAM)
    assert await chat.strikes(mallory) == 1

    await chat.redeliver(spam)
    await chat.restart()
    await chat.redeliver(spam)  # and once more to a freshly started Steward

    assert await chat.strikes(mallory) == 1
    assert chat.said_count(warning("Mallory", "crypto spam")) == 1
    assert chat.bot_texts() == [warning("Mallory", "crypto spam")]
    assert chat.delete_calls() == 1
    assert not chat.is_muted(mallory)


# -- 7. temporary ban lifted on time after a restart ------------------------------------------


async def test_a_temporary_ban_is_lifted_on_time_after_a_restart(chat: Driver) -> None:
    ann, bob = await chat.admin("ann"), chat.member("bob")
    hello = await chat.say(bob, "hello")
    ban = await chat.command(ann, "/ban 2h cool off", reply_to=hello)
    assert chat.is_banned(bob)
    (answer,) = chat.answers_to(ban)
    assert answer.startswith("Bob: ban for 2h")

    await chat.restart()
    await chat.advance("1h59m")
    assert chat.is_banned(bob)  # not a minute early
    await chat.advance("2m")
    assert not chat.is_banned(bob)
