"""The flow of one event (bot/pipeline.py): de-duplication, ordering, isolation, exemptions,
groups and member facts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.actions import ActionKind, Ban
from bot.events import AnyEvent, Chat, Join, Message, User
from bot.local import STEWARD
from bot.rulesets import RuleBook
from bot.storage.base import ActionStatus, EventKey, MemberKey
from bot.testing import StewardHarness
from rules.ruleset import Verdict
from tests.conftest import (
    LADDER_RULES,
    RuntimeRig,
    config_from_text,
    kinds,
    member_key,
    of_kind,
    punishments,
    write_rules,
)


def message(steward: StewardHarness, who: str, text: str, event_id: str, **fields: Any) -> Message:
    return Message(
        platform=steward.platform,
        chat=fields.pop("chat", steward.chat),
        actor=steward.user(who),
        at=steward.clock.now(),
        id=event_id,
        text=text,
        **fields,
    )


# -- de-duplication -----------------------------------------------------------------------------


async def test_a_redelivered_violation_changes_nothing(ladder: StewardHarness) -> None:
    event = message(ladder, "mallory", "badword", "update-1")

    first = await ladder.deliver(event)
    performed = list(ladder.actions)
    again = await ladder.deliver(event)

    assert first.duplicate is False
    assert again.duplicate is True
    assert again.case_id is None
    assert again.outcomes == []
    assert ladder.actions == performed
    assert len(await ladder.cases("mallory")) == 1
    assert await ladder.strikes("mallory") == 1


async def test_a_redelivered_clean_message_is_not_counted_twice(ladder: StewardHarness) -> None:
    event = message(ladder, "alice", "hello", "update-1")

    await ladder.deliver(event)
    await ladder.deliver(event)
    await ladder.rt.pipeline.flush()

    record = await ladder.rt.store.member(member_key(ladder, "alice"))
    assert record is not None
    assert record.message_count == 1


async def test_a_redelivered_event_after_a_restart_changes_nothing(ladder: StewardHarness) -> None:
    violation = message(ladder, "mallory", "badword", "update-1")
    clean = message(ladder, "alice", "hello", "update-2")
    await ladder.deliver(violation)
    await ladder.deliver(clean)
    performed = list(ladder.actions)

    await ladder.restart()
    redelivered = [await ladder.deliver(violation), await ladder.deliver(clean)]

    assert [h.duplicate for h in redelivered] == [True, True]
    assert ladder.actions == performed
    assert len(await ladder.cases("mallory")) == 1
    assert await ladder.strikes("mallory") == 1
    alice = await ladder.rt.store.member(member_key(ladder, "alice"))
    assert alice is not None
    assert alice.message_count == 1


async def test_a_redelivered_command_after_a_restart_is_not_run_again(
    ladder: StewardHarness,
) -> None:
    ladder.admin("ada")
    await ladder.say("mallory", "hi")
    warn = await ladder.command("ada", "/warn @mallory")
    await ladder.restart()

    again = await ladder.deliver(warn.event)

    assert again.duplicate is True
    assert await ladder.strikes("mallory") == 1


async def test_the_same_event_id_in_another_chat_is_a_different_event(
    ladder: StewardHarness,
) -> None:
    other = Chat("chat-2", "Other chat")
    await ladder.deliver(message(ladder, "mallory", "badword", "update-1"))

    handled = await ladder.deliver(message(ladder, "mallory", "badword", "update-1", chat=other))

    assert handled.duplicate is False
    assert handled.case_id is not None


# -- ordering -----------------------------------------------------------------------------------


async def test_events_of_one_scope_are_handled_in_order_and_scopes_concurrently(
    ladder: StewardHarness,
) -> None:
    runtime = ladder.rt
    seen: list[tuple[str, str]] = []
    chat_b = Chat("chat-b", "B")
    b_handled = asyncio.Event()
    waited: list[bool] = []

    async def record(event: AnyEvent, verdict: Verdict | None) -> None:
        assert isinstance(event, Message)
        if event.text == "a0":
            # Chat A's first event waits for chat B: only possible if scopes run concurrently.
            try:
                await asyncio.wait_for(b_handled.wait(), timeout=2)
                waited.append(True)
            except TimeoutError:
                waited.append(False)
        seen.append((event.chat.id, event.text))
        if event.chat.id == chat_b.id:
            b_handled.set()

    runtime.pipeline.add_handler("recorder", record)
    for i in range(20):
        await runtime.submit(message(ladder, "alice", f"a{i}", f"a-{i}"))
        if i < 5:
            await runtime.submit(message(ladder, "bob", f"b{i}", f"b-{i}", chat=chat_b))
    await runtime.dispatcher.drain()

    assert waited == [True]
    assert [text for chat, text in seen if chat == ladder.chat.id] == [f"a{i}" for i in range(20)]
    assert [text for chat, text in seen if chat == chat_b.id] == [f"b{i}" for i in range(5)]


async def test_channels_of_one_guild_share_one_queue(ladder: StewardHarness) -> None:
    runtime = ladder.rt
    general = Chat("general", "general", space="guild-1")
    memes = Chat("memes", "memes", space="guild-1")
    seen: list[str] = []

    async def record(event: AnyEvent, verdict: Verdict | None) -> None:
        assert isinstance(event, Message)
        await asyncio.sleep(0)  # give another queue a chance to overtake
        seen.append(event.text)

    runtime.pipeline.add_handler("recorder", record)
    expected = []
    for i in range(10):
        chat = general if i % 2 else memes
        expected.append(f"{chat.id}-{i}")
        await runtime.submit(message(ladder, "alice", f"{chat.id}-{i}", f"m-{i}", chat=chat))
    await runtime.dispatcher.drain()

    assert seen == expected


async def test_strikes_in_a_guild_are_counted_across_its_channels(ladder: StewardHarness) -> None:
    general = Chat("general", "general", space="guild-1")
    memes = Chat("memes", "memes", space="guild-1")

    await ladder.deliver(message(ladder, "mallory", "badword", "m-1", chat=general))
    handled = await ladder.deliver(message(ladder, "mallory", "badword", "m-2", chat=memes))

    assert handled.decision is not None
    assert (handled.decision.before, handled.decision.after) == (1, 2)


async def test_an_event_that_cannot_be_handled_does_not_stop_its_queue(
    ladder: StewardHarness, monkeypatch: Any
) -> None:
    runtime = ladder.rt
    real = runtime.pipeline.groups.group_for

    calls = 0

    def group_for(platform: str, chat: str, scope: str = "") -> str:
        nonlocal calls
        calls += 1
        if calls == 1:  # the first event blows up half-way through the pipeline
            raise RuntimeError("bad event")
        return real(platform, chat, scope)

    monkeypatch.setattr(runtime.pipeline.groups, "group_for", group_for)
    for i in range(3):
        await runtime.submit(message(ladder, "mallory", "badword", f"m-{i}"))
    await runtime.dispatcher.drain()

    assert await ladder.strikes("mallory") == 2


async def test_stopping_finishes_queued_events_and_writes_their_state(
    ladder: StewardHarness,
) -> None:
    for i in range(30):
        await ladder.rt.submit(message(ladder, "alice", f"hello {i}", f"m-{i}"))
    await ladder.rt.submit(message(ladder, "mallory", "badword", "bad"))

    await ladder.restart()

    alice = await ladder.rt.store.member(member_key(ladder, "alice"))
    assert alice is not None
    assert alice.message_count == 30
    assert await ladder.strikes("mallory") == 1
    again = await ladder.deliver(message(ladder, "alice", "hello 0", "m-0"))
    assert again.duplicate is True


# -- isolation of plugin handlers ---------------------------------------------------------------


async def test_a_failing_plugin_handler_never_blocks_enforcement(ladder: StewardHarness) -> None:
    calls: list[str] = []

    async def broken(event: AnyEvent, verdict: Verdict | None) -> None:
        calls.append("broken")
        raise RuntimeError("plugin bug")

    async def healthy(event: AnyEvent, verdict: Verdict | None) -> None:
        calls.append("healthy")

    ladder.rt.pipeline.add_handler("broken-plugin", broken)
    ladder.rt.pipeline.add_handler("healthy-plugin", healthy)

    first = await ladder.say("mallory", "badword")
    second = await ladder.say("mallory", "badword")

    assert kinds(punishments(a for a, _ in first.outcomes)) == ["warn"]
    assert kinds(punishments(a for a, _ in second.outcomes)) == ["mute"]
    assert calls == ["broken", "healthy", "broken", "healthy"]
    assert ladder.adapter.is_muted(ladder.chat.id, "mallory") is True


async def test_a_failing_handler_does_not_stop_the_queue(ladder: StewardHarness) -> None:
    async def broken(event: AnyEvent, verdict: Verdict | None) -> None:
        raise ValueError("plugin bug")

    ladder.rt.pipeline.add_handler("broken-plugin", broken)
    for i in range(3):
        await ladder.rt.submit(message(ladder, "mallory", "badword", f"m-{i}"))
    await ladder.rt.dispatcher.drain()

    assert await ladder.strikes("mallory") == 3
    assert kinds(punishments(ladder.actions)) == ["warn", "mute", "mute"]


# -- shadow rules and exemptions ----------------------------------------------------------------


async def test_shadow_rules_are_evaluated_but_do_nothing(ladder: StewardHarness) -> None:
    handled = await ladder.say("mallory", "shadowword")

    assert handled.verdict is not None
    assert [m.rule.id for m in handled.verdict.shadow] == ["trial"]
    assert handled.verdict.matches == ()
    assert handled.outcomes == []
    assert handled.case_id is None
    assert ladder.actions == []
    assert await ladder.cases("mallory") == []
    assert await ladder.strikes("mallory") == 0


async def test_admins_are_exempt_from_rules(ladder: StewardHarness) -> None:
    ladder.admin("ada")

    handled = await ladder.say("ada", "badword and free crypto")

    assert handled.outcomes == []
    assert ladder.actions == []
    assert await ladder.cases("ada") == []
    assert await ladder.strikes("ada") == 0


async def test_a_rule_not_exempting_admins_deletes_but_never_punishes_them(
    ladder: StewardHarness,
) -> None:
    ladder.admin("ada")

    handled = await ladder.say("ada", "phishword")

    assert kinds(a for a, _ in handled.outcomes) == ["delete"]
    assert punishments(ladder.actions) == []
    assert ladder.adapter.is_banned(ladder.chat.id, "ada") is False
    assert await ladder.strikes("ada") == 0


async def test_the_same_rule_bans_a_member(ladder: StewardHarness) -> None:
    handled = await ladder.say("mallory", "phishword")

    assert kinds(a for a, _ in handled.outcomes) == ["delete", "ban"]
    assert ladder.adapter.is_banned(ladder.chat.id, "mallory") is True


async def test_the_bot_itself_is_never_punished(ladder: StewardHarness) -> None:
    handled = await ladder.say(STEWARD, "phishword")

    assert handled.verdict is None
    assert handled.case_id is None
    assert punishments(ladder.actions) == []


async def test_the_executor_refuses_to_act_against_the_bot(ladder: StewardHarness) -> None:
    ban = Ban(chat=ladder.chat.id, user=STEWARD.id, user_name=STEWARD.display, reason="test")

    outcome = await ladder.rt.executor.perform(ladder.platform, ban)

    assert (outcome.ok, outcome.reason) == (False, "Steward never acts against itself")
    assert punishments(ladder.actions) == []


async def test_the_owner_named_in_the_config_is_never_punished(tmp_path: Path) -> None:
    write_rules(tmp_path, "rules.yaml", LADDER_RULES)
    config = config_from_text(
        """
        groups:
          default:
            rules: [rules.yaml]
            admins: ["fake:owner"]
        """,
        tmp_path,
    )
    rig = RuntimeRig(config, tmp_path / "steward.sqlite3")
    runtime = await rig.start()
    try:
        chat = Chat("chat-1", "Test chat")
        owner = User("owner", "Olga")
        event = Message(
            platform="fake", chat=chat, actor=owner, at=rig.clock.now(), id="m1", text="phishword"
        )

        handled = await runtime.handle(event)

        assert kinds(a for a, _ in handled.outcomes) == ["delete"]
        assert punishments(rig.adapter.performed) == []
    finally:
        await rig.stop()


# -- groups -------------------------------------------------------------------------------------


async def test_an_unknown_chat_gets_the_default_group(tmp_path: Path) -> None:
    write_rules(tmp_path, "default.yaml", LADDER_RULES)
    write_rules(
        tmp_path,
        "strict.yaml",
        """
        version: 1
        rules:
          - id: no-hello
            when: {words: [hello]}
            delete: true
        """,
    )
    config = config_from_text(
        """
        groups:
          strict:
            chats: ["fake:strict-chat"]
            rules: [strict.yaml]
          default:
            rules: [default.yaml]
        """,
        tmp_path,
    )
    rig = RuntimeRig(config, tmp_path / "steward.sqlite3")
    runtime = await rig.start()
    try:
        strict = Chat("strict-chat", "Strict")
        unknown = Chat("never-configured", "Somewhere")
        mallory = User("mallory", "Mallory")
        at = rig.clock.now()

        def say(chat: Chat, text: str, event_id: str) -> Message:
            return Message(platform="fake", chat=chat, actor=mallory, at=at, id=event_id, text=text)

        in_strict = await runtime.handle(say(strict, "hello", "1"))
        hello_elsewhere = await runtime.handle(say(unknown, "hello", "2"))
        bad_elsewhere = await runtime.handle(say(unknown, "badword", "3"))

        assert kinds(a for a, _ in in_strict.outcomes) == ["delete"]
        assert hello_elsewhere.outcomes == []
        assert bad_elsewhere.verdict is not None
        assert [m.rule.id for m in bad_elsewhere.verdict.matches] == ["bad-word"]
    finally:
        await rig.stop()


async def test_without_a_default_group_unknown_chats_get_the_stock_rules(tmp_path: Path) -> None:
    write_rules(tmp_path, "mine.yaml", LADDER_RULES)
    config = config_from_text(
        """
        groups:
          mine:
            chats: ["fake:mine"]
            rules: [mine.yaml]
        """,
        tmp_path,
    )
    rig = RuntimeRig(config, tmp_path / "steward.sqlite3")
    runtime = await rig.start()
    try:
        handled = await runtime.handle(
            Message(
                platform="fake",
                chat=Chat("elsewhere"),
                actor=User("mallory", "Mallory"),
                at=rig.clock.now(),
                id="1",
                text="you idiot",
            )
        )
        assert handled.verdict is not None
        assert [m.rule.id for m in handled.verdict.matches] == ["insult-en"]
        assert isinstance(runtime.rulebook, RuleBook)
        assert sorted(runtime.rulebook.groups) == ["default", "mine"]
    finally:
        await rig.stop()


# -- member facts -------------------------------------------------------------------------------


async def test_member_facts_are_written_on_flush(ladder: StewardHarness) -> None:
    joined = ladder.clock.now()
    await ladder.join("alice")
    for text in ("one", "two", "three"):
        await ladder.advance("1m")
        await ladder.say("alice", text)

    await ladder.rt.pipeline.flush()

    record = await ladder.rt.store.member(member_key(ladder, "alice"))
    assert record is not None
    assert (record.message_count, record.joined_at, record.first_seen) == (3, joined, joined)
    assert record.last_seen == joined + timedelta(minutes=3)
    assert (record.name, record.username) == ("Alice", "alice")


async def test_a_write_behind_batch_starts_as_soon_as_the_buffers_fill(
    ladder: StewardHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Handling may never wait for anything (small writes run inline), so the event that fills
    the buffers lets the loop turn once: the batch is with the database before the next event
    is handled, not left to pile up until something else yields."""
    monkeypatch.setattr("bot.pipeline.FLUSH_EVERY_EVENTS", 3)
    pipeline = ladder.rt.pipeline
    for number in range(3):
        event = message(ladder, "alice", f"hello {number}", f"fill-{number}")
        await pipeline.handle(event)
    writing = pipeline._flushing
    assert writing is not None
    assert writing.done() or ladder.rt.store._queued > 0
    await pipeline.flush()
    assert await ladder.rt.store.seen(EventKey(ladder.platform, ladder.chat.id, "fill-2"))


async def test_member_facts_survive_a_restart_and_keep_counting(ladder: StewardHarness) -> None:
    joined = ladder.clock.now()
    await ladder.join("alice")
    await ladder.say("alice", "one")
    await ladder.say("alice", "two")

    await ladder.restart()
    await ladder.say("alice", "three")
    await ladder.restart()

    record = await ladder.rt.store.member(member_key(ladder, "alice"))
    assert record is not None
    assert (record.message_count, record.joined_at) == (3, joined)


async def test_rules_see_member_facts_kept_across_a_restart(steward_factory: Any) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text="""
version: 1
rules:
  - id: newcomer-link
    when:
      links: {count: {gte: 1}}
      member: {messages: {lt: 3}}
    delete: true
"""
    )
    for text in ("hi", "how are you", "nice weather"):
        await steward.say("alice", text)
    await steward.restart()

    handled = await steward.say("alice", "see https://example.com")

    assert handled.outcomes == []
    assert (await steward.say("newbie", "see https://example.com")).outcomes != []


async def test_join_events_record_the_join_time(ladder: StewardHarness) -> None:
    await ladder.say("alice", "I was here before Steward")
    await ladder.advance("1h")
    event = Join(
        platform=ladder.platform,
        chat=ladder.chat,
        actor=ladder.user("bob"),
        at=ladder.clock.now(),
        id="join-1",
    )
    await ladder.deliver(event)
    await ladder.rt.pipeline.flush()

    alice = await ladder.rt.store.member(member_key(ladder, "alice"))
    bob = await ladder.rt.store.member(MemberKey(ladder.platform, ladder.chat.scope, "bob"))
    assert alice is not None
    assert bob is not None
    assert alice.joined_at is None
    assert bob.joined_at == ladder.clock.now()


async def test_a_violation_is_recorded_with_its_evidence(ladder: StewardHarness) -> None:
    handled = await ladder.say("mallory", "such a badword here")

    [case] = await ladder.cases("mallory")
    assert case.id == handled.case_id
    assert (case.rule_id, case.points, case.excerpt) == ("bad-word", 1, "such a badword here")
    assert case.evidence != ()
    assert all(e.startswith("bad-word: ") for e in case.evidence)
    records = await ladder.rt.store.actions_for_case(case.id)
    assert [(r.action.kind.value, r.status) for r in records] == [
        ("delete", ActionStatus.DONE),
        ("send", ActionStatus.DONE),
        ("warn", ActionStatus.DONE),
    ]
    assert of_kind(ladder.actions, ActionKind.DELETE) != []


# -- moderation log and hot reload --------------------------------------------------------------


async def test_every_case_is_posted_to_the_log_chat(steward_factory: Any) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, log_chat="fake:mod-log"
    )
    await steward.say("mallory", "badword")

    handled = await steward.say("mallory", "such badword")

    [_, entry] = [s.text for s in steward.sends() if s.chat == "mod-log"]
    assert entry.splitlines() == [
        f"Case #{handled.case_id}: Mallory (mallory) broke 'bad-word'",
        "Strikes 1 → 2; step: mute for 1h",
        "Evidence: " + "; ".join((await steward.cases("mallory"))[0].evidence),
        "Message: «such badword»",
        "Actions: delete ✓, send ✓, mute ✓",
    ]


async def test_a_failed_action_shows_in_the_log_with_its_reason(steward_factory: Any) -> None:
    from bot.adapter import Failure

    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, log_chat="fake:mod-log"
    )
    steward.adapter.fail(ActionKind.WARN, Failure.UNREACHABLE, "the member blocked the bot")

    await steward.say("mallory", "badword")

    [entry] = [s.text for s in steward.sends() if s.chat == "mod-log"]
    assert entry.splitlines()[-1] == (
        "Actions: delete ✓, send ✓, warn ✗ the member blocked the bot"
    )


async def test_without_a_log_chat_the_database_keeps_the_record(ladder: StewardHarness) -> None:
    await ladder.say("mallory", "badword")

    assert [s.chat for s in ladder.sends()] == [ladder.chat.id]
    assert len(await ladder.cases("mallory")) == 1


async def test_an_edited_rule_file_is_reloaded_and_a_broken_one_reported(
    steward_factory: Any,
) -> None:
    steward: StewardHarness = await steward_factory(
        rules_text=LADDER_RULES, log_chat="fake:mod-log"
    )
    [path] = steward.rule_files
    Path(path).write_text(
        LADDER_RULES.replace("words: [badword]", "words: [badword, worseword]"), encoding="utf-8"
    )

    [reloaded] = await steward.rt.reload_changed()
    assert (reloaded.group, reloaded.changed, reloaded.ok) == ("default", True, True)
    assert (await steward.say("mallory", "worseword")).case_id is not None

    Path(path).write_text("version: 1\nrules:\n  - id: x\n    strik: 1\n", encoding="utf-8")
    [broken] = await steward.rt.reload_changed()

    assert (broken.changed, broken.ok) == (False, False)
    [report] = [s.text for s in steward.sends() if s.chat == "mod-log" and "errors" in s.text]
    assert report.startswith(
        "Rule files of group 'default' have errors; the previous rules stay active: "
        f"{path}:4:5: error: unknown key 'strik'"
    )
    still = await steward.say("mallory", "worseword")
    assert still.case_id is not None
    assert await steward.rt.reload_changed() == []  # reported once, not on every check


async def test_joins_leaves_and_reactions_reach_plugin_handlers(ladder: StewardHarness) -> None:
    seen: list[str] = []

    async def record(event: AnyEvent, verdict: Verdict | None) -> None:
        seen.append(event.kind.value)

    ladder.rt.pipeline.add_handler("recorder", record)

    await ladder.join("alice")
    said = await ladder.say("alice", "hello")
    await ladder.react("bob", said)
    await ladder.leave("alice")

    assert seen == ["join", "message", "reaction", "leave"]
    assert ladder.actions == []


async def test_a_group_that_moves_to_a_new_id_keeps_its_history(ladder: StewardHarness) -> None:
    ladder.chat = Chat("-1001", "Group")
    await ladder.say("mallory", "badword")
    await ladder.say("alice", "hello")

    await ladder.rt.chat_moved(ladder.platform, "-1001", "-1009")
    ladder.chat = Chat("-1009", "Group")
    handled = await ladder.say("mallory", "badword")

    assert handled.decision is not None
    assert (handled.decision.before, handled.decision.after) == (1, 2)
    assert len(await ladder.cases("mallory")) == 2
    await ladder.rt.pipeline.flush()
    alice = await ladder.rt.store.member(MemberKey(ladder.platform, "-1009", "alice"))
    assert alice is not None
    assert alice.message_count == 1


async def test_a_command_steward_does_not_know_is_judged_as_text(ladder: StewardHarness) -> None:
    # An adapter that made "/free crypto" a `Command` anyway (the console, a harness): the
    # words still go through the rules, or starting with `/` would switch them off.
    handled = await ladder.command("mallory", "/free crypto for everyone")
    assert isinstance(handled.event, Message)
    assert handled.event.text == "/free crypto for everyone"
    assert handled.verdict is not None and handled.verdict.primary is not None
    assert handled.verdict.primary.rule.id == "scam"
    assert handled.case_id is not None
    known = await ladder.command("mallory", "/rules")
    assert known.verdict is None and known.replies  # a command of Steward's is answered
