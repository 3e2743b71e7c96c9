"""Chat commands, parsed and answered the same way on every platform.

Everyone: `/rules`, `/report` (reply to a message), `/appeal [CASE] [why]`.
Admins: `/warn [reason]`, `/mute DURATION [reason]`, `/unmute`, `/ban [DURATION] [reason]`,
`/unban`, `/kick [reason]`, `/strikes`, `/pardon [N]`, `/case ID`, `/reload`.

The target of a command is the author of the message it replies to, or an `@name` argument.
An admin's `/warn` adds a strike to the same ladder rules use, so the member's history is one
story. Members who are not admins get a polite refusal; admins and the owner are never targets
of punishment (the executor refuses too, whatever asks it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.actions import (
    Action,
    Ban,
    Button,
    Kick,
    Mute,
    NotifyAdmins,
    Restrict,
    Send,
    Unban,
    Unmute,
    Unrestrict,
)
from bot.adapter import Outcome
from bot.durations import DurationError, format_duration, parse_duration
from bot.events import ButtonPress, Command, User
from bot.storage.base import Case, CaseStatus, MemberKey, MemberRecord, NewCase
from rules.ladder import StrikeEntry
from rules.ruleset import Punishment, punishment_action, punishment_notice

if TYPE_CHECKING:
    from bot.pipeline import Handled, Pipeline

log = logging.getLogger("steward.commands")

_NOT_REPEATED = (
    "(The message is not repeated here, where every member can read it; a log chat shows it.)"
)
EVERYONE = frozenset({"rules", "report", "appeal", "help", "start"})
ADMIN = frozenset(
    {"warn", "mute", "unmute", "ban", "unban", "kick", "strikes", "pardon", "case", "reload"}
)
PUNISHING = frozenset({"warn", "mute", "ban", "kick"})
# Every verb the core answers. Text starting with `/` is a command only when its verb is known
# (these, or one registered with `register_command`): "/free crypto" or another bot's "/ban" is
# a message like any other and goes through the rules, or a `/` would switch the rules off.
CORE = EVERYONE | ADMIN
_registered: set[str] = set()
APPEAL_UPHOLD = "steward:appeal:uphold:"
APPEAL_PARDON = "steward:appeal:pardon:"


def knows(name: str) -> bool:
    """Whether `name` is a command Steward answers, on any platform (adapters ask this before
    turning `/name ...` into a `Command`)."""
    verb = name.lower()
    return verb in CORE or verb in _registered


def register_command(name: str) -> None:
    """Make `name` a known command (for a command added beside the core ones, such as a
    plugin's), so adapters hand it over as a `Command` instead of a message."""
    _registered.add(name.lower())


@dataclass
class Invocation:
    """One command being answered."""

    command: Command
    member: MemberRecord
    is_admin: bool
    group: str
    handled: Handled

    @property
    def platform(self) -> str:
        return self.command.platform

    @property
    def chat(self) -> str:
        return self.command.chat.id

    @property
    def now(self) -> datetime:
        return self.command.at


class Commands:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._table: dict[str, Callable[[Invocation], Awaitable[None]]] = {
            "rules": self._rules,
            "help": self._help,
            "start": self._help,
            "report": self._report,
            "appeal": self._appeal,
            "warn": self._warn,
            "mute": self._mute,
            "unmute": self._unmute,
            "ban": self._ban,
            "unban": self._unban,
            "kick": self._kick,
            "strikes": self._strikes,
            "pardon": self._pardon,
            "case": self._case,
            "reload": self._reload,
        }

    def knows(self, name: str) -> bool:
        return name.lower() in self._table or knows(name)

    async def run(
        self, command: Command, member: MemberRecord, is_admin: bool, group: str
    ) -> Handled:
        from bot.pipeline import Handled

        handled = Handled(command)
        call = Invocation(command, member, is_admin, group, handled)
        name = command.name.lower()
        handler = self._table.get(name)
        if handler is None:
            return handled  # not ours: another bot's or a plugin's command
        if name in ADMIN and not is_admin:
            await self._say(call, f"Sorry {command.actor.display}, /{name} is for admins.")
            return handled
        try:
            await handler(call)
        except Exception:
            log.exception("command /%s failed", name)
            await self._say(
                call, f"Something went wrong while running /{name}; the admins can check the logs."
            )
        return handled

    async def button(self, press: ButtonPress, is_admin: bool, group: str) -> Handled:
        """Admins' answers to appeals arrive as button presses."""
        from bot.pipeline import Handled

        handled = Handled(press)
        for prefix, uphold in ((APPEAL_UPHOLD, True), (APPEAL_PARDON, False)):
            if press.data.startswith(prefix):
                if not is_admin:
                    return handled
                case_id = int(press.data[len(prefix) :])
                await self._resolve_appeal(
                    press.platform,
                    press.chat.id,
                    group,
                    case_id,
                    press.actor,
                    press.at,
                    uphold=uphold,
                )
        return handled

    # -- everyone ---------------------------------------------------------------------------

    async def _help(self, call: Invocation) -> None:
        text = (
            "I keep this chat friendly. /rules shows the rules; reply /report to a message to "
            "alert the admins; /appeal asks the admins to review your last case."
        )
        if call.is_admin:
            text += (
                "\nAdmins: /warn, /mute 1h, /unmute, /ban [7d], /unban, /kick, /strikes, "
                "/pardon [N], /case ID, /reload (reply to a message or name @someone)."
            )
        await self._say(call, text)

    async def _rules(self, call: Invocation) -> None:
        ruleset = self.pipeline.rulebook.ruleset(call.group)
        lines = [f"Rules of {call.command.chat.title or 'this chat'}:"]
        for rule in ruleset.rules:
            if rule.mode.value == "enforce" and rule.description:
                lines.append(f"• {rule.description}")
        steps = ", ".join(f"{s.at}: {s.describe()}" for s in ruleset.ladder.steps)
        lines.append(f"Strikes lead to: {steps}.")
        if ruleset.ladder.decay is not None:
            decay = ruleset.ladder.decay
            lines.append(
                f"{decay.points} strike is forgiven for every {format_duration(decay.every)} "
                "without a new one."
            )
        await self._say(call, "\n".join(lines))

    async def _report(self, call: Invocation) -> None:
        target = call.command.target
        if target is None or not call.command.reply_to_message:
            await self._say(call, "Reply /report to the message you want the admins to see.")
            return
        why = " ".join(call.command.args) or "no reason given"
        text = (
            f"Report from {call.command.actor.display} about {target.display} "
            f"(message {call.command.reply_to_message}): {why}"
        )
        await self._notify_admins(call, text)
        await self._say(call, "Thank you, the admins have been told.")

    async def _appeal(self, call: Invocation) -> None:
        key = MemberKey(call.platform, call.command.chat.scope, call.command.actor.id)
        args = list(call.command.args)
        case: Case | None
        if args and args[0].lstrip("#").isdigit():
            case = await self.pipeline.store.case(int(args.pop(0).lstrip("#")))
            if case is None or case.member != key:
                await self._say(call, "I found no such case of yours.")
                return
        else:
            cases = await self.pipeline.store.cases_for(key, limit=1)
            case = cases[0] if cases else None
            if case is None:
                await self._say(call, "You have no case to appeal.")
                return
        if case.status is not CaseStatus.OPEN:
            await self._say(call, f"Case #{case.id} is already {case.status.value}.")
            return
        why = " ".join(args) or "no reason given"
        await self.pipeline.store.update_case(case.id, status=CaseStatus.APPEALED.value, appeal=why)
        evidence = "; ".join(case.evidence[:3]) or "none recorded"
        text = (
            f"Appeal of case #{case.id} by {case.user_name}: {why}\n"
            f"Rule: {case.rule_id or case.source}; "
            f"strikes {case.strikes_before} → {case.strikes_after}"
            f"{'; step: ' + case.step if case.step else ''}\nEvidence: {evidence}"
        )
        buttons = (
            Button("Uphold", data=f"{APPEAL_UPHOLD}{case.id}"),
            Button("Pardon", data=f"{APPEAL_PARDON}{case.id}"),
        )
        await self._notify_admins(call, text, buttons=buttons, excerpt=case.excerpt[:200])
        await self._say(call, f"Your appeal of case #{case.id} went to the admins.")

    async def _resolve_appeal(
        self,
        platform: str,
        chat: str,
        group: str,
        case_id: int,
        admin: User,
        at: datetime,
        *,
        uphold: bool,
    ) -> None:
        store = self.pipeline.store
        case = await store.case(case_id)
        if case is None or case.status not in (CaseStatus.APPEALED, CaseStatus.OPEN):
            return
        if not await self._may_judge(platform, chat, group, case, admin):
            log.warning(
                "%s pressed an appeal button for case #%s without being its admin",
                admin.id,
                case_id,
            )
            return
        if uphold:
            await store.update_case(
                case_id,
                status=CaseStatus.UPHELD.value,
                resolved_by=admin.id,
                resolved_at=at,
                resolution="upheld",
            )
            text = f"Case #{case_id} upheld by {admin.display}."
        else:
            await self._undo_case(platform, case, admin, at)
            text = f"Case #{case_id} pardoned by {admin.display}: its strikes are removed."
        await self._send(platform, case.chat, text)
        await self.pipeline.report(group, platform, text)

    async def _may_judge(
        self, platform: str, chat: str, group: str, case: Case, admin: User
    ) -> bool:
        """Only admins of the case's own chat decide, or admins in the group's log chat."""
        admins = self.pipeline.admins
        if case.member.platform != platform:
            return False
        if await admins.is_admin(platform, case.chat, admin.id):
            return True
        log_chat = self.pipeline.groups.log_chat(
            self.pipeline.groups.group_for(platform, case.chat, case.member.scope)
        )
        return log_chat == f"{platform}:{chat}" and await admins.is_admin(platform, chat, admin.id)

    async def _undo_case(self, platform: str, case: Case, admin: User, at: datetime) -> None:
        store = self.pipeline.store
        if case.points:
            await store.add_strike(
                case.member, at, -case.points, case.id, f"case #{case.id} pardoned by {admin.id}"
            )
            self.pipeline.members.add_strike(case.member, StrikeEntry(at, -case.points))
        # What the case did to the member, undone by the action that lifts exactly that.
        undoes: dict[type[Action], type[Unmute | Unrestrict | Unban]] = {
            Mute: Unmute,
            Restrict: Unrestrict,
            Ban: Unban,
        }
        for record in await store.actions_for_case(case.id):
            lift = undoes.get(type(record.action))
            if lift is None or record.status.value != "done":
                continue
            done = record.action
            assert isinstance(done, Mute | Restrict | Ban)
            undo = lift(
                chat=done.chat, user=done.user, user_name=done.user_name, reason="case pardoned"
            )
            await self.pipeline.executor.perform(platform, undo)
        await store.update_case(
            case.id,
            status=CaseStatus.PARDONED.value,
            resolved_by=admin.id,
            resolved_at=at,
            resolution="pardoned",
        )

    # -- admins -----------------------------------------------------------------------------

    async def _warn(self, call: Invocation) -> None:
        target = await self._target(call)
        if target is None or not await self._may_punish(call, target):
            return
        reason = " ".join(self._rest(call)) or "warned by an admin"
        await self._ladder_strike(call, target, 1, reason)

    async def _ladder_strike(
        self, call: Invocation, target: User, points: int, reason: str
    ) -> None:
        """An admin's warning: strikes on the same ladder as rules, and the step it reaches."""
        pipeline = self.pipeline
        key = MemberKey(call.platform, call.command.chat.scope, target.id)
        await pipeline.members.get(key, target, call.now)
        ladder = pipeline.rulebook.ruleset(call.group).ladder
        decision = ladder.decide(pipeline.members.ledger(key), call.now, points)
        actions: list[Action] = []
        if decision.step is not None:
            punishment = Punishment.from_step(decision.step)
            until = call.now + punishment.duration if punishment.duration else None
            values = {
                "user": target.display,
                "mention": target.display,
                "rule": "admin warning",
                "reason": reason,
                "strikes": str(decision.after),
                "chat": call.command.chat.title,
                "step": punishment.describe(),
                "until": until.isoformat() if until else "",
            }
            actions.append(
                punishment_action(
                    punishment, call.chat, target.id, target.display, until, reason, values
                )
            )
            notice = punishment_notice(punishment, call.chat, values, reason)
            if notice is not None:
                actions.append(notice)
        step = decision.step.describe() if decision.step else "no step reached"
        case = self._case_for(
            call,
            target,
            reason,
            points=points,
            before=decision.before,
            after=decision.after,
            step=step,
        )
        call.handled.decision = decision
        await self._record_and_run(call, case, actions)
        self.pipeline.members.add_strike(key, StrikeEntry(call.now, points))
        await self._say(
            call,
            f"{target.display} warned: {reason}. "
            f"Strikes {decision.before} → {decision.after} ({step}).",
        )

    async def _mute(self, call: Invocation) -> None:
        target = await self._target(call)
        if target is None or not await self._may_punish(call, target):
            return
        rest = self._rest(call)
        if not rest:
            await self._say(call, "Say how long: /mute 1h (or 30m, 2d …).")
            return
        try:
            duration = parse_duration(rest[0])
        except DurationError as exc:
            await self._say(call, f"/mute: {exc}.")
            return
        reason = " ".join(rest[1:]) or "muted by an admin"
        until = call.now + duration
        action = Mute(
            chat=call.chat, user=target.id, user_name=target.display, until=until, reason=reason
        )
        await self._direct(call, target, action, reason, f"mute for {format_duration(duration)}")

    async def _ban(self, call: Invocation) -> None:
        target = await self._target(call)
        if target is None or not await self._may_punish(call, target):
            return
        rest = self._rest(call)
        until = None
        if rest and rest[0][:1].isdigit():
            try:
                duration = parse_duration(rest[0])
            except DurationError as exc:
                await self._say(call, f"/ban: {exc}.")
                return
            until = call.now + duration
            rest = rest[1:]
        reason = " ".join(rest) or "banned by an admin"
        action = Ban(
            chat=call.chat, user=target.id, user_name=target.display, until=until, reason=reason
        )
        label = f"ban for {format_duration(until - call.now)}" if until else "ban"
        await self._direct(call, target, action, reason, label)

    async def _kick(self, call: Invocation) -> None:
        target = await self._target(call)
        if target is None or not await self._may_punish(call, target):
            return
        reason = " ".join(self._rest(call)) or "removed by an admin"
        await self._direct(
            call,
            target,
            Kick(chat=call.chat, user=target.id, user_name=target.display, reason=reason),
            reason,
            "kick",
        )

    async def _unmute(self, call: Invocation) -> None:
        await self._lift(call, Unmute, "unmute", "unmuted", "{name} can speak again.")

    async def _unban(self, call: Invocation) -> None:
        await self._lift(call, Unban, "unban", "unbanned", "{name} is unbanned.")

    async def _lift(
        self, call: Invocation, action: type[Unmute | Unban], verb: str, past: str, done: str
    ) -> None:
        """Undo a mute or a ban; the executor also cancels any scheduled end of it."""
        target = await self._target(call)
        if target is None:
            return
        lift = action(
            chat=call.chat,
            user=target.id,
            user_name=target.display,
            reason=f"{past} by {call.command.actor.display}",
        )
        outcome = await self.pipeline.executor.perform(call.platform, lift)
        if outcome.ok:
            await self._say(call, done.format(name=target.display))
        else:
            await self._say(call, f"Could not {verb} {target.display}: {outcome.reason}.")

    async def _strikes(self, call: Invocation) -> None:
        target = await self._target(call, required=False) or call.command.actor
        key = MemberKey(call.platform, call.command.chat.scope, target.id)
        await self.pipeline.members.get(key, target, call.now)
        ladder = self.pipeline.rulebook.ruleset(call.group).ladder
        total = ladder.total(self.pipeline.members.ledger(key), call.now)
        cases = await self.pipeline.store.cases_for(key, limit=5)
        lines = [f"{target.display}: {total} strike{'s' if total != 1 else ''}."]
        for case in cases:
            lines.append(
                f"#{case.id} {case.created_at:%Y-%m-%d} {case.rule_id or case.source}: "
                f"{case.reason} [{case.status.value}]"
            )
        await self._say(call, "\n".join(lines))

    async def _pardon(self, call: Invocation) -> None:
        target = await self._target(call)
        if target is None:
            return
        key = MemberKey(call.platform, call.command.chat.scope, target.id)
        await self.pipeline.members.get(key, target, call.now)
        ladder = self.pipeline.rulebook.ruleset(call.group).ladder
        total = ladder.total(self.pipeline.members.ledger(key), call.now)
        rest = self._rest(call)
        if rest and not rest[0].isdigit():
            await self._say(
                call, "/pardon takes a number of strikes, e.g. /pardon 2 (or nothing for all)."
            )
            return
        points = min(int(rest[0]), total) if rest else total
        if points <= 0:
            await self._say(call, f"{target.display} has no strikes to pardon.")
            return
        reason = " ".join(rest[1:]) or f"pardoned by {call.command.actor.display}"
        case = self._case_for(
            call, target, reason, points=0, before=total, after=total - points, step="pardon"
        )
        case_id, _ = await self.pipeline.store.record_case(case, [], None)
        await self.pipeline.store.add_strike(key, call.now, -points, case_id, reason)
        self.pipeline.members.add_strike(key, StrikeEntry(call.now, -points))
        await self._say(
            call,
            f"{target.display}: {points} strike{'s' if points != 1 else ''} pardoned; "
            f"{total - points} left.",
        )
        await self.pipeline.report(
            call.group,
            call.platform,
            f"Case #{case_id}: {call.command.actor.display} pardoned {points} strike(s) "
            f"of {target.display}",
        )

    async def _case(self, call: Invocation) -> None:
        args = call.command.args
        if not args or not args[0].lstrip("#").isdigit():
            await self._say(call, "Which case? /case 12")
            return
        case = await self.pipeline.store.case(int(args[0].lstrip("#")))
        if (
            case is None
            or case.member.platform != call.platform
            or case.member.scope != call.command.chat.scope
        ):
            await self._say(call, "No such case here.")
            return
        actions = await self.pipeline.store.actions_for_case(case.id)
        source = (
            f"Rule {case.rule_id}" if case.rule_id else f"By {case.actor_name or case.actor_id}"
        )
        step = f"; step: {case.step}" if case.step else ""
        lines = [
            f"Case #{case.id} — {case.user_name} ({case.member.user_id}), "
            f"{case.created_at:%Y-%m-%d %H:%M} UTC",
            f"{source}: {case.reason}",
            f"Strikes {case.strikes_before} → {case.strikes_after}{step}; "
            f"status: {case.status.value}",
        ]
        if case.evidence:
            lines.append("Evidence: " + "; ".join(case.evidence))
        if case.excerpt:
            # The message was deleted for a reason: it is shown in the log chat, not put back
            # up where every member reads it.
            here = f"{call.platform}:{call.chat}"
            in_log_chat = self.pipeline.groups.log_chat(call.group) == here
            lines.append(f"Message: «{case.excerpt}»" if in_log_chat else _NOT_REPEATED)
        for record in actions:
            why = f" ({record.reason})" if record.reason else ""
            lines.append(f"- {record.action.kind.value}: {record.status.value}{why}")
        if case.appeal:
            lines.append(f"Appeal: {case.appeal}")
        await self._say(call, "\n".join(lines))

    async def _reload(self, call: Invocation) -> None:
        result = self.pipeline.rulebook.reload(call.group, force=True)
        if result.ok:
            ruleset = self.pipeline.rulebook.ruleset(call.group)
            self.pipeline.activity.widen(ruleset.history_window, ruleset.join_window)
            count = len(ruleset.rules)
            await self._say(call, f"Rules reloaded: {count} rules active.")
            return
        problems = "\n".join(d.format().splitlines()[0] for d in result.errors[:5])
        await self._say(
            call, f"The rule files have errors; the previous rules stay active:\n{problems}"
        )

    # -- helpers ----------------------------------------------------------------------------

    async def _direct(
        self, call: Invocation, target: User, action: Action, reason: str, label: str
    ) -> None:
        case = self._case_for(call, target, reason, points=0, before=0, after=0, step=label)
        outcomes = await self._record_and_run(call, case, [action])
        ok = all(o.ok for _, o in outcomes)
        if ok:
            await self._say(call, f"{target.display}: {label} ({reason}).")
        else:
            failures = "; ".join(o.reason for _, o in outcomes if not o.ok)
            await self._say(call, f"Could not {label} {target.display}: {failures}.")

    def _case_for(
        self,
        call: Invocation,
        target: User,
        reason: str,
        *,
        points: int,
        before: int,
        after: int,
        step: str,
    ) -> NewCase:
        actor = call.command.actor
        return NewCase(
            member=MemberKey(call.platform, call.command.chat.scope, target.id),
            chat=call.chat,
            user_name=target.display,
            source="admin",
            created_at=call.now,
            rule_id="",
            actor_id=actor.id,
            actor_name=actor.display,
            reason=reason,
            event_id=call.command.id,
            points=points,
            strikes_before=before,
            strikes_after=after,
            step=step,
        )

    async def _record_and_run(
        self, call: Invocation, case: NewCase, actions: list[Action]
    ) -> list[tuple[Action, Outcome]]:
        case_id, ids = await self.pipeline.store.record_case(case, actions, None)
        call.handled.case_id = case_id
        results: list[tuple[Action, Outcome]] = []
        for action, action_id in zip(actions, ids, strict=True):
            outcome = await self.pipeline.executor.perform(
                call.platform, action, action_id=action_id
            )
            results.append((action, outcome))
            call.handled.outcomes.append((action, outcome))
        summary = (
            f"Case #{case_id}: {case.actor_name} → {case.user_name}: {case.step} ({case.reason})"
        )
        await self.pipeline.report(call.group, call.platform, summary)
        return results

    async def _target(self, call: Invocation, *, required: bool = True) -> User | None:
        command = call.command
        if command.target is not None:
            return command.target
        for arg in command.args:
            if arg.startswith("@") and len(arg) > 1:
                found = await self._find(call, arg)
                if found is not None:
                    return found
                await self._say(
                    call, f"I don't know {arg} yet; reply to one of their messages instead."
                )
                return None
        if required:
            await self._say(
                call, f"Reply to a message of the member, or name them: /{command.name} @name"
            )
        return None

    async def _find(self, call: Invocation, name: str) -> User | None:
        scope = call.command.chat.scope
        record = self.pipeline.members.find_by_username(call.platform, scope, name)
        if record is None:
            record = await self.pipeline.store.find_member(call.platform, scope, name)
        if record is None:
            return None
        return User(record.key.user_id, record.name, record.username)

    def _rest(self, call: Invocation) -> list[str]:
        """The arguments without the `@name` that named the target (when no reply did)."""
        args = list(call.command.args)
        if call.command.target is None:
            named = next((i for i, a in enumerate(args) if a.startswith("@") and len(a) > 1), None)
            if named is not None:
                del args[named]
        return args

    async def _may_punish(self, call: Invocation, target: User) -> bool:
        pipeline = self.pipeline
        adapter = pipeline.executor.adapters.get(call.platform)
        if adapter is not None and target.id == adapter.me().id:
            await self._say(call, "I won't act against myself.")
            return False
        if await pipeline.admins.is_admin(call.platform, call.chat, target.id):
            await self._say(call, f"{target.display} is an admin; admins are never punished.")
            return False
        return True

    async def _say(self, call: Invocation, text: str) -> None:
        call.handled.replies.append(text)
        await self._send(call.platform, call.chat, text, reply_to=call.command.message_id)

    async def _send(self, platform: str, chat: str, text: str, *, reply_to: str = "") -> None:
        await self.pipeline.executor.perform(
            platform, Send(chat=chat, text=text, reply_to=reply_to, reason="command reply")
        )

    async def _notify_admins(
        self, call: Invocation, text: str, *, buttons: tuple[Button, ...] = (), excerpt: str = ""
    ) -> None:
        """Tell the admins: in the log chat, or through the platform's own way to reach them.

        `excerpt` (the offending message, which Steward deleted) is shown only where members
        cannot read it: posting it in the chat would put the spam or insult back up. Without a
        log chat on a platform whose notices land in the chat, the admins are told where to
        find it instead.
        """
        target = self.pipeline.groups.log_chat(call.group)
        adapter = self.pipeline.executor.adapters.get(call.platform)
        private = bool(target) or (adapter is not None and adapter.capabilities.private_notices)
        if excerpt:
            text += f"\nMessage: «{excerpt}»" if private else f"\n{_NOT_REPEATED}"
        if target:
            platform, _, chat = target.partition(":")
            notice: Action = Send(chat=chat, text=text, buttons=buttons, reason="admin notice")
            await self.pipeline.executor.perform(platform, notice)
            return
        notice = NotifyAdmins(chat=call.chat, text=text, buttons=buttons, reason="admin notice")
        await self.pipeline.executor.perform(call.platform, notice)
