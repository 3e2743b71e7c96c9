"""Telegram updates → canonical events (adapters/telegram/translate.py).

The updates are built the way python-telegram-bot builds them from Telegram's JSON
(`Update.de_json`), so the tests exercise the same objects the adapter receives. Each test states
what Telegram sends and what Steward must understand from it, including what it must NOT
understand (a command for another bot, an automatic forward from the linked channel, a service
message that nobody wrote).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import Bot, Update

from adapters.telegram.translate import ANONYMOUS_ADMIN, Translation, translate
from bot.events import (
    ButtonPress,
    Command,
    ForwardInfo,
    Join,
    JoinRequest,
    Leave,
    MediaKind,
    Message,
    Reaction,
    User,
)

Json = dict[str, Any]

BOT = Bot("123456:TEST-token")
BOT_NAME = "steward_test_bot"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T = int(NOW.timestamp())
CHAT: Json = {"id": -1001000000001, "type": "supergroup", "title": "Rig group"}
ANNA: Json = {"id": 11, "is_bot": False, "first_name": "Anna", "last_name": "K", "username": "anna"}
BORIS: Json = {"id": 12, "is_bot": False, "first_name": "Boris"}
OLGA: Json = {"id": 1, "is_bot": False, "first_name": "Olga", "username": "olga"}
GROUP_BOT: Json = {
    "id": int(ANONYMOUS_ADMIN),
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
CHANNEL: Json = {"id": -1002000000002, "type": "channel", "title": "News", "username": "news"}
TELEGRAM_SERVICE: Json = {"id": 777000, "is_bot": False, "first_name": "Telegram"}

_ids = itertools.count(1)


def run(kind: str, payload: Json) -> Translation:
    update = Update.de_json({"update_id": next(_ids), kind: payload}, BOT)
    return translate(update, BOT_NAME, NOW)


def message(text: str | None = "hello", *, sender: Json = ANNA, **extra: Any) -> Json:
    body: Json = {"message_id": 500, "date": T, "chat": CHAT, "from": sender}
    if text is not None:
        body["text"] = text
    body.update(extra)
    return body


def entity(kind: str, text: str, part: str, **extra: Any) -> Json:
    return {"type": kind, "offset": text.index(part), "length": len(part), **extra}


def only(translation: Translation) -> Any:
    assert len(translation.events) == 1, translation.events
    return translation.events[0]


def member(user: Json, status: str, **extra: Any) -> Json:
    body: Json = {"user": user, "status": status, **extra}
    if status == "administrator":
        body.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
        )
    if status == "restricted":
        body.setdefault("is_member", True)
        body.setdefault("until_date", 0)
        for right in (
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
            "can_change_info",
            "can_invite_users",
            "can_pin_messages",
            "can_manage_topics",
            "can_edit_tag",
            "can_react_to_messages",
        ):
            body.setdefault(right, False)
    if status == "kicked":
        body.setdefault("until_date", 0)
    return body


def member_update(old: Json, new: Json, *, by: Json | None = None) -> Json:
    return {
        "chat": CHAT,
        "from": by or new["user"],
        "date": T,
        "old_chat_member": old,
        "new_chat_member": new,
    }


# -- messages and captions --------------------------------------------------------------------


def test_a_plain_message_carries_text_author_chat_and_time() -> None:
    event = only(run("message", message("good morning")))
    assert isinstance(event, Message)
    assert event.text == "good morning"
    assert event.message_id == "500"
    assert event.actor == User("11", "Anna K", "anna")
    assert event.chat.id == str(CHAT["id"]) and event.chat.title == "Rig group"
    assert event.at == NOW and event.at.tzinfo is not None
    assert event.platform == "telegram"
    assert not event.edited and event.forward is None and event.media == frozenset()
    assert event.links == () and event.mentions == () and event.media_group == ""


def test_links_come_from_url_and_text_link_entities() -> None:
    text = "see example.com and this page"
    event = only(
        run(
            "message",
            message(
                text,
                entities=[
                    entity("url", text, "example.com"),
                    entity("text_link", text, "this page", url="https://hidden.example/x"),
                ],
            ),
        )
    )
    assert event.links == ("example.com", "https://hidden.example/x")


def test_mentions_come_from_usernames_and_text_mentions() -> None:
    text = "ping @boris_b and Anna"
    event = only(
        run(
            "message",
            message(
                text,
                sender=BORIS,
                entities=[
                    entity("mention", text, "@boris_b"),
                    entity("text_mention", text, "Anna", user=ANNA),
                ],
            ),
        )
    )
    assert event.mentions == ("boris_b", "11")


def test_a_caption_is_the_text_and_its_entities_count() -> None:
    caption = "buy at spam.example now"
    event = only(
        run(
            "message",
            message(
                None,
                caption=caption,
                caption_entities=[entity("url", caption, "spam.example")],
                photo=[{"file_id": "f", "file_unique_id": "u", "width": 90, "height": 90}],
            ),
        )
    )
    assert event.text == caption
    assert event.links == ("spam.example",)
    assert event.media == frozenset({MediaKind.PHOTO})


def test_utf16_offsets_of_entities_after_emoji_are_respected() -> None:
    text = "🎉🎉 visit scam.example"
    # Telegram counts offsets in UTF-16 code units: each 🎉 is two.
    url = {"type": "url", "offset": 11, "length": len("scam.example")}
    event = only(run("message", message(text, entities=[url])))
    assert event.links == ("scam.example",)


# -- commands ---------------------------------------------------------------------------------


def _command_message(text: str, **extra: Any) -> Json:
    verb = text.split()[0]
    return message(
        text, entities=[{"type": "bot_command", "offset": 0, "length": len(verb)}], **extra
    )


def test_a_command_to_nobody_in_particular_is_ours() -> None:
    event = only(run("message", _command_message("/Warn stop the spam")))
    assert isinstance(event, Command)
    assert event.name == "warn"
    assert event.args == ("stop", "the", "spam")
    assert event.target is None and event.reply_to_message == ""
    assert event.message_id == "500"


def test_a_command_addressed_to_us_is_ours() -> None:
    event = only(run("message", _command_message("/mute@Steward_Test_Bot 1h flood")))
    assert isinstance(event, Command)
    assert (event.name, event.args) == ("mute", ("1h", "flood"))


def test_a_command_addressed_to_another_bot_is_just_a_message() -> None:
    event = only(run("message", _command_message("/ban@other_bot everyone")))
    assert isinstance(event, Message)
    assert event.text == "/ban@other_bot everyone"


def test_a_command_not_at_the_start_is_just_a_message() -> None:
    text = "try /rules"
    event = only(run("message", message(text, entities=[entity("bot_command", text, "/rules")])))
    assert isinstance(event, Message)


def test_a_command_replying_to_a_message_targets_its_author() -> None:
    reply = message("spam spam", sender=BORIS, message_id=400)
    event = only(
        run("message", _command_message("/warn spam", sender=OLGA, reply_to_message=reply))
    )
    assert isinstance(event, Command)
    assert event.target == User("12", "Boris")
    assert event.reply_to_message == "400"
    assert event.actor.id == "1"


def test_a_command_naming_a_member_by_text_mention_targets_them() -> None:
    text = "/warn Boris be nice"
    event = only(
        run(
            "message",
            message(
                text,
                sender=OLGA,
                entities=[
                    {"type": "bot_command", "offset": 0, "length": 5},
                    entity("text_mention", text, "Boris", user=BORIS),
                ],
            ),
        )
    )
    assert isinstance(event, Command)
    assert event.target == User("12", "Boris")


def test_an_edited_command_is_not_run_again() -> None:
    edited = _command_message("/warn x", edit_date=T + 30)
    event = only(run("edited_message", edited))
    assert isinstance(event, Message) and event.edited


# -- media, albums, forwards, replies, edits --------------------------------------------------

_FILE: Json = {"file_id": "f", "file_unique_id": "u"}


@pytest.mark.parametrize(
    ("payload", "kinds"),
    [
        ({"photo": [{**_FILE, "width": 1, "height": 1}]}, {MediaKind.PHOTO}),
        ({"video": {**_FILE, "width": 1, "height": 1, "duration": 1}}, {MediaKind.VIDEO}),
        (
            {
                "animation": {**_FILE, "width": 1, "height": 1, "duration": 1},
                "document": _FILE,  # Telegram sends both for a GIF
            },
            {MediaKind.ANIMATION},
        ),
        ({"audio": {**_FILE, "duration": 1}}, {MediaKind.AUDIO}),
        ({"voice": {**_FILE, "duration": 1}}, {MediaKind.VOICE}),
        ({"video_note": {**_FILE, "length": 1, "duration": 1}}, {MediaKind.VIDEO_NOTE}),
        ({"document": _FILE}, {MediaKind.DOCUMENT}),
        (
            {
                "sticker": {
                    **_FILE,
                    "type": "regular",
                    "width": 1,
                    "height": 1,
                    "is_animated": False,
                    "is_video": False,
                }
            },
            {MediaKind.STICKER},
        ),
        (
            {
                "poll": {
                    "id": "p",
                    "question": "?",
                    "options": [{"text": "a", "voter_count": 0, "persistent_id": "o1"}],
                    "total_voter_count": 0,
                    "is_closed": False,
                    "is_anonymous": True,
                    "type": "regular",
                    "allows_multiple_answers": False,
                    "allows_revoting": False,
                    "members_only": False,
                }
            },
            {MediaKind.POLL},
        ),
        ({"contact": {"phone_number": "+1", "first_name": "C"}}, {MediaKind.CONTACT}),
        ({"location": {"latitude": 1.0, "longitude": 2.0}}, {MediaKind.LOCATION}),
        (
            {
                "venue": {
                    "location": {"latitude": 1.0, "longitude": 2.0},
                    "title": "Cafe",
                    "address": "Main St",
                },
                "location": {"latitude": 1.0, "longitude": 2.0},
            },
            {MediaKind.LOCATION},
        ),
        ({"story": {"chat": CHANNEL, "id": 3}}, {MediaKind.STORY}),
        ({"dice": {"emoji": "🎲", "value": 3}}, set()),
    ],
)
def test_media_kinds(payload: Json, kinds: set[MediaKind]) -> None:
    event = only(run("message", message(None, **payload)))
    assert isinstance(event, Message)
    assert event.media == frozenset(kinds)
    assert event.text == ""


def test_album_parts_carry_their_media_group() -> None:
    photo = [{**_FILE, "width": 1, "height": 1}]
    first = only(run("message", message(None, photo=photo, media_group_id="album-7")))
    second = only(
        run("message", message(None, photo=photo, media_group_id="album-7", message_id=501))
    )
    assert first.media_group == second.media_group == "album-7"
    assert first.id != second.id


def test_forward_from_a_user() -> None:
    origin = {"type": "user", "date": T - 60, "sender_user": BORIS}
    event = only(run("message", message("look", forward_origin=origin)))
    assert event.forward == ForwardInfo("12", "Boris")


def test_forward_from_a_user_who_hides_their_account() -> None:
    origin = {"type": "hidden_user", "date": T - 60, "sender_user_name": "Secret Sam"}
    event = only(run("message", message("look", forward_origin=origin)))
    assert event.forward == ForwardInfo("", "Secret Sam")


def test_forward_from_a_channel() -> None:
    origin = {"type": "channel", "date": T - 60, "chat": CHANNEL, "message_id": 9}
    event = only(run("message", message("look", forward_origin=origin)))
    assert event.forward == ForwardInfo(str(CHANNEL["id"]), "News", from_channel=True)


def test_forward_from_a_group_posting_as_itself() -> None:
    other = {"id": -1003000000003, "type": "supergroup", "title": "Other group"}
    origin = {"type": "chat", "date": T - 60, "sender_chat": other}
    event = only(run("message", message("look", forward_origin=origin)))
    assert event.forward == ForwardInfo(str(other["id"]), "Other group", from_channel=False)


def test_an_automatic_forward_from_the_linked_channel_is_not_a_forward() -> None:
    origin = {"type": "channel", "date": T - 5, "chat": CHANNEL, "message_id": 9}
    event = only(
        run(
            "message",
            message(
                "new post",
                sender=TELEGRAM_SERVICE,
                sender_chat=CHANNEL,
                forward_origin=origin,
                is_automatic_forward=True,
            ),
        )
    )
    assert isinstance(event, Message)
    assert event.forward is None
    # The channel itself posted it; the adapter counts the linked channel among the admins.
    assert event.actor.id == str(CHANNEL["id"])


def test_a_reply_names_the_message_and_its_author() -> None:
    original = message("question?", sender=BORIS, message_id=321)
    event = only(run("message", message("answer", reply_to_message=original)))
    assert event.reply_to_message == "321"
    assert event.reply_to_user == User("12", "Boris")


def test_an_edit_is_flagged_and_dated_by_the_edit() -> None:
    edited = message("now with a link", edit_date=T + 120)
    event = only(run("edited_message", edited))
    assert isinstance(event, Message)
    assert event.edited
    assert event.at == datetime.fromtimestamp(T + 120, UTC)
    # The original date is what the 48-hour deletion window counts from.
    translation = run("edited_message", edited)
    assert translation.seen_messages == [(str(CHAT["id"]), "500", NOW)]


# -- who wrote it -----------------------------------------------------------------------------


def test_an_anonymous_admin_posts_as_the_group_itself() -> None:
    event = only(run("message", message("admin here", sender=GROUP_BOT, sender_chat=CHAT)))
    assert event.actor.id == ANONYMOUS_ADMIN
    assert not event.actor.is_bot


def test_the_group_bot_with_another_sender_chat_is_not_an_anonymous_admin() -> None:
    event = only(run("message", message("hi", sender=GROUP_BOT, sender_chat=CHANNEL)))
    assert event.actor.id != ANONYMOUS_ADMIN
    assert event.actor.id == str(CHANNEL["id"])
    assert event.actor.name == "News"


def test_a_reply_to_an_anonymous_admin_names_the_anonymous_admin() -> None:
    original = message("rule change", sender=GROUP_BOT, sender_chat=CHAT, message_id=77)
    event = only(run("message", message("ok", reply_to_message=original)))
    assert event.reply_to_user is not None
    assert event.reply_to_user.id == ANONYMOUS_ADMIN


# -- joins and leaves -------------------------------------------------------------------------


def test_members_added_by_someone_join_invited_by_them() -> None:
    translation = run(
        "message", message(None, sender=OLGA, new_chat_members=[ANNA, BORIS], message_id=600)
    )
    joins = translation.events
    assert [type(e) for e in joins] == [Join, Join]
    assert [e.actor.id for e in joins] == ["11", "12"]
    assert all(isinstance(e, Join) and e.invited_by == User("1", "Olga", "olga") for e in joins)
    assert len({e.id for e in joins}) == 2
    assert translation.join_notices == [
        (str(CHAT["id"]), "11", "600"),
        (str(CHAT["id"]), "12", "600"),
    ]


def test_a_member_who_joins_by_themselves_was_invited_by_nobody() -> None:
    event = only(run("message", message(None, new_chat_members=[ANNA])))
    assert isinstance(event, Join) and event.invited_by is None


def test_a_left_chat_member_service_message_is_a_leave() -> None:
    event = only(run("message", message(None, sender=OLGA, left_chat_member=BORIS)))
    assert isinstance(event, Leave)
    assert event.actor.id == "12"
    assert event.removed_by == User("1", "Olga", "olga")


def test_chat_member_update_joining_is_a_join() -> None:
    event = only(run("chat_member", member_update(member(ANNA, "left"), member(ANNA, "member"))))
    assert isinstance(event, Join)
    assert event.actor.id == "11" and event.invited_by is None


def test_chat_member_update_leaving_is_a_leave() -> None:
    event = only(run("chat_member", member_update(member(ANNA, "member"), member(ANNA, "left"))))
    assert isinstance(event, Leave) and event.removed_by is None


def test_chat_member_update_banned_by_an_admin_is_a_leave_removed_by_them() -> None:
    event = only(
        run(
            "chat_member",
            member_update(member(ANNA, "member"), member(ANNA, "kicked"), by=OLGA),
        )
    )
    assert isinstance(event, Leave) and event.removed_by == User("1", "Olga", "olga")


def test_a_restricted_member_who_stays_neither_joins_nor_leaves() -> None:
    translation = run(
        "chat_member", member_update(member(ANNA, "member"), member(ANNA, "restricted"), by=OLGA)
    )
    assert translation.events == []


def test_a_restricted_member_who_leaves_is_a_leave() -> None:
    translation = run(
        "chat_member",
        member_update(member(ANNA, "restricted"), member(ANNA, "restricted", is_member=False)),
    )
    assert [type(e) for e in translation.events] == [Leave]


def test_promotion_and_demotion_make_admin_lists_stale() -> None:
    promoted = run(
        "chat_member",
        member_update(member(ANNA, "member"), member(ANNA, "administrator"), by=OLGA),
    )
    assert promoted.admins_changed == [str(CHAT["id"])]
    assert promoted.events == []  # still a member: no join
    demoted = run(
        "chat_member",
        member_update(member(ANNA, "administrator"), member(ANNA, "member"), by=OLGA),
    )
    assert demoted.admins_changed == [str(CHAT["id"])]
    plain = run("chat_member", member_update(member(ANNA, "left"), member(ANNA, "member")))
    assert plain.admins_changed == []


# -- the bot's own membership, migration, service messages ------------------------------------

STEWARD: Json = {"id": 7000001, "is_bot": True, "first_name": "Steward", "username": BOT_NAME}


@pytest.mark.parametrize("status", ["left", "kicked"])
def test_the_bot_removed_from_a_chat_means_the_chat_is_gone(status: str) -> None:
    translation = run(
        "my_chat_member",
        member_update(member(STEWARD, "administrator"), member(STEWARD, status), by=OLGA),
    )
    assert translation.gone == [str(CHAT["id"])]
    assert translation.events == []


def test_the_bot_added_again_is_noticed() -> None:
    translation = run(
        "my_chat_member",
        member_update(member(STEWARD, "left"), member(STEWARD, "administrator"), by=OLGA),
    )
    assert translation.gone == []
    assert translation.returned == [str(CHAT["id"])]
    assert translation.admins_changed == [str(CHAT["id"])]


def test_a_migration_to_a_supergroup_moves_the_chat() -> None:
    group = {"id": -4001, "type": "group", "title": "Small group"}
    translation = run(
        "message", message(None, sender=OLGA, chat=group, migrate_to_chat_id=-1004001)
    )
    assert translation.moved == [("-4001", "-1004001")]
    assert translation.events == []


@pytest.mark.parametrize(
    "service",
    [
        {"migrate_from_chat_id": -4001},
        {"new_chat_title": "New name"},
        {"pinned_message": {"message_id": 1, "date": 0, "chat": CHAT}},
        {"video_chat_started": {}},
        {"delete_chat_photo": True},
    ],
)
def test_service_messages_are_not_messages(service: Json) -> None:
    assert run("message", message(None, sender=OLGA, **service)).events == []


# -- reactions, join requests, buttons --------------------------------------------------------


def _reaction(new: list[Json], old: list[Json] | None = None, **extra: Any) -> Json:
    return {
        "chat": CHAT,
        "message_id": 42,
        "user": ANNA,
        "date": T,
        "old_reaction": old or [],
        "new_reaction": new,
        **extra,
    }


def test_a_reaction_with_emoji_and_custom_emoji() -> None:
    event = only(
        run(
            "message_reaction",
            _reaction(
                [
                    {"type": "emoji", "emoji": "👍"},
                    {"type": "custom_emoji", "custom_emoji_id": "5368324170671202286"},
                ]
            ),
        )
    )
    assert isinstance(event, Reaction)
    assert event.message_id == "42"
    assert event.emoji == ("👍", "custom:5368324170671202286")
    assert event.actor.id == "11" and not event.removed
    assert event.target_user is None  # Telegram does not say whose message it was


def test_a_reaction_taken_back_is_removed() -> None:
    event = only(run("message_reaction", _reaction([], old=[{"type": "emoji", "emoji": "👍"}])))
    assert event.removed and event.emoji == ()


def test_an_anonymous_reaction_has_nobody_to_credit() -> None:
    payload = _reaction([{"type": "emoji", "emoji": "🔥"}])
    del payload["user"]
    payload["actor_chat"] = CHAT
    assert run("message_reaction", payload).events == []


def test_a_join_request_carries_the_bio() -> None:
    event = only(
        run(
            "chat_join_request",
            {"chat": CHAT, "from": BORIS, "user_chat_id": 12, "date": T, "bio": "crypto signals"},
        )
    )
    assert isinstance(event, JoinRequest)
    assert event.actor.id == "12" and event.bio == "crypto signals" and event.at == NOW


def test_a_button_press_carries_its_data_and_is_answered() -> None:
    sent = message("appeal #3", sender=STEWARD, message_id=800)
    translation = run(
        "callback_query",
        {"id": "cb-1", "from": OLGA, "message": sent, "chat_instance": "1", "data": "yes:3"},
    )
    event = only(translation)
    assert isinstance(event, ButtonPress)
    assert event.data == "yes:3" and event.message_id == "800"
    assert event.actor.id == "1" and event.chat.id == str(CHAT["id"])
    assert event.at == NOW  # Telegram does not date button presses
    assert translation.callback_query == "cb-1"


def test_a_button_without_data_is_only_answered() -> None:
    translation = run(
        "callback_query",
        {"id": "cb-2", "from": OLGA, "chat_instance": "1", "game_short_name": "g"},
    )
    assert translation.events == [] and translation.callback_query == "cb-2"
