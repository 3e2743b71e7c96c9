"""The Telegram adapter: python-telegram-bot's `Application` in, Bot API calls out.

Updates are received by long polling (or a webhook), translated by `translate.py` and handed to
the host, whose dispatcher handles each chat in order and different chats concurrently (so PTB
itself only has to hand updates over, one after another, which keeps joins and their echoes in
order). Actions become Bot API calls through a rate limiter that waits out 429 `retry_after`
answers (see `ratelimit.py`); network errors are retried with backoff; every other failure comes
back as an `Outcome` that names the missing right or the reason, so the core can record it and
tell the admins once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import cast
from urllib.parse import urlsplit

from telegram import (
    Bot,
    BotCommand,
    ChatMember,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ContextTypes, TypeHandler

from adapters.common import remember as _remember
from adapters.common import with_retries
from adapters.telegram.ratelimit import TelegramRateLimiter
from adapters.telegram.translate import ANONYMOUS_ADMIN, PLATFORM, Translation, translate
from bot.actions import (
    Action,
    ApproveJoinRequest,
    Ban,
    Button,
    DeclineJoinRequest,
    Delete,
    DirectMessage,
    Kick,
    Mute,
    NotifyAdmins,
    Permission,
    Restrict,
    Send,
    Unban,
    Unmute,
    Unrestrict,
    Warn,
)
from bot.adapter import Failure, Host, Outcome
from bot.capabilities import TELEGRAM
from bot.clock import Clock
from bot.config import TelegramConfig
from bot.events import AnyEvent, Join, Leave, User

log = logging.getLogger("steward.telegram")

ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
    Update.CHAT_MEMBER,
    Update.CHAT_JOIN_REQUEST,
    Update.MESSAGE_REACTION,
]
COMMANDS = [
    BotCommand("rules", "Show this chat's rules"),
    BotCommand("report", "Reply to a message to alert the admins"),
    BotCommand("appeal", "Ask the admins to review your last case"),
]
REMEMBERED_MESSAGES = 50_000
# Telegram reports a join or a leave twice (a service message and a chat_member update, which
# may arrive some time apart when the bot was busy); the second report within this is an echo.
MEMBERSHIP_ECHO = timedelta(minutes=5)
# A kick is a ban and an unban; should the unban fail, this ban ends by itself soon anyway.
KICK_BAN = timedelta(minutes=5)
DELETE_WINDOW = timedelta(hours=48)
# Bot API calls in flight at once. httpx's connection pool finds a connection for each waiting
# request by scanning every connection, per waiting request, whenever one frees up: quadratic in
# the number of requests in flight. Two hundred busy chats each asking for their admin list at
# once cost seconds of CPU that way (bench/telegram.py); waiting here is a cheap queue. At
# Telegram's usual 50–100 ms per call, 16 in flight still allow far more calls a second
# than Telegram lets a bot make.
CONCURRENT_CALLS = 16

# Telegram's error texts, matched case-insensitively, and what they mean for us.
_MISSING_RIGHTS = (
    ("not enough rights to restrict", "the Ban users admin right"),
    ("not enough rights to ban", "the Ban users admin right"),
    ("not enough rights to delete", "the Delete messages admin right"),
    ("not enough rights to send", "the right to send messages here"),
    ("have no rights to send", "the right to send messages here"),
    ("need administrator rights", "admin rights in this chat"),
    ("not enough rights to invite", "the Invite users admin right"),
    ("chat_admin_required", "admin rights in this chat"),
)
_PROTECTED = (
    "user is an administrator",
    "can't remove chat owner",
    "can't restrict self",
    "user_admin_invalid",
)
_GONE = (
    "message to delete not found",
    "message not found",
    "user not found",
    "participant_id_invalid",
    "hide_requester_missing",
    "user_already_participant",
)
_UNREACHABLE = (
    "bot can't initiate conversation",
    "bot was blocked by the user",
    "user is deactivated",
)
_REMOVED = (
    "bot was kicked",
    "bot is not a member",
    "chat not found",
    "group chat was deactivated",
    "bot was blocked",
)
_CANNOT_DELETE = "message can't be deleted"


class TelegramAdapter:
    platform = PLATFORM
    capabilities = TELEGRAM

    def __init__(
        self,
        config: TelegramConfig,
        clock: Clock,
        *,
        retries: int = 3,
        backoff: float = 0.5,
        poll_timeout: float = 10.0,
        rate_limits: bool = True,
    ) -> None:
        if not config.token:
            raise ValueError("the Telegram adapter needs a token (TELEGRAM_BOT_TOKEN)")
        if config.mode == "webhook" and config.webhook is None:
            raise ValueError(
                "adapters.telegram.mode is webhook but there is no adapters.telegram.webhook "
                "section: add one with at least `url: https://your.host/path` (or use polling)"
            )
        self.config = config
        self.clock = clock
        self.retries = retries
        self.backoff = backoff
        self.poll_timeout = poll_timeout
        self.rate_limits = rate_limits
        self.application: Application | None = None  # type: ignore[type-arg]
        self.host: Host | None = None
        self._me = User("", "Steward", "", is_bot=True)
        self._in_flight = asyncio.Semaphore(CONCURRENT_CALLS)
        self._messages: OrderedDict[tuple[str, str], datetime] = OrderedDict()
        self._join_notices: OrderedDict[tuple[str, str], str] = OrderedDict()
        # The last join or leave reported per (chat, member), to drop Telegram's second report.
        self._membership: OrderedDict[tuple[str, str], tuple[type[AnyEvent], datetime]] = (
            OrderedDict()
        )

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, host: Host) -> None:
        self.host = host
        builder = (
            Application.builder()
            .token(self.config.token or "")
            .rate_limiter(
                TelegramRateLimiter(max_retries=self.retries, limit_sends=self.rate_limits)
            )
            .get_updates_read_timeout(self.poll_timeout + 10)
        )
        if self.config.api_url:
            builder = builder.base_url(self.config.api_url)
        if self.config.file_url:
            builder = builder.base_file_url(self.config.file_url)
        application = builder.build()
        application.add_handler(TypeHandler(Update, self._on_update))
        await application.initialize()
        bot = application.bot
        self._me = User(str(bot.id), bot.first_name, bot.username or "", is_bot=True)
        try:
            await bot.set_my_commands(COMMANDS)
        except TelegramError as exc:
            log.warning("could not register the command list: %s", exc)
        await application.start()
        assert application.updater is not None
        if self.config.mode == "webhook" and self.config.webhook is not None:
            hook = self.config.webhook
            await application.updater.start_webhook(
                listen=hook.listen,
                port=hook.port,
                # Telegram posts to the public URL; a proxy in front usually keeps its path.
                url_path=urlsplit(hook.url).path.lstrip("/"),
                webhook_url=hook.url,
                secret_token=hook.secret_token,
                allowed_updates=ALLOWED_UPDATES,
            )
        else:
            await application.updater.start_polling(
                timeout=int(self.poll_timeout), allowed_updates=ALLOWED_UPDATES, poll_interval=0.0
            )
        self.application = application
        log.info("connected to Telegram as @%s", self._me.username)

    async def stop(self) -> None:
        application = self.application
        if application is None:
            return
        self.application = None
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()

    def me(self) -> User:
        return self._me

    # -- inbound ----------------------------------------------------------------------------

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            translation = translate(update, self._me.username, self.clock.now())
        except Exception:  # a malformed update must not stop the others
            log.exception("could not read update %s; skipped", update.update_id)
            return
        await self._deliver(translation)

    async def handed_over(self) -> None:
        """Wait until every update PTB has fetched so far was handed to the host."""
        if self.application is not None:
            await self.application.update_queue.join()

    async def _deliver(self, translation: Translation) -> None:
        host = self.host
        if host is None:
            return
        for chat, message_id, at in translation.seen_messages:
            _remember(self._messages, (chat, message_id), at, REMEMBERED_MESSAGES)
        for chat, user, message_id in translation.join_notices:
            _remember(self._join_notices, (chat, user), message_id, REMEMBERED_MESSAGES)
        for old, new in translation.moved:
            await host.chat_moved(PLATFORM, old, new)
        for chat in translation.gone:
            await host.chat_gone(PLATFORM, chat)
        for chat in translation.returned:
            log.info("added to chat %s again", chat)
        for chat in translation.admins_changed:
            await host.admins_changed(PLATFORM, chat)
        for event in translation.events:
            if isinstance(event, Join | Leave) and self._echo(event):
                continue
            await host.submit(event)
        if translation.callback_query and self.application is not None:
            try:
                await self.application.bot.answer_callback_query(translation.callback_query)
            except TelegramError as exc:
                log.debug("answering a button press failed: %s", exc)

    def _echo(self, event: Join | Leave) -> bool:
        """The second report of the same join (or leave): the first one was handed over.

        A join after a leave (or the other way round) is news however soon it comes, so only a
        repeat of the last kind reported for the member counts as an echo.
        """
        key = (event.chat.id, event.actor.id)
        previous = self._membership.get(key)
        if (
            previous is not None
            and previous[0] is type(event)
            and abs(event.at - previous[1]) < MEMBERSHIP_ECHO
        ):
            return True
        _remember(self._membership, key, (type(event), event.at), REMEMBERED_MESSAGES)
        return False

    # -- outbound ---------------------------------------------------------------------------

    async def admins(self, chat: str) -> frozenset[str]:
        """The chat's administrators, plus whoever speaks with an admin's authority there:
        its anonymous admins, and the channel linked to a discussion group (whose posts Telegram
        forwards into the group automatically, as that channel)."""
        if not chat.startswith("-"):
            return frozenset()  # a private chat: Telegram has no admins to list there
        bot = self._bot()
        async with self._in_flight:
            members = await bot.get_chat_administrators(int(chat))
            info = await bot.get_chat(int(chat))
        ids = {str(m.user.id) for m in members} | {ANONYMOUS_ADMIN}
        if info.linked_chat_id is not None:
            ids.add(str(info.linked_chat_id))
        return frozenset(ids)

    async def perform(self, action: Action) -> Outcome:
        if self.application is None:
            return Outcome.failed(Failure.TEMPORARY, "not connected to Telegram")
        early = self._refuse_early(action)
        if early is not None:
            return early
        try:
            note = await with_retries(
                lambda: self._call_in_turn(action),
                retries=self.retries,
                backoff=self.backoff,
                transient=_is_network_error,
            )
        except ChatMigrated as exc:
            # Decided before the group's move reached us: do it where the group is now.
            # (The migration update itself moves Steward's records.)
            moved = dataclasses.replace(action, chat=str(exc.new_chat_id))
            outcome = await self.perform(moved)
            note = f"done in the supergroup {exc.new_chat_id} the group became"
            return Outcome.done(note) if outcome.ok else outcome
        except BadRequest as exc:
            return await self._explain(action, exc)
        except Forbidden as exc:
            return await self._forbidden(action, exc)
        except RetryAfter as exc:
            return Outcome.failed(Failure.TEMPORARY, f"rate limited by Telegram: {exc.message}")
        except NetworkError as exc:
            return Outcome.failed(Failure.TEMPORARY, f"network error: {exc.message}")
        except TelegramError as exc:
            return Outcome.failed(Failure.OTHER, exc.message)
        return Outcome.done(note)

    async def _call_in_turn(self, action: Action) -> str:
        async with self._in_flight:
            return await self._call(action)

    def _refuse_early(self, action: Action) -> Outcome | None:
        if isinstance(action, Delete):
            sent = self._messages.get((action.chat, action.message_id))
            if sent is not None and self.clock.now() - sent > DELETE_WINDOW:
                return Outcome.failed(
                    Failure.NOT_ALLOWED,
                    "Telegram lets bots delete messages only up to 48 hours old",
                )
        if isinstance(action, Mute | Restrict) and _is_chat(action.user):
            return Outcome.failed(
                Failure.NOT_ALLOWED,
                "Telegram cannot mute a channel or group that posts as itself; ban it instead",
            )
        if isinstance(action, Unmute | Unrestrict) and _is_chat(action.user):
            return Outcome.done("a channel is never muted on Telegram")
        return None

    async def _call(self, action: Action) -> str:
        bot = self._bot()
        chat = int(action.chat)
        if isinstance(action, Ban | Kick | Unban) and _is_chat(action.user):
            return await self._sender_chat(bot, chat, action)
        if isinstance(action, Delete):
            await bot.delete_message(chat, int(action.message_id))
        elif isinstance(action, Send):
            await bot.send_message(
                chat,
                action.text,
                reply_parameters=ReplyParameters(
                    int(action.reply_to), allow_sending_without_reply=True
                )
                if action.reply_to
                else None,
                reply_markup=_keyboard(action.buttons),
            )
        elif isinstance(action, Warn | NotifyAdmins):
            buttons = action.buttons if isinstance(action, NotifyAdmins) else ()
            await bot.send_message(chat, action.text, reply_markup=_keyboard(buttons))
        elif isinstance(action, DirectMessage):
            await bot.send_message(int(action.user), action.text)
        elif isinstance(action, Mute):
            await bot.restrict_chat_member(
                chat,
                int(action.user),
                ChatPermissions.no_permissions(),
                until_date=self._until(action.until),
                use_independent_chat_permissions=True,
            )
        elif isinstance(action, Restrict):
            allowed = await self._chat_permissions(chat)
            await bot.restrict_chat_member(
                chat,
                int(action.user),
                _without(allowed, action.denied),
                until_date=self._until(action.until),
                use_independent_chat_permissions=True,
            )
        elif isinstance(action, Unmute | Unrestrict):
            # Give back exactly what the chat allows its members, which is what a mute or a
            # restriction took: Telegram keeps one set of permissions per member, so lifting
            # either lifts both.
            allowed = await self._chat_permissions(chat)
            await bot.restrict_chat_member(
                chat, int(action.user), allowed, use_independent_chat_permissions=True
            )
        elif isinstance(action, Ban):
            await bot.ban_chat_member(
                chat,
                int(action.user),
                until_date=self._until(action.until),
                revoke_messages=action.delete_recent_messages,
            )
            if action.delete_recent_messages:
                notice = self._join_notices.pop((action.chat, action.user), None)
                if notice is not None:
                    try:
                        await bot.delete_message(chat, int(notice))
                    except TelegramError as exc:
                        log.info("could not delete the join notice of %s: %s", action.user, exc)
        elif isinstance(action, Kick):
            until = self.clock.now() + KICK_BAN
            await bot.ban_chat_member(chat, int(action.user), until_date=until)
            await bot.unban_chat_member(chat, int(action.user), only_if_banned=True)
        elif isinstance(action, Unban):
            await bot.unban_chat_member(chat, int(action.user), only_if_banned=True)
        elif isinstance(action, ApproveJoinRequest):
            await bot.approve_chat_join_request(chat, int(action.user))
        elif isinstance(action, DeclineJoinRequest):
            await bot.decline_chat_join_request(chat, int(action.user))
        else:  # pragma: no cover - every canonical action is handled above
            raise TelegramError(f"unsupported action {action.kind.value}")
        return ""

    async def _sender_chat(self, bot: Bot, chat: int, action: Ban | Kick | Unban) -> str:
        """A channel posting as itself is banned as a sender chat: it has no member rights to
        restrict, and Telegram's sender-chat bans have no duration."""
        sender = int(action.user)
        if isinstance(action, Unban):
            await bot.unban_chat_sender_chat(chat, sender)
            return ""
        await bot.ban_chat_sender_chat(chat, sender)
        if isinstance(action, Kick):
            await bot.unban_chat_sender_chat(chat, sender)
            return ""
        if action.until is not None:
            return "Telegram bans a channel until it is unbanned; the duration was not applied"
        return ""

    @staticmethod
    def _until(until: datetime | None) -> datetime | None:
        """The executor has already fitted the time into Telegram's 30 s–366 d window."""
        return until

    async def _chat_permissions(self, chat: int) -> ChatPermissions:
        """What the chat lets every member do, asked afresh each time: an admin may have
        changed it since, and an unmute must give back exactly today's defaults."""
        info = await self._bot().get_chat(chat)
        return info.permissions or ChatPermissions.all_permissions()

    async def _explain(self, action: Action, exc: BadRequest) -> Outcome:
        text = exc.message.lower()
        if isinstance(action, Delete) and _CANNOT_DELETE in text:
            return await self._undeletable(action, exc)
        for needle, right in _MISSING_RIGHTS:
            if needle in text:
                return Outcome.failed(
                    Failure.MISSING_RIGHT, f"Steward needs {right} ({exc.message})"
                )
        if any(n in text for n in _PROTECTED):
            return Outcome.failed(Failure.NOT_ALLOWED, exc.message)
        if any(n in text for n in _GONE):
            return Outcome.failed(Failure.NOT_FOUND, exc.message)
        return Outcome.failed(Failure.OTHER, exc.message)

    async def _forbidden(self, action: Action, exc: Forbidden) -> Outcome:
        text = exc.message.lower()
        if isinstance(action, DirectMessage) or any(n in text for n in _UNREACHABLE):
            return Outcome.failed(
                Failure.UNREACHABLE,
                "the member has not started a private chat with the bot"
                if isinstance(action, DirectMessage)
                else exc.message,
            )
        if any(n in text for n in _REMOVED):
            if self.host is not None:
                await self.host.chat_gone(PLATFORM, action.chat)
            # Nobody there to tell: an admin notice in that chat would fail the same way.
            return Outcome.failed(Failure.NOT_FOUND, f"Steward is no longer in the chat ({exc})")
        return Outcome.failed(Failure.MISSING_RIGHT, exc.message)

    async def _undeletable(self, action: Delete, exc: BadRequest) -> Outcome:
        """Telegram says "message can't be deleted" both when the bot lacks the right and when
        the message is too old (or a kind bots may not delete); only the bot's rights tell which.
        """
        bot = self._bot()
        try:
            me = await bot.get_chat_member(int(action.chat), bot.id)
        except TelegramError as lookup:
            log.info("could not look up Steward's own rights: %s", lookup)
            return Outcome.failed(Failure.OTHER, exc.message)
        if getattr(me, "can_delete_messages", False) or me.status == ChatMember.OWNER:
            return Outcome.failed(
                Failure.NOT_ALLOWED,
                "Telegram refused: bots can delete messages only up to 48 hours old "
                f"({exc.message})",
            )
        return Outcome.failed(
            Failure.MISSING_RIGHT, f"Steward needs the Delete messages admin right ({exc.message})"
        )

    def _bot(self) -> Bot:
        if self.application is None:
            raise NetworkError("not connected to Telegram")
        return cast(Bot, self.application.bot)


def _is_chat(user: str) -> bool:
    """Telegram users have positive ids; a negative id is a channel or group posting as itself."""
    return user.startswith("-")


def _keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    row = [
        InlineKeyboardButton(b.text, url=b.url)
        if b.url
        else InlineKeyboardButton(b.text, callback_data=b.data or b.text)
        for b in buttons
    ]
    return InlineKeyboardMarkup([row])


_PERMISSION_FIELDS: dict[Permission, tuple[str, ...]] = {
    Permission.SEND_MESSAGES: (
        "can_send_messages",
        "can_send_audios",
        "can_send_documents",
        "can_send_photos",
        "can_send_videos",
        "can_send_video_notes",
        "can_send_voice_notes",
        "can_send_polls",
        "can_send_other_messages",
        "can_add_web_page_previews",
    ),
    Permission.SEND_MEDIA: (
        "can_send_audios",
        "can_send_documents",
        "can_send_photos",
        "can_send_videos",
        "can_send_video_notes",
        "can_send_voice_notes",
        "can_send_other_messages",
    ),
    Permission.SEND_LINKS: ("can_add_web_page_previews",),
    Permission.SEND_POLLS: ("can_send_polls",),
    Permission.ADD_REACTIONS: ("can_react_to_messages",),
    Permission.INVITE_USERS: ("can_invite_users",),
}


def _without(allowed: ChatPermissions, denied: frozenset[Permission]) -> ChatPermissions:
    values = {
        name: getattr(allowed, name)
        for name in ChatPermissions.__slots__
        if name.startswith("can_")
    }
    for permission in denied:
        for name in _PERMISSION_FIELDS.get(permission, ()):
            values[name] = False
    return ChatPermissions(**values)


def _is_network_error(exc: Exception) -> bool:
    """A failure to reach Telegram, worth trying again (a refused request is not, though PTB
    makes `BadRequest` a `NetworkError` too)."""
    return isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)
