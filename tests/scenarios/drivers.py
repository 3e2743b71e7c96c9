"""One story, two platforms: drivers that tell a moderation scenario the same way through the
Telegram fake (`TelegramRig`) and the Discord fake (`DiscordRig`).

    async with open_driver("discord", rules_text=RULES) as chat:
        mallory = chat.member("mallory")
        spam = await chat.say(mallory, "free crypto")
        assert chat.deleted(spam)
        assert chat.bot_said("Mallory, this is a warning")

A driver speaks in canonical terms: members and admins, messages and replies, commands typed
in the chat, time, restarts, redeliveries, a right taken from the bot. Its observations are
about the platform's own state (Telegram's restriction or Discord's timeout and the time it
ends, a ban, a deleted message, what the bot posted in the chat), read from the fakes, so a
scenario asserts what really happened on the platform, not what Steward meant to do.

Every action that delivers something to Steward (`say`, `reply`, `command`, `admin`,
`advance`, `restart`, `redeliver`, `revoke`) returns once Steward has handled it (`settle`),
so scenarios never sleep.
"""

from __future__ import annotations

import contextlib
import itertools
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from bot.config import DEFAULT_GROUP
from bot.runtime import Runtime
from bot.storage.base import MemberKey
from tests.fakes.discord_api import Permission
from tests.fakes.discord_rig import DiscordRig
from tests.fakes.telegram_api import Json
from tests.fakes.telegram_rig import TelegramRig

Platform = Literal["telegram", "discord"]
PLATFORMS: tuple[Platform, ...] = ("telegram", "discord")
# A right Steward needs from the platform, in canonical terms.
Right = Literal["ban", "mute", "delete"]
# Each right as the bot's admin right in a Telegram group, and the name Telegram's settings
# show (one right, "Ban users", covers both restricting and banning).
TELEGRAM_RIGHTS: dict[Right, tuple[str, str]] = {
    "ban": ("can_restrict_members", "Ban users"),
    "mute": ("can_restrict_members", "Ban users"),
    "delete": ("can_delete_messages", "Delete messages"),
}
# Each right as a Discord permission bit of the bot's role, and its name in Discord's settings.
DISCORD_RIGHTS: dict[Right, tuple[int, str]] = {
    "ban": (Permission.BAN_MEMBERS, "Ban Members"),
    "mute": (Permission.MODERATE_MEMBERS, "Timeout Members"),
    "delete": (Permission.MANAGE_MESSAGES, "Manage Messages"),
}
# `muted_until` of a mute without an end.
FOREVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, eq=False)
class Member:
    """Someone in the chat: `name` is their handle ("mallory"), `display` what Steward calls
    them ("Mallory"), `id` the platform's user id, `native` the fake's user object."""

    name: str
    display: str
    id: str
    native: Json = field(repr=False)


@dataclass(frozen=True, eq=False)
class Posted:
    """A message someone posted in the chat (`native`: the platform's message object)."""

    author: Member
    text: str
    id: str
    native: Json = field(repr=False)


class Driver(ABC):
    """The scenario protocol. Subclasses bind it to one platform's rig."""

    platform: Platform
    owner: Member

    # -- lifecycle ---------------------------------------------------------------------------

    @abstractmethod
    async def __aenter__(self) -> Driver: ...

    @abstractmethod
    async def __aexit__(self, *exc: object) -> None: ...

    @property
    @abstractmethod
    def runtime(self) -> Runtime:
        """The running Steward (for the strike count only; scenarios observe the platform)."""

    @abstractmethod
    async def settle(self) -> None:
        """Return once Steward has handled everything the platform delivered so far."""

    @abstractmethod
    async def advance(self, duration: str | timedelta) -> None:
        """Move the virtual clock on, run what fell due, and settle."""

    @abstractmethod
    async def restart(self) -> None:
        """Stop Steward and start it again on the same database and the same platform."""

    @abstractmethod
    def now(self) -> datetime: ...

    # -- the people --------------------------------------------------------------------------

    @abstractmethod
    def member(self, name: str) -> Member:
        """A plain member of the chat (no event is delivered)."""

    @abstractmethod
    async def admin(self, name: str) -> Member:
        """A member made an admin, as the platform reports a promotion to Steward."""

    # -- what people do ----------------------------------------------------------------------

    @abstractmethod
    def post(self, who: Member, text: str, *, reply_to: Posted | None = None) -> Posted:
        """Deliver a message to Steward without waiting for it to be handled."""

    async def say(self, who: Member, text: str) -> Posted:
        message = self.post(who, text)
        await self.settle()
        return message

    async def reply(self, who: Member, to: Posted, text: str) -> Posted:
        message = self.post(who, text, reply_to=to)
        await self.settle()
        return message

    async def command(self, who: Member, line: str, *, reply_to: Posted | None = None) -> Posted:
        """A text command as typed in the chat, e.g. "/warn being rude", optionally as a reply
        to a member's message (which names the target)."""
        assert line.startswith("/"), line
        message = self.post(who, line, reply_to=reply_to)
        await self.settle()
        return message

    @abstractmethod
    async def redeliver(self, message: Posted) -> None:
        """The platform delivers the update carrying `message` once more, the way it really
        happens there (Telegram: an unconfirmed update id handed out again to the client
        after it restarts; Discord: the same MESSAGE_CREATE dispatch again, as after a
        gateway RESUME)."""

    @abstractmethod
    async def revoke(self, right: Right) -> None:
        """An admin takes a right away from the bot."""

    # -- what the platform shows -------------------------------------------------------------

    @abstractmethod
    def muted_until(self, who: Member) -> datetime | None:
        """When the member's mute (Telegram restriction, Discord timeout) ends, by the
        platform's state; None when not muted, FOREVER for a mute without an end."""

    def is_muted(self, who: Member) -> bool:
        return self.muted_until(who) is not None

    @abstractmethod
    def is_banned(self, who: Member) -> bool: ...

    @abstractmethod
    def deleted(self, message: Posted) -> bool: ...

    @abstractmethod
    def bot_texts(self) -> list[str]:
        """What the bot posted in the chat, in order."""

    @abstractmethod
    def answers_to(self, message: Posted) -> list[str]:
        """What the bot posted in the chat as a reply to `message`."""

    def bot_said(self, fragment: str) -> bool:
        return any(fragment in text for text in self.bot_texts())

    def said_count(self, fragment: str) -> int:
        return sum(fragment in text for text in self.bot_texts())

    def notices_to_admins(self) -> list[str]:
        """Notices about something Steward could not do, where the platform puts them when no
        log chat is configured (Telegram: the chat where it happened)."""
        return [t for t in self.bot_texts() if t.startswith("I could not")]

    @abstractmethod
    def right_name(self, right: Right) -> str:
        """How the platform names `right` in its settings (and so in Steward's notices)."""

    @abstractmethod
    def delete_calls(self) -> int:
        """How many times Steward asked the platform to delete a message."""

    @abstractmethod
    def member_key(self, who: Member) -> MemberKey: ...

    async def strikes(self, who: Member) -> int:
        """The member's strikes now, as Steward's ledger counts them (after decay)."""
        runtime = self.runtime
        ledger = await runtime.store.strikes(self.member_key(who))
        ladder = runtime.rulebook.ruleset(DEFAULT_GROUP).ladder
        return ladder.total(ledger, self.now())


class TelegramDriver(Driver):
    platform: Platform = "telegram"

    def __init__(self, *, rules_text: str) -> None:
        self.rig = TelegramRig(rules_text=rules_text)
        self.api = self.rig.api
        self.chat = self.rig.chat
        self.owner = _member(self.rig.owner, str(self.rig.owner["id"]), "olga")
        self._ids = itertools.count(100)

    async def __aenter__(self) -> TelegramDriver:
        await self.rig.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.rig.__aexit__(*exc)

    @property
    def runtime(self) -> Runtime:
        return self.rig.rt

    async def settle(self) -> None:
        await self.rig.settle()

    async def advance(self, duration: str | timedelta) -> None:
        await self.rig.advance(duration)
        await self.rig.settle()

    async def restart(self) -> None:
        await self.rig.restart()
        await self.rig.settle()

    def now(self) -> datetime:
        return self.rig.clock.now()

    def member(self, name: str) -> Member:
        user = self.api.user(next(self._ids), name.capitalize(), name)
        return _member(user, str(user["id"]), name)

    async def admin(self, name: str) -> Member:
        someone = self.member(name)
        self.api.promote(self.chat, someone.native)  # Telegram sends a chat_member update
        await self.settle()
        return someone

    def post(self, who: Member, text: str, *, reply_to: Posted | None = None) -> Posted:
        native = self.api.say(
            self.chat, who.native, text, reply_to=reply_to.native if reply_to else None
        )
        return Posted(who, text, str(native["message_id"]), native)

    async def redeliver(self, message: Posted) -> None:
        update = next(
            u
            for u in reversed(self.api.pushed)
            if u.get("message", {}).get("message_id") == message.native["message_id"]
        )
        # Telegram hands an update out again only to a client that did not confirm it, i.e.
        # one that stopped before its next getUpdates: the restarted client gets it again.
        await self.rig.stop()
        self.api.redeliver(update)
        assert update in self.api.pending()
        await self.rig.start()
        await self.rig.settle()  # the new client fetched it (and confirmed it this time)
        assert update not in self.api.pending()

    async def revoke(self, right: Right) -> None:
        bot = self.api.chats[self.chat].members[self.api.bot["id"]]
        bot.rights[TELEGRAM_RIGHTS[right][0]] = False  # no update: Telegram sends none to the bot
        await self.settle()

    def right_name(self, right: Right) -> str:
        return TELEGRAM_RIGHTS[right][1]

    def muted_until(self, who: Member) -> datetime | None:
        if not self.api.is_muted(self.chat, int(who.id)):
            return None
        status = self.api.member_status(self.chat, int(who.id))
        assert status is not None
        return datetime.fromtimestamp(status.until, UTC) if status.until else FOREVER

    def is_banned(self, who: Member) -> bool:
        return self.api.is_banned(self.chat, int(who.id))

    def deleted(self, message: Posted) -> bool:
        return (self.chat, int(message.id)) in self.api.deleted

    def _sent_here(self) -> list[Json]:
        return [m for m in self.api.sent if m["chat"]["id"] == self.chat]

    def bot_texts(self) -> list[str]:
        return [str(m["text"]) for m in self._sent_here()]

    def answers_to(self, message: Posted) -> list[str]:
        return [
            str(m["text"])
            for m in self._sent_here()
            if m.get("reply_to_message_id") == int(message.id)
        ]

    def delete_calls(self) -> int:
        return len(self.api.calls_of("deleteMessage"))

    def member_key(self, who: Member) -> MemberKey:
        return MemberKey("telegram", str(self.chat), who.id)


class DiscordDriver(Driver):
    platform: Platform = "discord"

    _DELETE = "DELETE /channels/{channel_id}/messages/{message_id}"

    def __init__(self, *, rules_text: str) -> None:
        self.rig = DiscordRig(rules_text=rules_text)
        self.api = self.rig.api
        self.guild = self.rig.guild
        self.channel = self.rig.channel
        self.owner = _member(self.rig.owner, str(self.rig.owner["id"]), "olga")
        self._admin_role: int | None = None

    async def __aenter__(self) -> DiscordDriver:
        await self.rig.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.rig.__aexit__(*exc)

    @property
    def runtime(self) -> Runtime:
        return self.rig.rt

    async def settle(self) -> None:
        await self.rig.settle()

    async def advance(self, duration: str | timedelta) -> None:
        await self.rig.advance(duration)  # settles

    async def restart(self) -> None:
        await self.rig.restart()  # settles

    def now(self) -> datetime:
        return self.rig.clock.now()

    def member(self, name: str) -> Member:
        user = self.rig.member(name)
        return _member(user, str(user["id"]), name)

    async def admin(self, name: str) -> Member:
        if self._admin_role is None:
            role = self.api.role(self.guild.id, "Admins", permissions=Permission.ADMINISTRATOR)
            self._admin_role = role.id
        someone = self.member(name)
        # An admin gives them the role: Discord sends GUILD_MEMBER_UPDATE.
        self.api.update_member(self.guild.id, int(someone.id), roles=[self._admin_role])
        await self.settle()
        return someone

    def post(self, who: Member, text: str, *, reply_to: Posted | None = None) -> Posted:
        native = self.api.say(
            self.channel, who.native, text, reply_to=reply_to.native if reply_to else None
        )
        return Posted(who, text, str(native["id"]), native)

    async def redeliver(self, message: Posted) -> None:
        sent = self.api.dispatch("MESSAGE_CREATE", message.native, guild_id=self.guild.id)
        assert sent.sessions, "no gateway session to deliver it to"
        await self.settle()

    async def revoke(self, right: Right) -> None:
        role = self.guild.bot_role
        # Discord tells the bot with GUILD_ROLE_UPDATE.
        self.api.set_permissions(
            self.guild.id, role.id, role.permissions & ~DISCORD_RIGHTS[right][0]
        )
        await self.settle()

    def right_name(self, right: Right) -> str:
        return DISCORD_RIGHTS[right][1]

    def muted_until(self, who: Member) -> datetime | None:
        return self.api.timed_out_until(self.guild.id, int(who.id))

    def is_banned(self, who: Member) -> bool:
        return self.api.is_banned(self.guild.id, int(who.id))

    def deleted(self, message: Posted) -> bool:
        return (self.channel, int(message.id)) in self.api.deleted

    def _sent_here(self) -> list[Json]:
        return [m for m in self.api.sent if int(m["channel_id"]) == self.channel]

    def bot_texts(self) -> list[str]:
        return [str(m["content"]) for m in self._sent_here()]

    def notices_to_admins(self) -> list[str]:
        """On Discord they never go to a public channel: without a log chat (or a Community
        server's moderators-only channel), the owner gets them by direct message."""
        owner = int(self.rig.owner["id"])
        return [
            str(m["content"]) for m in self.api.dms(owner) if m["content"].startswith("I could not")
        ]

    def answers_to(self, message: Posted) -> list[str]:
        return [
            str(m["content"])
            for m in self._sent_here()
            if (m.get("message_reference") or {}).get("message_id") == message.id
        ]

    def delete_calls(self) -> int:
        return len(self.api.calls_of(self._DELETE))

    def member_key(self, who: Member) -> MemberKey:
        return MemberKey("discord", str(self.guild.id), who.id)


def _member(user: Json, user_id: str, name: str) -> Member:
    return Member(name=name, display=name.capitalize(), id=user_id, native=user)


@contextlib.asynccontextmanager
async def open_driver(platform: Platform, *, rules_text: str) -> AsyncIterator[Driver]:
    """A started driver for `platform`, stopped (and its fake shut down) afterwards."""
    driver: Driver = (
        TelegramDriver(rules_text=rules_text)
        if platform == "telegram"
        else DiscordDriver(rules_text=rules_text)
    )
    async with driver:
        yield driver
