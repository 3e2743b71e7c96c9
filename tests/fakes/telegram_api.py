"""A small, stateful fake of the Telegram Bot API, served by aiohttp on 127.0.0.1.

The real python-telegram-bot client talks to it exactly as it talks to Telegram: form-encoded
requests to `/bot<token>/<method>`, long polling with `getUpdates(offset, timeout)`, `{"ok":
false, "error_code": …}` errors with `retry_after` for 429. It keeps the state a moderation test
needs to check (who is restricted or banned until when, which messages exist or were deleted,
what the bot sent) and records every call. Tests push updates with helpers such as `say`,
`join` or `press`, make calls fail with `fail`, and wait for calls with `wait_for`.

Like Telegram, `getUpdates` returns at most 100 updates per call, in `update_id` order, and an
update stays pending until a later call's `offset` confirms it, so a client that stops before
confirming gets it again when it comes back (`redeliver`). After `setWebhook` it POSTs each
update to the webhook instead, in order, with the secret token header, until answered 200.
Calls to a group that became a supergroup fail with `migrate_to_chat_id`, as on Telegram.
Unlike Telegram, the bot's own bans and restrictions produce no `chat_member` updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import ClientError, ClientSession, web

Json = dict[str, Any]
ANONYMOUS_ADMIN_ID = 1087968824
ALL_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
}
MEMBER_PERMISSIONS = {
    "can_send_messages": True,
    "can_send_audios": True,
    "can_send_documents": True,
    "can_send_photos": True,
    "can_send_videos": True,
    "can_send_video_notes": True,
    "can_send_voice_notes": True,
    "can_send_polls": True,
    "can_send_other_messages": True,
    "can_add_web_page_previews": True,
    "can_change_info": False,
    "can_invite_users": True,
    "can_pin_messages": False,
    "can_manage_topics": False,
    "can_react_to_messages": True,
    "can_edit_tag": False,
}
_INT_FIELDS = {
    "chat_id",
    "user_id",
    "sender_chat_id",
    "message_id",
    "until_date",
    "offset",
    "limit",
    "timeout",
}
_BOOL_FIELDS = {
    "revoke_messages",
    "only_if_banned",
    "use_independent_chat_permissions",
    "show_alert",
    "drop_pending_updates",
}
_JSON_FIELDS = {
    "permissions",
    "reply_markup",
    "reply_parameters",
    "allowed_updates",
    "commands",
    "scope",
}


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: Json | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass
class Call:
    method: str
    params: Json


@dataclass
class Member:
    user: Json
    status: str = "member"  # creator, administrator, member, restricted, left, kicked
    until: int = 0  # unix time; 0 means forever
    permissions: Json = field(default_factory=dict)
    rights: Json = field(default_factory=dict)


@dataclass
class FakeChat:
    id: int
    title: str
    type: str = "supergroup"
    permissions: Json = field(default_factory=lambda: dict(MEMBER_PERMISSIONS))
    members: dict[int, Member] = field(default_factory=dict)
    join_requests: dict[int, Json] = field(default_factory=dict)
    linked_chat_id: int | None = None  # the channel of a discussion group
    banned_senders: set[int] = field(default_factory=set)  # channels banned from posting

    def json(self) -> Json:
        return {"id": self.id, "type": self.type, "title": self.title}


class FakeTelegram:
    """The fake server. `async with FakeTelegram() as api:` starts it on a free local port."""

    def __init__(
        self, *, token: str = "123456:TEST-token", now: Callable[[], datetime] | None = None
    ) -> None:
        self.token = token
        self.now = now or (lambda: datetime.now(UTC))
        self.bot: Json = {
            "id": 7000001,
            "is_bot": True,
            "first_name": "Steward",
            "username": "steward_test_bot",
        }
        self.chats: dict[int, FakeChat] = {}
        self.migrated: dict[int, int] = {}  # old group id → its supergroup's id
        self.messages: dict[tuple[int, int], Json] = {}
        self.deleted: set[tuple[int, int]] = set()
        self.sent: list[Json] = []
        self.direct: list[Json] = []
        self.started: set[int] = set()  # users who opened a private chat with the bot
        self.calls: list[Call] = []
        self.updates: list[Json] = []  # pending: not yet confirmed by the client
        self.pushed: list[Json] = []  # every update ever pushed, for tests to redeliver
        self.confirmed = 0  # updates with ids below this were acknowledged by the client
        self.allowed_updates: list[str] | None = None  # as the client last asked
        self.last_update_id = 0
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._callback_ids = itertools.count(1)
        self._failures: dict[str, list[ApiError]] = {}
        self._latency: dict[str, float] = {}
        self.in_flight = 0  # calls being answered now (long polls not counted)
        self.most_in_flight = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._waking: asyncio.Task[None] | None = None
        # With a webhook set (setWebhook), updates are POSTed to it instead of polled.
        self.webhook: Json | None = None
        self.webhook_failures = 0
        self._poster: asyncio.Task[None] | None = None
        self.port = 0

    # -- server -----------------------------------------------------------------------------

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._closing = False
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        # Long polls still open (a client that went away mid-poll) answer at once, so that
        # shutting the server down does not wait for their timeouts.
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        if self._poster is not None:
            self._poster.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poster
            self._poster = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _answer({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append(Call(method, params))
        async with self._changed:
            self._changed.notify_all()
        polling = method == "getUpdates"
        if not polling:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            delay = self._latency.get(method)
            if delay:
                await asyncio.sleep(delay)
            injected = self._failures.get(method)
            if injected:
                raise injected.pop(0)
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            result = await handler(params)
        except ApiError as exc:
            body: Json = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
            return _answer(body, exc.code)
        finally:
            if not polling:
                self.in_flight -= 1
        return _answer({"ok": True, "result": result})

    # -- test controls ----------------------------------------------------------------------

    def fail(
        self,
        method: str,
        code: int,
        description: str,
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` answer with this error."""
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        self._failures.setdefault(method, []).extend(
            ApiError(code, description, parameters) for _ in range(times)
        )

    def slow(self, method: str, seconds: float) -> None:
        """Answer `method` only after `seconds`, as a distant server would (network latency)."""
        self._latency[method] = seconds

    async def wait_for(
        self,
        method: str,
        *,
        count: int = 1,
        where: Callable[[Json], bool] | None = None,
        timeout: float = 10.0,
    ) -> list[Call]:
        """The calls of `method` (matching `where`) once there are at least `count` of them."""

        def found() -> list[Call]:
            return [
                c for c in self.calls if c.method == method and (where is None or where(c.params))
            ]

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(found()) >= count), timeout)
        return found()

    def pending(self) -> list[Json]:
        """Updates the client will be given and has not confirmed yet."""
        return [u for u in self.updates if self._is_pending(u)]

    def _is_pending(self, update: Json) -> bool:
        return update["update_id"] >= self.confirmed and _allowed(update, self.allowed_updates)

    async def consumed(self, timeout: float = 10.0) -> None:
        """Wait until the client has fetched and acknowledged every queued update."""

        def done() -> bool:  # stops at the first pending update: cheap with a long backlog
            return not any(self._is_pending(u) for u in self.updates)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(done), timeout)

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    # -- the world --------------------------------------------------------------------------

    def user(self, user_id: int, first_name: str, username: str | None = None) -> Json:
        user: Json = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        return user

    def group(
        self, chat_id: int, title: str, *, owner: Json | None = None, bot_rights: Json | None = None
    ) -> FakeChat:
        chat = FakeChat(chat_id, title)
        self.chats[chat_id] = chat
        if owner is not None:
            chat.members[owner["id"]] = Member(owner, "creator")
        rights = dict(ALL_RIGHTS) if bot_rights is None else {**ALL_RIGHTS, **bot_rights}
        chat.members[self.bot["id"]] = Member(self.bot, "administrator", rights=rights)
        return chat

    def promote(self, chat_id: int, user: Json, *, notify: bool = True) -> None:
        chat = self.chats[chat_id]
        old = self._member(chat, user)
        chat.members[user["id"]] = Member(user, "administrator", rights=dict(ALL_RIGHTS))
        if notify:
            self._push(
                "chat_member", self._member_update(chat, user, old, chat.members[user["id"]])
            )

    def member_status(self, chat_id: int, user_id: int) -> Member | None:
        member = self.chats[chat_id].members.get(user_id)
        if member is None:
            return None
        now = int(self.now().timestamp())
        if member.status in ("restricted", "kicked") and member.until and member.until <= now:
            member.status = "member" if member.status == "restricted" else "left"
            member.until = 0
        return member

    def is_muted(self, chat_id: int, user_id: int) -> bool:
        member = self.member_status(chat_id, user_id)
        return (
            member is not None
            and member.status == "restricted"
            and not member.permissions.get("can_send_messages", True)
        )

    def is_banned(self, chat_id: int, user_id: int) -> bool:
        member = self.member_status(chat_id, user_id)
        return member is not None and member.status == "kicked"

    # -- updates the tests push -------------------------------------------------------------

    def say(
        self,
        chat_id: int,
        user: Json,
        text: str = "",
        *,
        reply_to: Json | None = None,
        media: str | None = None,
        media_group_id: str | None = None,
        forward_from: Json | None = None,
        sender_chat: Json | None = None,
        date: datetime | None = None,
        entities: list[Json] | None = None,
    ) -> Json:
        """A message from `user` in the chat, delivered as an update; returns the message."""
        chat = self.chats[chat_id]
        self._member(chat, user)
        message = self._message(chat, user, text, date=date)
        if media is not None:
            message.update(_media(media))
            if text:
                message["caption"] = message.pop("text")
                message["caption_entities"] = message.pop("entities", [])
        if entities is not None:
            message["entities" if "text" in message else "caption_entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        if forward_from is not None:
            message["forward_origin"] = {
                "type": "user",
                "date": message["date"] - 60,
                "sender_user": forward_from,
            }
        if sender_chat is not None:
            message["sender_chat"] = sender_chat
        self._push("message", message)
        return message

    def dm(self, user: Json, text: str) -> Json:
        """A message from `user` in their private chat with the bot (which starts it)."""
        self.started.add(user["id"])
        message: Json = {
            "message_id": next(self._message_ids),
            "date": int(self.now().timestamp()),
            "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
            "from": user,
            "text": text,
        }
        found = _entities(text)
        if found:
            message["entities"] = found
        self._push("message", message)
        return message

    def edit(self, message: Json, text: str) -> Json:
        edited = dict(message, text=text, edit_date=int(self.now().timestamp()))
        edited["entities"] = _entities(text)
        self.messages[(message["chat"]["id"], message["message_id"])] = edited
        self._push("edited_message", edited)
        return edited

    def join(
        self, chat_id: int, user: Json, *, service_message: bool = True, member_update: bool = True
    ) -> Json | None:
        """A member joins: Telegram sends a service message and a chat_member update."""
        chat = self.chats[chat_id]
        old = chat.members.get(user["id"]) or Member(user, "left")
        chat.members[user["id"]] = Member(user, "member")
        notice = None
        if service_message:
            notice = self._message(chat, user, "")
            notice.pop("text", None)
            notice.pop("entities", None)
            notice["new_chat_members"] = [user]
            self._push("message", notice)
        if member_update:
            self._push(
                "chat_member", self._member_update(chat, user, old, chat.members[user["id"]])
            )
        return notice

    def leave(
        self, chat_id: int, user: Json, *, service_message: bool = True, member_update: bool = True
    ) -> None:
        """A member leaves: like a join, Telegram reports it twice."""
        chat = self.chats[chat_id]
        old = chat.members.get(user["id"]) or Member(user, "member")
        chat.members[user["id"]] = Member(user, "left")
        if service_message:
            notice = self._message(chat, user, "")
            notice.pop("text", None)
            notice.pop("entities", None)
            notice["left_chat_member"] = user
            self._push("message", notice)
        if member_update:
            self._push(
                "chat_member", self._member_update(chat, user, old, chat.members[user["id"]])
            )

    def react(self, chat_id: int, user: Json, message: Json, emoji: str) -> None:
        self._push(
            "message_reaction",
            {
                "chat": self.chats[chat_id].json(),
                "message_id": message["message_id"],
                "user": user,
                "date": int(self.now().timestamp()),
                "old_reaction": [],
                "new_reaction": [{"type": "emoji", "emoji": emoji}],
            },
        )

    def request_to_join(self, chat_id: int, user: Json, bio: str = "") -> None:
        chat = self.chats[chat_id]
        request = {
            "chat": chat.json(),
            "from": user,
            "user_chat_id": user["id"],
            "date": int(self.now().timestamp()),
            "bio": bio,
        }
        chat.join_requests[user["id"]] = request
        self._push("chat_join_request", request)

    def press(self, chat_id: int, user: Json, message: Json, data: str) -> None:
        self._push(
            "callback_query",
            {
                "id": str(next(self._callback_ids)),
                "from": user,
                "message": message,
                "chat_instance": str(chat_id),
                "data": data,
            },
        )

    def migrate(self, chat_id: int, new_id: int, *, by: Json | None = None) -> None:
        """The group becomes a supergroup with a new id: the old chat reports where it went,
        then the new one where it came from (both are service messages)."""
        chat = self.chats.pop(chat_id)
        upgrader = by or self._owner(chat)
        notice = self._message(chat, upgrader, "")
        notice.pop("text", None)
        notice.pop("entities", None)
        notice["migrate_to_chat_id"] = new_id
        self._push("message", notice)
        chat.id, chat.type = new_id, "supergroup"
        self.migrated[chat_id] = new_id
        self.chats[new_id] = chat
        origin = self._message(chat, upgrader, "")
        origin.pop("text", None)
        origin.pop("entities", None)
        origin["migrate_from_chat_id"] = chat_id
        self._push("message", origin)

    def remove_bot(self, chat_id: int) -> None:
        chat = self.chats[chat_id]
        old = chat.members[self.bot["id"]]
        chat.members[self.bot["id"]] = Member(self.bot, "left")
        self._push(
            "my_chat_member", self._member_update(chat, self.bot, old, chat.members[self.bot["id"]])
        )

    def redeliver(self, update: Json) -> None:
        """Make an update pending again with the same update_id, as when the client stopped
        before confirming it: the next client to poll without an offset (after a restart) gets
        it again. A running client has moved its offset past it and will not see it."""
        if update not in self.updates:
            self.updates.append(update)
            self.updates.sort(key=lambda u: u["update_id"])
        self.confirmed = min(self.confirmed, update["update_id"])

    # -- internals --------------------------------------------------------------------------

    def _push(self, kind: str, payload: Json) -> Json:
        update_id = next(self._update_ids)
        update: Json = {"update_id": update_id, kind: payload}
        self.last_update_id = update_id
        self.updates.append(update)
        self.pushed.append(update)
        self._wake()
        return update

    def _wake(self) -> None:
        """Wake long polls from synchronous test code (updates are pushed outside the server).

        One wake-up serves any number of pushes made before it runs, so pushing a backlog of
        thousands of updates schedules one task, not thousands.
        """
        if self._waking is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop yet: the first poll sees the update anyway
            return
        self._waking = loop.create_task(self._notify())

    async def _notify(self) -> None:
        self._waking = None
        async with self._changed:
            self._changed.notify_all()

    def _owner(self, chat: FakeChat) -> Json:
        owner = next((m.user for m in chat.members.values() if m.status == "creator"), None)
        return owner if owner is not None else self.bot

    def _member(self, chat: FakeChat, user: Json) -> Member:
        member = chat.members.get(user["id"])
        if member is None:
            member = chat.members[user["id"]] = Member(user, "member")
        return member

    def _message(
        self, chat: FakeChat, user: Json, text: str, *, date: datetime | None = None
    ) -> Json:
        message_id = next(self._message_ids)
        message: Json = {
            "message_id": message_id,
            "date": int((date or self.now()).timestamp()),
            "chat": chat.json(),
            "from": user,
            "text": text,
        }
        found = _entities(text)
        if found:
            message["entities"] = found
        self.messages[(chat.id, message_id)] = message
        return message

    def _member_update(self, chat: FakeChat, user: Json, old: Member, new: Member) -> Json:
        return {
            "chat": chat.json(),
            "from": user,
            "date": int(self.now().timestamp()),
            "old_chat_member": _member_json(old),
            "new_chat_member": _member_json(new),
        }

    def _chat(self, params: Json) -> FakeChat:
        chat_id = int(params["chat_id"])
        if chat_id in self.migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated[chat_id]},
            )
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        bot = chat.members.get(self.bot["id"])
        if bot is None or bot.status in ("left", "kicked"):
            raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
        return chat

    def _require(self, chat: FakeChat, right: str, message: str) -> None:
        bot = chat.members[self.bot["id"]]
        if bot.status != "administrator" or not bot.rights.get(right, False):
            raise ApiError(400, f"Bad Request: {message}")

    def _target(self, chat: FakeChat, params: Json) -> Member:
        user_id = int(params["user_id"])
        member = chat.members.get(user_id)
        if member is not None and member.status in ("creator", "administrator"):
            raise ApiError(400, "Bad Request: user is an administrator of the chat")
        if member is None:
            member = chat.members[user_id] = Member(
                {"id": user_id, "is_bot": False, "first_name": str(user_id)}, "left"
            )
        return member

    # -- the Bot API methods ----------------------------------------------------------------

    async def _api_getMe(self, params: Json) -> Json:
        return {
            **self.bot,
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": False,
        }

    async def _api_deleteWebhook(self, params: Json) -> bool:
        if params.get("drop_pending_updates"):
            self.updates.clear()
        self.webhook = None
        return True

    async def _api_setWebhook(self, params: Json) -> bool:
        if params.get("drop_pending_updates"):
            self.updates.clear()
        if params.get("allowed_updates") is not None:
            self.allowed_updates = params["allowed_updates"]
        self.webhook = {"url": str(params["url"]), "secret_token": params.get("secret_token")}
        if self._poster is None or self._poster.done():
            self._poster = asyncio.get_running_loop().create_task(self._post_updates())
        return True

    async def _post_updates(self) -> None:
        """Deliver pending updates to the webhook one at a time, in order, as Telegram does;
        an update counts as delivered (confirmed) when the bot answers 200, and is tried
        again otherwise."""
        async with ClientSession() as session:
            while self.webhook is not None and not self._closing:
                pending = next((u for u in self.updates if self._is_pending(u)), None)
                if pending is None:
                    async with self._changed:
                        await self._changed.wait_for(
                            lambda: (
                                self._closing
                                or self.webhook is None
                                or any(self._is_pending(u) for u in self.updates)
                            )
                        )
                    continue
                secret = self.webhook.get("secret_token")
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                try:
                    async with session.post(
                        self.webhook["url"], json=pending, headers=headers
                    ) as answer:
                        delivered = answer.status == 200
                except ClientError:
                    delivered = False
                if not delivered:
                    self.webhook_failures += 1
                    await asyncio.sleep(0.05)  # Telegram retries later, with growing pauses
                    continue
                self.updates.remove(pending)
                self.confirmed = max(self.confirmed, pending["update_id"] + 1)
                async with self._changed:
                    self._changed.notify_all()

    async def _api_setMyCommands(self, params: Json) -> bool:
        return True

    async def _api_getUpdates(self, params: Json) -> list[Json]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        allowed = params.get("allowed_updates")
        if allowed is not None:  # Telegram keeps the last list until a call names another
            self.allowed_updates = allowed
        allowed = self.allowed_updates
        if offset:  # confirms every update before it (the list is kept in update_id order)
            confirmed = 0
            while confirmed < len(self.updates) and self.updates[confirmed]["update_id"] < offset:
                confirmed += 1
            del self.updates[:confirmed]
            self.confirmed = max(self.confirmed, offset)
        async with self._changed:
            self._changed.notify_all()

        limit = min(int(params.get("limit") or 100), 100)

        def ready() -> list[Json]:
            found: list[Json] = []
            for update in self.updates:
                if update["update_id"] >= offset and _allowed(update, allowed):
                    found.append(update)
                    if len(found) == limit:
                        break
            return found

        if not ready() and timeout:
            async with self._changed:
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: self._closing or bool(ready())), timeout
                    )
                except TimeoutError:
                    return []
        return ready()

    async def _api_sendMessage(self, params: Json) -> Json:
        chat_id = int(params["chat_id"])
        if chat_id > 0:  # a private chat
            if chat_id not in self.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            private = {
                "message_id": next(self._message_ids),
                "date": int(self.now().timestamp()),
                "chat": {"id": chat_id, "type": "private", "first_name": "member"},
                "from": self.bot,
                "text": str(params["text"]),
            }
            self.direct.append(private)
            return private
        chat = self._chat(params)
        message = self._message(chat, self.bot, str(params["text"]))
        if "reply_parameters" in params:
            message["reply_to_message_id"] = params["reply_parameters"].get("message_id")
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        self.sent.append(message)
        return message

    async def _api_deleteMessage(self, params: Json) -> bool:
        chat = self._chat(params)
        key = (chat.id, int(params["message_id"]))
        message = self.messages.get(key)
        if message is None or key in self.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        own = message.get("from", {}).get("id") == self.bot["id"]
        if not own:
            self._require(chat, "can_delete_messages", "message can't be deleted")
        if self.now() - datetime.fromtimestamp(message["date"], UTC) > timedelta(hours=48):
            raise ApiError(400, "Bad Request: message can't be deleted")
        self.deleted.add(key)
        return True

    async def _api_restrictChatMember(self, params: Json) -> bool:
        chat = self._chat(params)
        self._require(
            chat, "can_restrict_members", "not enough rights to restrict/unrestrict chat member"
        )
        member = self._target(chat, params)
        permissions = {**MEMBER_PERMISSIONS, **params.get("permissions", {})}
        if all(permissions.get(k) == v for k, v in chat.permissions.items()):
            member.status, member.until, member.permissions = "member", 0, {}
        else:
            member.status, member.until, member.permissions = (
                "restricted",
                int(params.get("until_date") or 0),
                permissions,
            )
        return True

    async def _api_banChatMember(self, params: Json) -> bool:
        chat = self._chat(params)
        self._require(
            chat, "can_restrict_members", "not enough rights to restrict/unrestrict chat member"
        )
        member = self._target(chat, params)
        member.status, member.until = "kicked", int(params.get("until_date") or 0)
        if params.get("revoke_messages"):
            for key, message in self.messages.items():
                if key[0] == chat.id and message.get("from", {}).get("id") == member.user["id"]:
                    self.deleted.add(key)
        return True

    async def _api_unbanChatMember(self, params: Json) -> bool:
        chat = self._chat(params)
        self._require(
            chat, "can_restrict_members", "not enough rights to restrict/unrestrict chat member"
        )
        member = chat.members.get(int(params["user_id"]))
        if member is None:
            return True
        if member.status == "kicked":
            member.status, member.until = "left", 0
        elif not params.get("only_if_banned") and member.status != "creator":
            member.status = "left"
        return True

    async def _api_getChat(self, params: Json) -> Json:
        chat = self._chat(params)
        linked = {"linked_chat_id": chat.linked_chat_id} if chat.linked_chat_id else {}
        return {
            **chat.json(),
            **linked,
            "permissions": chat.permissions,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _api_banChatSenderChat(self, params: Json) -> bool:
        chat = self._chat(params)
        self._require(
            chat, "can_restrict_members", "not enough rights to restrict/unrestrict chat member"
        )
        chat.banned_senders.add(int(params["sender_chat_id"]))
        return True

    async def _api_unbanChatSenderChat(self, params: Json) -> bool:
        chat = self._chat(params)
        self._require(
            chat, "can_restrict_members", "not enough rights to restrict/unrestrict chat member"
        )
        chat.banned_senders.discard(int(params["sender_chat_id"]))
        return True

    async def _api_getChatMember(self, params: Json) -> Json:
        chat = self._chat(params)
        member = self.member_status(chat.id, int(params["user_id"])) or Member(
            {"id": int(params["user_id"]), "is_bot": False, "first_name": "?"}, "left"
        )
        return _member_json(member)

    async def _api_getChatAdministrators(self, params: Json) -> list[Json]:
        chat = self._chat(params)
        return [
            _member_json(m)
            for m in chat.members.values()
            if m.status in ("creator", "administrator")
        ]

    async def _api_approveChatJoinRequest(self, params: Json) -> bool:
        chat = self._chat(params)
        self._require(chat, "can_invite_users", "not enough rights to invite users")
        request = chat.join_requests.pop(int(params["user_id"]), None)
        if request is None:
            raise ApiError(400, "Bad Request: HIDE_REQUESTER_MISSING")
        chat.members[int(params["user_id"])] = Member(request["from"], "member")
        return True

    async def _api_declineChatJoinRequest(self, params: Json) -> bool:
        chat = self._chat(params)
        self._require(chat, "can_invite_users", "not enough rights to invite users")
        if chat.join_requests.pop(int(params["user_id"]), None) is None:
            raise ApiError(400, "Bad Request: HIDE_REQUESTER_MISSING")
        return True

    async def _api_answerCallbackQuery(self, params: Json) -> bool:
        return True


def _allowed(update: Json, allowed: list[str] | None) -> bool:
    if not allowed:
        return True
    return any(kind in update for kind in allowed)


async def _params(request: web.Request) -> Json:
    if request.content_type == "application/json":
        raw: dict[str, Any] = await request.json()
    else:
        form = await request.post()
        raw = {k: v for k, v in form.items() if isinstance(v, str)}
    params: Json = {}
    for key, value in raw.items():
        if key in _INT_FIELDS and isinstance(value, str):
            params[key] = int(value)
        elif key in _BOOL_FIELDS and isinstance(value, str):
            params[key] = value == "true"
        elif key in _JSON_FIELDS and isinstance(value, str):
            params[key] = json.loads(value)
        else:
            params[key] = value
    return params


def _answer(body: Json, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json")


def _member_json(member: Member) -> Json:
    base: Json = {"user": member.user, "status": member.status}
    if member.status == "creator":
        return {**base, "is_anonymous": False}
    if member.status == "administrator":
        return {**base, **ALL_RIGHTS, **member.rights}
    if member.status == "restricted":
        return {
            **base,
            "is_member": True,
            "until_date": member.until,
            **MEMBER_PERMISSIONS,
            **member.permissions,
        }
    if member.status == "kicked":
        return {**base, "until_date": member.until}
    return base


def _media(kind: str) -> Json:
    file = {"file_id": f"file-{kind}", "file_unique_id": f"u-{kind}"}
    if kind == "photo":
        return {"photo": [{**file, "width": 90, "height": 90}]}
    if kind == "sticker":
        return {
            "sticker": {
                **file,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        }
    if kind == "video":
        return {"video": {**file, "width": 640, "height": 360, "duration": 3}}
    if kind == "document":
        return {"document": file}
    if kind == "voice":
        return {"voice": {**file, "duration": 2}}
    raise ValueError(f"the fake knows no media kind {kind!r}")


def _entities(text: str) -> list[Json]:
    """Entities Telegram would attach: commands, @mentions and URLs (offsets in UTF-16 units)."""
    found: list[Json] = []
    patterns = (
        ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z][A-Za-z0-9_]*(?:@\w+)?")),
        ("mention", re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}")),
        (
            "url",
            re.compile(
                r"(?:https?://|www\.)[^\s]+|\b(?:t\.me|discord\.gg)/[^\s]+|\b[\w-]+\.(?:com|org|net|ru|io|me|gg|xyz|gift)(?:/[^\s]*)?"
            ),
        ),
    )
    taken: list[tuple[int, int]] = []
    for kind, pattern in patterns:
        for match in pattern.finditer(text):
            if any(s <= match.start() < e for s, e in taken):
                continue
            if kind == "bot_command" and match.start() != 0:
                continue
            taken.append((match.start(), match.end()))
            offset = len(text[: match.start()].encode("utf-16-le")) // 2
            length = len(match.group(0).encode("utf-16-le")) // 2
            found.append({"type": kind, "offset": offset, "length": length})
    return sorted(found, key=lambda e: e["offset"])
