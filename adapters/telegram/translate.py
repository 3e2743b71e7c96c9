"""Telegram updates → canonical events, as pure functions of python-telegram-bot objects.

Only what Telegram says is filled in; nothing is invented. Telegram-specific facts that are not
events (an admin promoted, the bot removed, a group migrated to a supergroup) are returned
beside the events for the adapter to tell its host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from telegram import (
    CallbackQuery,
    ChatJoinRequest,
    ChatMember,
    ChatMemberUpdated,
    Message,
    MessageEntity,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    MessageReactionUpdated,
    ReactionTypeCustomEmoji,
    ReactionTypeEmoji,
    Update,
)
from telegram import Chat as TgChat
from telegram import User as TgUser
from telegram.ext import filters

from bot.commands import knows
from bot.events import (
    AnyEvent,
    ButtonPress,
    Chat,
    Command,
    ForwardInfo,
    Join,
    JoinRequest,
    Leave,
    MediaKind,
    Reaction,
    User,
)
from bot.events import Message as CanonicalMessage

PLATFORM = "telegram"
# Telegram's "Group" bot: admins who post anonymously appear as this user, with the chat itself
# as `sender_chat`. Only admins can post that way.
ANONYMOUS_ADMIN = "1087968824"

_MEDIA_ATTRIBUTES: tuple[tuple[str, MediaKind], ...] = (
    ("photo", MediaKind.PHOTO),
    ("video", MediaKind.VIDEO),
    ("animation", MediaKind.ANIMATION),
    ("audio", MediaKind.AUDIO),
    ("voice", MediaKind.VOICE),
    ("video_note", MediaKind.VIDEO_NOTE),
    ("document", MediaKind.DOCUMENT),
    ("sticker", MediaKind.STICKER),
    ("poll", MediaKind.POLL),
    ("contact", MediaKind.CONTACT),
    ("location", MediaKind.LOCATION),
    ("venue", MediaKind.LOCATION),
    ("game", MediaKind.GAME),
    ("story", MediaKind.STORY),
)
_MEMBER_STATUSES = frozenset({ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER})
_ADMIN_STATUSES = frozenset({ChatMember.ADMINISTRATOR, ChatMember.OWNER})


@dataclass
class Translation:
    """What one update means: events for the pipeline and facts for the host."""

    events: list[AnyEvent] = field(default_factory=list)
    admins_changed: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)
    # (chat, user, message id) of "X joined" service messages, deleted if X is banned as a spammer.
    join_notices: list[tuple[str, str, str]] = field(default_factory=list)
    # Messages seen (chat, message id, date), so deletions can respect the 48-hour window.
    seen_messages: list[tuple[str, str, datetime]] = field(default_factory=list)
    callback_query: str = ""


def translate(update: Update, bot_username: str, now: datetime) -> Translation:
    """The canonical meaning of one update; `now` dates what Telegram leaves undated (buttons)."""
    out = Translation()
    event_id = str(update.update_id)
    if update.message is not None or update.edited_message is not None:
        edited = update.message is None
        message = update.edited_message if edited else update.message
        assert message is not None
        # Service messages never carry text or a caption; only the others need the full check.
        said = message.text is not None or message.caption is not None
        service = not said and bool(filters.StatusUpdate.ALL.check_update(update))
        _message(message, event_id, out, edited=edited, service=service, bot_username=bot_username)
    elif update.chat_member is not None:
        _member_update(update.chat_member, event_id, out)
    elif update.my_chat_member is not None:
        _bot_status(update.my_chat_member, out)
    elif update.message_reaction is not None:
        _reaction(update.message_reaction, event_id, out)
    elif update.chat_join_request is not None:
        _join_request(update.chat_join_request, event_id, out)
    elif update.callback_query is not None:
        _button(update.callback_query, event_id, out, now)
    return out


def canonical_user(user: TgUser) -> User:
    return User(str(user.id), user.full_name, user.username or "", user.is_bot)


def canonical_chat(chat: TgChat) -> Chat:
    return Chat(str(chat.id), chat.title or chat.full_name or "")


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _actor(message: Message) -> User | None:
    """Who wrote the message, as far as moderation is concerned.

    A message sent on behalf of a chat carries a placeholder in `from` (Telegram's
    GroupAnonymousBot or Channel_Bot) and the real sender in `sender_chat`. When that chat is
    the group itself the author is one of its anonymous admins; otherwise it is a channel (or
    another group) posting as itself, and that chat is the actor: its id is negative, so it can
    never be mistaken for the anonymous admin, and the adapter bans it as a sender chat.
    """
    sender_chat = message.sender_chat
    if sender_chat is not None:
        if sender_chat.id == message.chat.id:
            return User(ANONYMOUS_ADMIN, "Anonymous admin", "GroupAnonymousBot", is_bot=False)
        return User(str(sender_chat.id), sender_chat.title or "", sender_chat.username or "")
    sender = message.from_user
    return canonical_user(sender) if sender is not None else None


def _message(
    message: Message,
    event_id: str,
    out: Translation,
    *,
    edited: bool,
    service: bool,
    bot_username: str,
) -> None:
    chat = canonical_chat(message.chat)
    at = _utc(message.edit_date if edited and message.edit_date else message.date)
    if message.migrate_to_chat_id is not None:
        out.moved.append((chat.id, str(message.migrate_to_chat_id)))
        return
    if message.new_chat_members:
        for member in message.new_chat_members:
            actor = canonical_user(member)
            inviter = canonical_user(message.from_user) if message.from_user else None
            invited_by = inviter if inviter is not None and inviter.id != actor.id else None
            out.events.append(
                Join(
                    platform=PLATFORM,
                    chat=chat,
                    actor=actor,
                    at=at,
                    id=f"{event_id}:{actor.id}",
                    invited_by=invited_by,
                )
            )
            out.join_notices.append((chat.id, actor.id, str(message.message_id)))
        return
    if message.left_chat_member is not None:
        actor = canonical_user(message.left_chat_member)
        remover = canonical_user(message.from_user) if message.from_user else None
        out.events.append(
            Leave(
                platform=PLATFORM,
                chat=chat,
                actor=actor,
                at=at,
                id=event_id,
                removed_by=remover if remover is not None and remover.id != actor.id else None,
            )
        )
        return
    if service:
        return  # a pinned message, a new title, a video chat …: nobody said anything
    author = _actor(message)
    if author is None:
        return
    out.seen_messages.append((chat.id, str(message.message_id), _utc(message.date)))
    text = message.text or message.caption or ""
    entities = message.parse_entities() if message.text else message.parse_caption_entities()
    command = _command(message, text, entities, bot_username)
    reply = message.reply_to_message
    reply_user = _actor(reply) if reply is not None else None
    if command is not None and not edited:
        name, args = command
        target = reply_user or _mentioned(entities)
        out.events.append(
            Command(
                platform=PLATFORM,
                chat=chat,
                actor=author,
                at=at,
                id=event_id,
                name=name,
                args=args,
                target=target,
                message_id=str(message.message_id),
                reply_to_message=str(reply.message_id) if reply is not None else "",
            )
        )
        return
    links: list[str] = []
    mentions: list[str] = []
    for entity, value in entities.items():
        if entity.type == MessageEntity.URL:
            links.append(value)
        elif entity.type == MessageEntity.TEXT_LINK and entity.url:
            links.append(entity.url)
        elif entity.type == MessageEntity.MENTION:
            mentions.append(value.lstrip("@"))
        elif entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            mentions.append(str(entity.user.id))
    media = {kind for attribute, kind in _MEDIA_ATTRIBUTES if getattr(message, attribute, None)}
    if MediaKind.ANIMATION in media:
        # Telegram also fills `document` for a GIF, for old clients; it is one animation.
        media.discard(MediaKind.DOCUMENT)
    out.events.append(
        CanonicalMessage(
            platform=PLATFORM,
            chat=chat,
            actor=author,
            at=at,
            id=event_id,
            text=text,
            message_id=str(message.message_id),
            links=tuple(links),
            mentions=tuple(mentions),
            media=frozenset(media),
            reply_to_message=str(reply.message_id) if reply is not None else "",
            reply_to_user=reply_user,
            forward=_forward(message),
            edited=edited,
            media_group=message.media_group_id or "",
        )
    )


def _command(
    message: Message, text: str, entities: dict[MessageEntity, str], bot_username: str
) -> tuple[str, tuple[str, ...]] | None:
    """`/verb args` at the start of a message, addressed to us or to nobody in particular, when
    the verb is one of Steward's commands (`bot.commands.knows`): "/free crypto" or another
    bot's "/ban" is a message, judged by the rules like any text."""
    for entity, value in entities.items():
        if entity.type != MessageEntity.BOT_COMMAND or entity.offset != 0:
            continue
        verb, _, addressee = value[1:].partition("@")
        if addressee and bot_username and addressee.lower() != bot_username.lower():
            return None  # another bot's command
        if not knows(verb):
            return None
        rest = text[entity.offset + entity.length :]
        return verb.lower(), tuple(rest.split())
    return None


def _mentioned(entities: dict[MessageEntity, str]) -> User | None:
    """A command's target named by a text mention (a member without a username, picked from
    the member list): Telegram gives the user itself, so no lookup by name is needed."""
    for entity in entities:
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            return canonical_user(entity.user)
    return None


def _forward(message: Message) -> ForwardInfo | None:
    origin = message.forward_origin
    if origin is None or message.is_automatic_forward:
        return None
    if isinstance(origin, MessageOriginUser):
        return ForwardInfo(str(origin.sender_user.id), origin.sender_user.full_name)
    if isinstance(origin, MessageOriginHiddenUser):
        return ForwardInfo("", origin.sender_user_name)
    if isinstance(origin, MessageOriginChannel):
        return ForwardInfo(str(origin.chat.id), origin.chat.title or "", from_channel=True)
    if isinstance(origin, MessageOriginChat):
        return ForwardInfo(str(origin.sender_chat.id), origin.sender_chat.title or "")
    return ForwardInfo()


def _member_update(update: ChatMemberUpdated, event_id: str, out: Translation) -> None:
    chat = canonical_chat(update.chat)
    old, new = update.old_chat_member, update.new_chat_member
    actor = canonical_user(new.user)
    at = _utc(update.date)
    if (old.status in _ADMIN_STATUSES) != (new.status in _ADMIN_STATUSES):
        out.admins_changed.append(chat.id)
    was_in = _is_member(old)
    is_in = _is_member(new)
    by = canonical_user(update.from_user) if update.from_user else None
    if is_in and not was_in:
        out.events.append(
            Join(
                platform=PLATFORM,
                chat=chat,
                actor=actor,
                at=at,
                id=event_id,
                invited_by=by if by is not None and by.id != actor.id else None,
            )
        )
    elif was_in and not is_in:
        out.events.append(
            Leave(
                platform=PLATFORM,
                chat=chat,
                actor=actor,
                at=at,
                id=event_id,
                removed_by=by if by is not None and by.id != actor.id else None,
            )
        )


def _is_member(member: ChatMember) -> bool:
    if member.status in _MEMBER_STATUSES:
        return True
    return member.status == ChatMember.RESTRICTED and bool(getattr(member, "is_member", False))


def _bot_status(update: ChatMemberUpdated, out: Translation) -> None:
    chat = str(update.chat.id)
    status = update.new_chat_member.status
    if status in (ChatMember.LEFT, ChatMember.BANNED):
        out.gone.append(chat)
    elif update.old_chat_member.status in (ChatMember.LEFT, ChatMember.BANNED):
        out.returned.append(chat)
    if status in _ADMIN_STATUSES or update.old_chat_member.status in _ADMIN_STATUSES:
        out.admins_changed.append(chat)


def _reaction(update: MessageReactionUpdated, event_id: str, out: Translation) -> None:
    if update.user is None:
        return  # anonymous reactions (by a chat) carry no member to credit or blame
    emoji = []
    for reaction in update.new_reaction:
        if isinstance(reaction, ReactionTypeEmoji):
            emoji.append(reaction.emoji)
        elif isinstance(reaction, ReactionTypeCustomEmoji):
            emoji.append(f"custom:{reaction.custom_emoji_id}")
    out.events.append(
        Reaction(
            platform=PLATFORM,
            chat=canonical_chat(update.chat),
            actor=canonical_user(update.user),
            at=_utc(update.date),
            id=event_id,
            message_id=str(update.message_id),
            emoji=tuple(emoji),
            removed=not update.new_reaction,
        )
    )


def _join_request(request: ChatJoinRequest, event_id: str, out: Translation) -> None:
    out.events.append(
        JoinRequest(
            platform=PLATFORM,
            chat=canonical_chat(request.chat),
            actor=canonical_user(request.from_user),
            at=_utc(request.date),
            id=event_id,
            bio=request.bio or "",
        )
    )


def _button(query: CallbackQuery, event_id: str, out: Translation, now: datetime) -> None:
    out.callback_query = query.id
    message = query.message
    if message is None or query.data is None:
        return
    out.events.append(
        ButtonPress(
            platform=PLATFORM,
            chat=canonical_chat(message.chat),
            actor=canonical_user(query.from_user),
            at=now,
            id=event_id,
            data=query.data,
            message_id=str(message.message_id),
        )
    )
