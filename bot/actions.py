"""Canonical actions: what Steward asks a platform to do.

Rules, admin commands and plugins all produce these; only the executor hands them to an adapter,
which translates them into API calls and reports what it could not do. Member actions carry the
whole `User` so that logs and replies can name the member without another lookup.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import ClassVar


class Permission(StrEnum):
    """What a restriction can take away; adapters map each to their platform's nearest right."""

    SEND_MESSAGES = "send_messages"
    SEND_MEDIA = "send_media"
    SEND_LINKS = "send_links"
    SEND_POLLS = "send_polls"
    ADD_REACTIONS = "add_reactions"
    INVITE_USERS = "invite_users"


class ActionKind(StrEnum):
    """Names used in rule files and logs for each action."""

    DELETE = "delete"
    WARN = "warn"
    MUTE = "mute"
    RESTRICT = "restrict"
    KICK = "kick"
    BAN = "ban"
    UNMUTE = "unmute"
    UNRESTRICT = "unrestrict"
    UNBAN = "unban"
    SEND = "send"
    DIRECT_MESSAGE = "direct_message"
    NOTIFY_ADMINS = "notify_admins"
    APPROVE_JOIN = "approve_join"
    DECLINE_JOIN = "decline_join"


# Actions that take something away from a member; never applied to admins, owners or the bot.
PUNITIVE = frozenset(
    {ActionKind.WARN, ActionKind.MUTE, ActionKind.RESTRICT, ActionKind.KICK, ActionKind.BAN}
)
# Order of severity, used when several rules propose direct actions for one event.
SEVERITY: dict[ActionKind, int] = {
    ActionKind.WARN: 1,
    ActionKind.MUTE: 2,
    ActionKind.RESTRICT: 2,
    ActionKind.KICK: 3,
    ActionKind.BAN: 4,
}


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button; `data` comes back in a `ButtonPress` event."""

    text: str
    data: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """Every action happens in one chat and says why, for the audit log."""

    chat: str
    reason: str = ""

    kind: ClassVar[ActionKind]


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberAction(Action):
    """An action aimed at one member."""

    user: str
    user_name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Delete(Action):
    message_id: str
    kind: ClassVar[ActionKind] = ActionKind.DELETE


@dataclass(frozen=True, slots=True, kw_only=True)
class Warn(MemberAction):
    """A recorded warning; adapters show it as a reply or a direct message."""

    text: str = ""
    kind: ClassVar[ActionKind] = ActionKind.WARN


@dataclass(frozen=True, slots=True, kw_only=True)
class Mute(MemberAction):
    until: datetime | None
    kind: ClassVar[ActionKind] = ActionKind.MUTE


@dataclass(frozen=True, slots=True, kw_only=True)
class Restrict(MemberAction):
    denied: frozenset[Permission]
    until: datetime | None
    kind: ClassVar[ActionKind] = ActionKind.RESTRICT


@dataclass(frozen=True, slots=True, kw_only=True)
class Kick(MemberAction):
    kind: ClassVar[ActionKind] = ActionKind.KICK


@dataclass(frozen=True, slots=True, kw_only=True)
class Ban(MemberAction):
    """`until=None` bans for good; a time makes it temporary."""

    until: datetime | None = None
    delete_recent_messages: bool = False
    kind: ClassVar[ActionKind] = ActionKind.BAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Unmute(MemberAction):
    """Lift a mute, and only a mute: a restriction is lifted by `Unrestrict`.

    `expired` says the mute's own time ran out (Steward's timed job): then only what Steward's
    mutes apply is taken back, so the end of a mute given with a role does not also end a
    timeout a moderator or AutoMod gave meanwhile. An admin's unmute (`expired=False`) lifts
    every mute the member has, whoever gave it: the admin wants the member to speak again.
    """

    expired: bool = False
    kind: ClassVar[ActionKind] = ActionKind.UNMUTE


@dataclass(frozen=True, slots=True, kw_only=True)
class Unrestrict(MemberAction):
    """Lift a restriction (`Restrict`), leaving any mute in place.

    Telegram keeps one set of permissions per member, so there lifting a restriction gives
    back what the chat allows everyone, as an unmute does.
    """

    kind: ClassVar[ActionKind] = ActionKind.UNRESTRICT


@dataclass(frozen=True, slots=True, kw_only=True)
class Unban(MemberAction):
    kind: ClassVar[ActionKind] = ActionKind.UNBAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Send(Action):
    text: str
    reply_to: str = ""
    buttons: tuple[Button, ...] = ()
    kind: ClassVar[ActionKind] = ActionKind.SEND


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectMessage(MemberAction):
    text: str
    kind: ClassVar[ActionKind] = ActionKind.DIRECT_MESSAGE


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyAdmins(Action):
    """Tell the chat's admins; adapters choose how (the log chat, a mention, direct messages)."""

    text: str
    buttons: tuple[Button, ...] = ()
    kind: ClassVar[ActionKind] = ActionKind.NOTIFY_ADMINS


@dataclass(frozen=True, slots=True, kw_only=True)
class ApproveJoinRequest(MemberAction):
    """Let someone who asked to join in (a group that screens join requests)."""

    kind: ClassVar[ActionKind] = ActionKind.APPROVE_JOIN


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclineJoinRequest(MemberAction):
    kind: ClassVar[ActionKind] = ActionKind.DECLINE_JOIN


AnyAction = (
    Delete
    | Warn
    | Mute
    | Restrict
    | Kick
    | Ban
    | Unmute
    | Unrestrict
    | Unban
    | Send
    | DirectMessage
    | NotifyAdmins
)


def action_to_dict(action: Action) -> dict[str, object]:
    """A JSON-ready view of an action, for `--json` output, the audit log and storage."""
    result: dict[str, object] = {"action": action.kind.value}
    for item in fields(action):
        name = item.name
        value = getattr(action, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, frozenset):
            value = sorted(str(v) for v in value)
        elif isinstance(value, tuple):
            value = [asdict(v) if isinstance(v, Button) else v for v in value]
        result[name] = value
    return result


_BY_KIND: dict[str, type[Action]] = {
    cls.kind.value: cls
    for cls in (
        Delete,
        Warn,
        Mute,
        Restrict,
        Kick,
        Ban,
        Unmute,
        Unrestrict,
        Unban,
        Send,
        DirectMessage,
        NotifyAdmins,
    )
}


def action_from_dict(data: dict[str, object]) -> Action:
    """Rebuild an action stored with `action_to_dict` (pending actions survive a restart)."""
    values = dict(data)
    kind = str(values.pop("action"))
    cls = _BY_KIND.get(kind)
    if cls is None:
        raise ValueError(f"unknown action kind {kind!r}")
    if isinstance(values.get("until"), str):
        values["until"] = datetime.fromisoformat(str(values["until"]))
    denied = values.get("denied")
    if isinstance(denied, list):
        values["denied"] = frozenset(Permission(p) for p in denied)
    buttons = values.get("buttons")
    if isinstance(buttons, list):
        values["buttons"] = tuple(Button(**b) for b in buttons)
    return cls(**values)  # type: ignore[arg-type]
