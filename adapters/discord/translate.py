"""Discord objects → canonical events, as pure functions of discord.py models.

Only what Discord says is filled in; nothing is invented. Discord differs from Telegram in ways
that show here:

- A `Chat` is the *channel* (or thread) a thing happened in, and its `space` is the guild:
  strikes, member facts and admin status belong to the guild, messages to the channel.
- Guild-level events (joins, leaves) happen in no channel; they are placed in the guild's
  system channel (where Discord itself announces joins), or the first text channel, so that a
  welcome or a raid notice has somewhere to go and raid windows count in one place.
- Event ids are Discord's snowflakes where Discord gives one (a message, an interaction), so a
  redelivered MESSAGE_CREATE after a gateway RESUME is recognised by the pipeline. An edit is
  `edit:{message}:{edited_timestamp}`. Events without an id of their own (reactions, leaves)
  carry their place in the gateway session (`mark`: session id and sequence number, which a
  RESUME replays unchanged), so a replay is recognised and two reactions within one second
  are still two events.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import discord

from bot.commands import knows
from bot.events import (
    ButtonPress,
    Chat,
    Command,
    ForwardInfo,
    Join,
    Leave,
    MediaKind,
    Reaction,
    User,
)
from bot.events import Message as CanonicalMessage

PLATFORM = "discord"
# Text commands are typed the way Discord users type slash commands. Not `!`: that is other
# bots' prefix, and answering their `!ban` too would punish a member twice.
COMMAND_PREFIXES = ("/",)
INTERACTION_PREFIX = "interaction:"
DM_BUTTON_PREFIX = "dm:"
_VERB = re.compile(r"[a-z][a-z0-9_]{0,31}")
_USER_MENTION = re.compile(r"<@!?(\d{15,20})>")


def canonical_user(user: discord.abc.User) -> User:
    """`name` is what people see in this guild (nickname, global name), `username` the handle."""
    return User(str(user.id), user.display_name, user.name, user.bot)


def canonical_chat(channel_id: int, guild: discord.Guild | None) -> Chat:
    """The channel, in its guild. The title is the guild's name: it is what `{chat}` means to
    members ("you were banned from Test guild"), not the channel's."""
    if guild is None:
        return Chat(str(channel_id), "")
    return Chat(str(channel_id), guild.name, str(guild.id))


def guild_channel(guild: discord.Guild) -> int:
    """Where guild-level events (joins, leaves) are placed: see the module docstring."""
    if guild.system_channel is not None:
        return guild.system_channel.id
    channels = sorted(guild.text_channels, key=lambda c: (c.position, c.id))
    return channels[0].id if channels else guild.id


def utc(moment: datetime | None, fallback: datetime) -> datetime:
    if moment is None:
        return fallback
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def media_kind(content_type: str | None, filename: str = "", *, voice: bool = False) -> MediaKind:
    """The media kind of an attachment, from the MIME type Discord reports (or the file name)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    name = filename.lower()
    if voice:
        return MediaKind.VOICE
    if kind == "image/gif" or name.endswith(".gif"):
        return MediaKind.ANIMATION
    if kind.startswith("image/"):
        return MediaKind.PHOTO
    if kind.startswith("video/"):
        return MediaKind.VIDEO
    if kind.startswith("audio/"):
        return MediaKind.AUDIO
    if not kind and name.endswith((".png", ".jpg", ".jpeg", ".webp")):
        return MediaKind.PHOTO
    if not kind and name.endswith((".mp4", ".webm", ".mov")):
        return MediaKind.VIDEO
    return MediaKind.DOCUMENT


def _media(
    attachments: list[discord.Attachment], stickers: int, embeds: list[discord.Embed]
) -> set[MediaKind]:
    kinds = {
        media_kind(a.content_type, a.filename, voice=a.is_voice_message()) for a in attachments
    }
    if stickers:
        kinds.add(MediaKind.STICKER)
    for embed in embeds:
        if embed.type == "gifv":  # a Tenor/Giphy link Discord shows as a looping video
            kinds.add(MediaKind.ANIMATION)
    return kinds


def _links(embeds: list[discord.Embed]) -> list[str]:
    """URLs Discord resolved into embeds. The rules find the links in the text themselves;
    these add what the text hides (a masked link's target shows up as the embed's URL)."""
    return [embed.url for embed in embeds if embed.url]


def _mentions(message: discord.Message) -> list[str]:
    """Members and roles mentioned in the text (`<@id>`, `<@&id>`), as the mass-mention rule
    counts them: a reply's automatic ping of its author is not one. Most messages hold no
    `<@`, and discord.py finds mentions with a regex over the text: skip it for those."""
    found: list[str] = []
    if "<@" in message.content:
        found.extend(str(uid) for uid in message.raw_mentions)
        found.extend(f"role:{rid}" for rid in message.raw_role_mentions)
    if message.mention_everyone:
        found.append("everyone")
    return found


def _reply(message: discord.Message) -> tuple[str, User | None]:
    reference = message.reference
    if reference is None or reference.type is not discord.MessageReferenceType.reply:
        return "", None
    resolved = reference.resolved
    author = canonical_user(resolved.author) if isinstance(resolved, discord.Message) else None
    return (str(reference.message_id) if reference.message_id else ""), author


def _forward(message: discord.Message) -> tuple[ForwardInfo | None, str, set[MediaKind]]:
    """A forwarded message: Discord keeps a snapshot of its content but not who wrote it, so
    `ForwardInfo` stays empty apart from the fact that it is one; its text and media are judged
    like the member's own (forwarding spam is still spam)."""
    reference = message.reference
    if reference is None or reference.type is not discord.MessageReferenceType.forward:
        return None, "", set()
    texts: list[str] = []
    media: set[MediaKind] = set()
    for snapshot in message.message_snapshots:
        if snapshot.content:
            texts.append(snapshot.content)
        media |= _media(snapshot.attachments, len(snapshot.stickers), snapshot.embeds)
    return ForwardInfo(), "\n".join(texts), media


def is_ignored_author(message: discord.Message, me: int) -> bool:
    """Bots (our own messages included), webhooks and Discord's system messages are not judged,
    as on Telegram; AutoMod's own alert messages are system messages too."""
    author = message.author
    return (
        author.id == me
        or author.bot
        or message.webhook_id is not None
        or author.system
        or message.is_system()
    )


def message_event(
    message: discord.Message, *, edited: bool, now: datetime, me: int = 0
) -> CanonicalMessage | Command | None:
    """A message (or its edit) as a canonical `Message`, or a `Command` when it starts with one
    of Steward's commands (see `parse_command`).

    Edits never become commands: re-running `/ban` because a typo was fixed would punish twice.
    """
    if is_ignored_author(message, me):
        return None
    chat = canonical_chat(message.channel.id, message.guild)
    author = canonical_user(message.author)
    if edited:
        stamp = message.edited_at or now
        event_id = f"edit:{message.id}:{stamp.isoformat()}"
        at = utc(message.edited_at, now)
    else:
        event_id = str(message.id)
        at = utc(message.created_at, now)
    text = message.content or ""
    reply_to, reply_user = _reply(message)
    if not edited:
        parsed = parse_command(text)
        if parsed is not None:
            name, args = parsed
            target = reply_user
            if target is None:
                target = _first_mentioned(message, text)
            if target is not None:
                args = tuple(a for a in args if _USER_MENTION.fullmatch(a) is None)
            return Command(
                platform=PLATFORM,
                chat=chat,
                actor=author,
                at=at,
                id=event_id,
                name=name,
                args=args,
                target=target,
                message_id=str(message.id),
                reply_to_message=reply_to,
            )
    forward, forwarded_text, forwarded_media = _forward(message)
    if forwarded_text:
        text = f"{text}\n{forwarded_text}" if text else forwarded_text
    media = _media(message.attachments, len(message.stickers), message.embeds) | forwarded_media
    if message.poll is not None:
        media.add(MediaKind.POLL)
    return CanonicalMessage(
        platform=PLATFORM,
        chat=chat,
        actor=author,
        at=at,
        id=event_id,
        text=text,
        message_id=str(message.id),
        links=tuple(_links(message.embeds)),
        mentions=tuple(_mentions(message)),
        media=frozenset(media),
        reply_to_message=reply_to,
        reply_to_user=reply_user,
        forward=forward,
        edited=edited,
    )


def parse_command(text: str) -> tuple[str, tuple[str, ...]] | None:
    """`/verb args` at the start of a message, when the verb is one of Steward's commands
    (`bot.commands.knows`); the verb is lowercased. Anything else ("/free crypto", "/shrug")
    stays a message and is judged by the rules like any text."""
    stripped = text.lstrip()
    if not stripped.startswith(COMMAND_PREFIXES):
        return None
    words = stripped[1:].split()
    if not words or stripped[1:2].isspace():
        return None  # "/", "/ shrug"
    verb = words[0].lower()
    if not _VERB.fullmatch(verb) or not knows(verb):
        return None  # "/usr/bin", "/free crypto": not a command of Steward's
    return verb, tuple(words[1:])


def _first_mentioned(message: discord.Message, text: str) -> User | None:
    """The member named by the first `<@id>` in a command (Discord resolves mentions into
    `message.mentions`, in no particular order, so the text decides which came first)."""
    first = _USER_MENTION.search(text)
    if first is None:
        return None
    wanted = int(first.group(1))
    for user in message.mentions:
        if user.id == wanted:
            return canonical_user(user)
    return User(str(wanted))


def join_event(member: discord.Member, now: datetime) -> Join:
    guild = member.guild
    at = utc(member.joined_at, now)
    return Join(
        platform=PLATFORM,
        chat=canonical_chat(guild_channel(guild), guild),
        actor=canonical_user(member),
        at=at,
        id=f"join:{member.id}:{at.isoformat()}",
    )


def leave_event(guild: discord.Guild, user: discord.abc.User, now: datetime, *, mark: str) -> Leave:
    """Discord does not say whether the member left or was removed, nor when: the time is when
    Steward heard of it; `mark` identifies the dispatch (see the module docstring)."""
    return Leave(
        platform=PLATFORM,
        chat=canonical_chat(guild_channel(guild), guild),
        actor=canonical_user(user),
        at=now,
        id=f"leave:{user.id}:{mark}",
    )


def emoji_name(emoji: discord.PartialEmoji) -> str:
    """A Unicode emoji as itself; a custom one as `custom:ID`, as on Telegram."""
    if emoji.id is not None:
        return f"custom:{emoji.id}"
    return emoji.name or ""


def reaction_event(
    payload: discord.RawReactionActionEvent,
    guild: discord.Guild | None,
    actor: User,
    now: datetime,
    *,
    mark: str,
) -> Reaction:
    """A reaction added or removed; `mark` identifies the dispatch (see the module docstring),
    since Discord gives a reaction no id and may add, remove and add it again in one second."""
    removed = payload.event_type == "REACTION_REMOVE"
    emoji = emoji_name(payload.emoji)
    target = User(str(payload.message_author_id)) if payload.message_author_id else None
    return Reaction(
        platform=PLATFORM,
        chat=canonical_chat(payload.channel_id, guild),
        actor=actor,
        at=now,
        id=(
            f"reaction:{payload.message_id}:{payload.user_id}:{emoji}:"
            f"{'remove' if removed else 'add'}:{mark}"
        ),
        message_id=str(payload.message_id),
        emoji=(emoji,) if emoji else (),
        target_user=target,
        removed=removed,
    )


def button_event(interaction: discord.Interaction, now: datetime) -> ButtonPress | None:
    """A pressed button (a component interaction with a custom id)."""
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = data.get("custom_id")
    if not isinstance(custom_id, str) or interaction.channel_id is None:
        return None
    return ButtonPress(
        platform=PLATFORM,
        chat=canonical_chat(interaction.channel_id, interaction.guild),
        actor=canonical_user(interaction.user),
        at=utc(interaction.created_at, now),
        id=str(interaction.id),
        data=custom_id,
        message_id=str(interaction.message.id) if interaction.message is not None else "",
    )


def dm_button_data(chat: str, data: str) -> str:
    """A button's data when its message goes to an admin's direct messages: a press there
    comes without a server, so the data carries the channel the notice is about."""
    return f"{DM_BUTTON_PREFIX}{chat}:{data}"


def dm_button_press(press: ButtonPress, guild: discord.Guild | None) -> ButtonPress | None:
    """A press in a direct message, placed back in the channel its notice was about (None:
    not one of the buttons `dm_button_data` made)."""
    if not press.data.startswith(DM_BUTTON_PREFIX):
        return None
    chat, _, data = press.data[len(DM_BUTTON_PREFIX) :].partition(":")
    if not chat.isdigit() or guild is None:
        return None
    return dataclasses.replace(press, chat=canonical_chat(int(chat), guild), data=data)


def interaction_reply_id(interaction_id: int | str) -> str:
    """The `message_id` of a slash command's `Command`: replies to it go back as the
    interaction's response (see the adapter), not as a message replying to nothing."""
    return f"{INTERACTION_PREFIX}{interaction_id}"


def slash_event(
    interaction: discord.Interaction,
    name: str,
    args: tuple[str, ...],
    target: User | None,
    now: datetime,
    *,
    reply_to_message: str = "",
) -> Command | None:
    if interaction.channel_id is None:
        return None
    return Command(
        platform=PLATFORM,
        chat=canonical_chat(interaction.channel_id, interaction.guild),
        actor=canonical_user(interaction.user),
        at=utc(interaction.created_at, now),
        id=str(interaction.id),
        name=name,
        args=args,
        target=target,
        message_id=interaction_reply_id(interaction.id),
        reply_to_message=reply_to_message,
    )


def automod_source(execution: discord.AutoModAction) -> str:
    """Which AutoMod rule blocked the message and what it matched, for the case's evidence
    (admins read it in the moderation log; it is never said in the chat)."""
    matched = execution.matched_keyword or execution.matched_content
    said = f", matched “{matched}”" if matched else ""
    return f"Discord AutoMod rule {execution.rule_id}{said}"


def automod_event(
    execution: discord.AutoModAction,
    guild: discord.Guild,
    offender: User,
    event_id: str,
    now: datetime,
) -> CanonicalMessage | None:
    """A message Discord's AutoMod blocked, as a message the platform blocked (`blocked_by`).

    It goes through the group's rules like any message: the stock rule `blocked-by-platform`
    (`when: {blocked: true}`, one strike) counts it on the group's ladder, so Discord's own
    filtering and Steward's graduated penalties add up, and admins tune or switch that off in
    YAML like any rule (mode, strike, exemptions). The group's other rules judge the blocked
    text too, and one offence still counts once. The text never reached the channel, so nothing
    is deleted or replied to, and nothing repeats it in the chat: the case and the moderation
    log keep it for the admins. The adapter only reports what happened; it decides nothing.
    """
    if execution.channel_id is None:
        return None
    return CanonicalMessage(
        platform=PLATFORM,
        chat=canonical_chat(execution.channel_id, guild),
        actor=offender,
        at=now,
        id=event_id,
        text=execution.content,
        blocked_by=automod_source(execution),
    )
