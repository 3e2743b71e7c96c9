"""Every condition family of the rule language, their nesting, `unless`, modes and admins.

Each test builds a small rule set from YAML and evaluates canonical events at a fixed time.
`tests.helpers.evaluate` also runs the exhaustive path (`explain=True`) and checks that it finds
exactly what the fast, guard-indexed path found.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.actions import ActionKind
from bot.events import User
from bot.facts import NO_CHAT_FACTS, ChatFacts, MemberFacts
from rules import RuleSet, load_rules
from rules.ruleset import plan
from rules.schema import Condition
from tests.helpers import (
    CORPORA,
    PHISHING_LIST,
    T0,
    earlier,
    evaluate,
    evidence_lines,
    ids,
    join,
    load,
    matched,
    member,
    message,
    one_rule,
    shadow_ids,
)

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)


def test_every_condition_family_is_covered_here() -> None:
    """When a family is added to the schema, this file must grow a test for it."""
    families = {name.rstrip("_") for name in Condition.model_fields}

    assert families == {
        "all",
        "any",
        "not",
        "keywords",
        "words",
        "regex",
        "links",
        "mentions",
        "caps",
        "length",
        "emoji",
        "media",
        "forwarded",
        "edited",
        "blocked",
        "flood",
        "repeated",
        "raid",
        "script",
        "member",
    }


# -- keywords --------------------------------------------------------------------------------


def test_keywords_match_anywhere_in_the_text() -> None:
    ruleset = one_rule({"keywords": ["free", "crypto"]})

    assert matched(ruleset, message("Totally FREE!")) is True
    assert matched(ruleset, message("cryptocurrency")) is True
    assert matched(ruleset, message("freedom")) is True
    assert matched(ruleset, message("fee")) is False
    assert matched(ruleset, message("")) is False


def test_keywords_from_named_lists_and_inline_terms() -> None:
    ruleset = one_rule(
        {"keywords": {"terms": ["casino"], "list": "scam", "lists": ["ru"]}},
        lists={"scam": ["free crypto", "dm me for"], "ru": ["заработок"]},
    )

    assert matched(ruleset, message("best casino")) is True
    assert matched(ruleset, message("DM me for details")) is True
    assert matched(ruleset, message("лёгкий заработок")) is True
    assert matched(ruleset, message("crypto news")) is False


def test_keyword_evidence_names_the_keyword_list_and_excerpt() -> None:
    ruleset = one_rule({"keywords": {"list": "scam"}}, lists={"scam": ["free crypto"]})

    verdict = evaluate(ruleset, message("Get ＦＲＥＥ  Crypto now"))

    assert evidence_lines(verdict) == [
        "keywords: keyword 'free crypto' (list scam) («free crypto»)"
    ]


def test_keyword_evidence_quotes_the_message_not_its_latin_skeleton() -> None:
    """The excerpt must be text the admin can find in the message (normalised, not mapped)."""
    ruleset = one_rule({"keywords": ["заработок"]})

    verdict = evaluate(ruleset, message("Легкий зaработок"))  # Latin a

    assert evidence_lines(verdict) == ["keywords: keyword 'заработок' («зaработок»)"]


def test_keywords_in_several_rules_share_one_scan() -> None:
    ruleset = load(
        """
        rules:
          - {id: a, when: {keywords: [apple]}, strike: 1}
          - {id: b, when: {keywords: [banana, apple]}, strike: 1}
          - {id: c, when: {words: [cherry]}, strike: 1}
        """
    )

    assert ids(evaluate(ruleset, message("apple pie"))) == ["a", "b"]
    assert ids(evaluate(ruleset, message("banana and cherry"))) == ["b", "c"]
    assert ids(evaluate(ruleset, message("cherrypie"))) == []


# -- words -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("you ass!", True),
        ("ASS", True),
        ("(ass)", True),
        ("class", False),
        ("assistant", False),
        ("ass_hat", False),
        ("ass2", False),
    ],
)
def test_words_match_whole_english_words(text: str, expected: bool) -> None:
    assert matched(one_rule({"words": ["ass"]}), message(text)) is expected


def test_words_with_several_words() -> None:
    ruleset = one_rule({"words": ["dm me"]})

    assert matched(ruleset, message("pls DM  me now")) is True
    assert matched(ruleset, message("dm mew")) is False
    assert matched(ruleset, message("adm me")) is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你是傻逼吗", True),  # Chinese has no spaces between words
        ("傻逼", True),
        ("abc傻逼def", True),
        ("你好朋友", False),
    ],
)
def test_words_in_chinese_match_without_spaces(text: str, expected: bool) -> None:
    assert matched(one_rule({"words": ["傻逼"]}), message(text)) is expected


def test_words_in_japanese_and_latin_word_beside_chinese() -> None:
    assert matched(one_rule({"words": ["バカ"]}), message("お前はバカだ")) is True
    assert matched(one_rule({"words": ["spam"]}), message("这是spam广告")) is True


def test_words_evidence() -> None:
    verdict = evaluate(one_rule({"words": ["idiot"]}), message("You IDIOT."))

    assert evidence_lines(verdict) == ["words: whole word 'idiot' («idiot»)"]


# -- regex -----------------------------------------------------------------------------------


def test_regex_runs_on_normalized_text() -> None:
    ruleset = one_rule({"regex": r"earn \$?\d+ (per|a) day"})

    assert matched(ruleset, message("EARN $500 PER DAY")) is True
    assert matched(ruleset, message("e\u200barn  500 a day")) is True
    assert matched(ruleset, message("ＥＡＲＮ 500 a day")) is True
    assert matched(ruleset, message("earn money every day")) is False


def test_regex_evidence_shows_the_pattern_and_the_matched_text() -> None:
    verdict = evaluate(one_rule({"regex": r"earn \$?\d+"}), message("Earn $500 today"))

    assert evidence_lines(verdict) == [r"regex: /earn \$?\d+/ («earn $500»)"]


def test_raw_regex_sees_the_text_as_sent() -> None:
    raw = one_rule({"regex": {"pattern": "[A-Z]{5,}", "text": "raw"}})
    normalized = one_rule({"regex": {"pattern": "[A-Z]{5,}"}})

    assert matched(raw, message("HELLO there")) is True
    assert matched(raw, message("hello there")) is False
    assert matched(normalized, message("HELLO there")) is False  # normalised text is lowercase


def test_raw_regex_does_not_see_through_disguises() -> None:
    raw = one_rule({"regex": {"pattern": "free", "text": "raw"}})
    normalized = one_rule({"regex": "free"})

    assert matched(raw, message("ＦＲＥＥ")) is False
    assert matched(normalized, message("ＦＲＥＥ")) is True


def test_raw_regex_evidence() -> None:
    verdict = evaluate(
        one_rule({"regex": {"pattern": "[A-Z]{5,}", "text": "raw"}}), message("oh HELLO")
    )

    assert evidence_lines(verdict) == ["regex: /[A-Z]{5,}/ («HELLO»)"]


# -- links -----------------------------------------------------------------------------------


def test_links_count() -> None:
    ruleset = one_rule({"links": {"count": {"gte": 2}}})

    assert matched(ruleset, message("a.com and https://b.org/x")) is True
    assert matched(ruleset, message("only a.com")) is False
    assert evidence_lines(evaluate(ruleset, message("a.com b.com"))) == ["links: 2 link(s), ≥ 2"]


def test_links_count_zero_matches_messages_without_links() -> None:
    ruleset = one_rule({"links": {"count": {"eq": 0}}})

    assert matched(ruleset, message("no links here")) is True
    assert matched(ruleset, message("")) is True
    assert matched(ruleset, message("see a.com")) is False


def test_links_reported_by_the_platform_count() -> None:
    ruleset = one_rule({"links": {"domains": ["evil.org"]}})

    assert matched(ruleset, message("click here", links=("https://evil.org/x",))) is True
    assert matched(ruleset, message("", links=("https://www.evil.org",))) is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://example.com/x", True),
        ("see example.com", True),
        ("https://www.example.com", True),
        ("https://sub.example.com/login", True),  # subdomain
        ("deep.sub.EXAMPLE.com", True),
        ("https://notexample.com", False),
        ("https://example.com.evil.org", False),
        ("https://example.org", False),
        ("no link", False),
    ],
)
def test_links_domains_match_the_domain_and_its_subdomains(text: str, expected: bool) -> None:
    assert matched(one_rule({"links": {"domains": ["example.com"]}}), message(text)) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bit.ly/abc", True),
        ("https://bit.ly/abc/def", True),
        ("https://bit.ly/abc?ref=1", True),
        ("https://bit.ly/abcd", False),
        ("https://bit.ly/xyz", False),
        ("https://bit.ly", False),
    ],
)
def test_links_domains_with_host_and_path_entries(text: str, expected: bool) -> None:
    assert matched(one_rule({"links": {"domains": ["bit.ly/abc"]}}), message(text)) is expected


def test_links_domains_host_and_path_entry_keeps_the_case_of_the_path() -> None:
    """Short-link codes are case-sensitive: listing `bit.ly/AbC` must catch that very link."""
    ruleset = one_rule({"links": {"domains": ["bit.ly/AbC"]}})

    assert matched(ruleset, message("https://bit.ly/AbC")) is True


@pytest.mark.parametrize(
    "text", ["https://discord.com@evil.org/nitro", "free nitro: http://gift:nitro@evil.org/x"]
)
def test_links_domains_are_not_fooled_by_user_info(text: str) -> None:
    """`https://discord.com@evil.org/` leads to evil.org; a deny list must see that."""
    assert matched(one_rule({"links": {"domains": ["evil.org"]}}), message(text)) is True
    assert matched(one_rule({"links": {"outside": ["discord.com"]}}), message(text)) is True


def test_links_domains_entries_may_be_urls_and_come_from_lists() -> None:
    ruleset = one_rule(
        {"links": {"domains": {"list": "bad", "terms": ["http://spam.net/"]}}},
        lists={"bad": ["https://www.evil.org", "# a comment", ""]},
    )

    assert matched(ruleset, message("evil.org/x")) is True
    assert matched(ruleset, message("go to spam.net")) is True
    assert matched(ruleset, message("good.org")) is False


def test_links_domains_evidence() -> None:
    verdict = evaluate(
        one_rule({"links": {"domains": ["example.com"]}}), message("see https://a.example.com/x")
    )

    assert evidence_lines(verdict) == [
        "links: link to listed domain example.com («https://a.example.com/x»)"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://evil.org", True),
        ("github.com/x and evil.org", True),
        ("https://docs.github.com/x", False),  # subdomain of an allowed domain
        ("https://example.com and github.com", False),
        ("no links at all", False),
        ("https://example.com.evil.org", True),
    ],
)
def test_links_outside_an_allow_list(text: str, expected: bool) -> None:
    ruleset = one_rule({"links": {"outside": ["example.com", "github.com"]}})

    assert matched(ruleset, message(text)) is expected


def test_links_outside_evidence() -> None:
    verdict = evaluate(
        one_rule({"links": {"outside": ["example.com"]}}), message("see https://evil.org/x")
    )

    assert evidence_lines(verdict) == [
        "links: link to evil.org, not an allowed domain («https://evil.org/x»)"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("join t.me/+AbCdEf", True),
        ("https://t.me/joinchat/AbCdEf", True),
        ("discord.gg/abc123", True),
        ("https://discord.com/invite/abc", True),
        ("chat.whatsapp.com/AbC123", True),
        ("t.me/channel", False),
        ("https://discord.com/channels/1/2", False),
        ("no links", False),
    ],
)
def test_links_invite(text: str, expected: bool) -> None:
    assert matched(one_rule({"links": {"invite": True}}), message(text)) is expected


def test_links_invite_false_matches_messages_without_invites() -> None:
    ruleset = one_rule({"links": {"invite": False}})

    assert matched(ruleset, message("no links")) is True
    assert matched(ruleset, message("t.me/channel")) is True
    assert matched(ruleset, message("t.me/+AbCdEf")) is False


def test_links_invite_evidence() -> None:
    verdict = evaluate(one_rule({"links": {"invite": True}}), message("join t.me/+AbCdEf"))

    assert evidence_lines(verdict) == ["links: invite link to t.me («t.me/+AbCdEf»)"]


def test_links_keys_in_one_mapping_must_all_hold() -> None:
    ruleset = one_rule({"links": {"count": {"gte": 2}, "domains": ["evil.org"]}})

    assert matched(ruleset, message("evil.org and a.com")) is True
    assert matched(ruleset, message("evil.org")) is False
    assert matched(ruleset, message("a.com b.com")) is False


@cache
def phishing_rules() -> RuleSet:
    return one_rule(
        {"links": {"domains": {"list": "phishing"}}},
        lists={"phishing": {"file": "lists/discord-phishing-domains.txt"}},
    )


def test_phishing_list_file_holds_21908_domains() -> None:
    lines = PHISHING_LIST.read_text(encoding="utf-8").splitlines()
    entries = [line.strip() for line in lines if line.strip() and not line.startswith("#")]

    assert len(entries) == 21908
    assert "1nitro.club" in entries
    assert "x1nitro.club" not in entries


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("free nitro https://1nitro.club/gift", True),  # listed
        ("1nitro.club", True),
        ("https://gift.1nitro.club/claim", True),  # subdomain of a listed domain
        ("https://dlscord.com/nitro", True),
        ("https://x1nitro.club/gift", False),  # lookalike, not listed
        ("https://nitro.club", False),
        ("https://discord.com/channels/1/2", False),  # the real thing
    ],
)
def test_phishing_list_loaded_from_a_file(text: str, expected: bool) -> None:
    assert matched(phishing_rules(), message(text)) is expected


def test_phishing_list_evidence() -> None:
    verdict = evaluate(phishing_rules(), message("https://gift.1nitro.club/claim"))

    assert evidence_lines(verdict) == [
        "links: link to listed domain 1nitro.club («https://gift.1nitro.club/claim»)"
    ]


# -- mentions, caps, length, emoji --------------------------------------------------------


def test_mentions_count_distinct_members() -> None:
    ruleset = one_rule({"mentions": {"gte": 3}})

    assert matched(ruleset, message("@anna @boris @clara hi")) is True
    assert matched(ruleset, message("@anna @ANNA @anna")) is False
    assert matched(ruleset, message("hi", mentions=("111", "222", "333"))) is True
    assert matched(ruleset, message("mail a@b.com c@d.com e@f.com")) is False
    assert evidence_lines(evaluate(ruleset, message("@aa @bb @cc"))) == [
        "mentions: 3 mentions, ≥ 3"
    ]


def test_caps() -> None:
    ruleset = one_rule({"caps": {"ratio": {"gte": 0.7}, "min_letters": 8}})

    assert matched(ruleset, message("THIS IS SHOUTING")) is True
    assert matched(ruleset, message("OK FINE")) is False  # only 6 letters
    assert matched(ruleset, message("This is normal text")) is False
    assert matched(ruleset, message("BUY NOW 100%!!!")) is False  # 6 letters
    assert evidence_lines(evaluate(ruleset, message("THIS IS SHOUTING"))) == [
        "caps: 100% capitals in 14 letters, ≥ 0.7"
    ]


def test_caps_default_minimum_is_8_letters() -> None:
    ruleset = one_rule({"caps": {"ratio": {"gte": 0.5}}})

    assert matched(ruleset, message("ABCDEFG")) is False
    assert matched(ruleset, message("ABCDEFGH")) is True


def test_length() -> None:
    ruleset = one_rule({"length": {"gt": 10}})

    assert matched(ruleset, message("x" * 11)) is True
    assert matched(ruleset, message("x" * 10)) is False
    assert evidence_lines(evaluate(ruleset, message("x" * 12))) == ["length: 12 characters, > 10"]


def test_length_between_bounds() -> None:
    ruleset = one_rule({"length": {"gte": 2, "lt": 4}})

    assert [matched(ruleset, message("x" * n)) for n in range(6)] == [
        False,
        False,
        True,
        True,
        False,
        False,
    ]


def test_emoji() -> None:
    ruleset = one_rule({"emoji": {"gte": 3}})

    assert matched(ruleset, message("🔥🔥🔥 sale")) is True
    assert matched(ruleset, message("nice 👍")) is False
    assert evidence_lines(evaluate(ruleset, message("😀😀😀😀"))) == ["emoji: 4 emoji, ≥ 3"]


def test_emoji_with_skin_tones_are_counted_once_each() -> None:
    ruleset = one_rule({"emoji": {"gte": 3}})

    assert matched(ruleset, message("👍🏽👍🏽")) is False


# -- media, forwarded, edited -----------------------------------------------------------------


def test_media() -> None:
    ruleset = one_rule({"media": ["photo", "video"]})

    assert matched(ruleset, message("", media=["photo"])) is True
    assert matched(ruleset, message("look", media=["video", "document"])) is True
    assert matched(ruleset, message("", media=["sticker"])) is False
    assert matched(ruleset, message("just text")) is False
    assert evidence_lines(evaluate(ruleset, message("", media=["video", "photo"]))) == [
        "media: photo, video"
    ]


def test_forwarded() -> None:
    forwarded = one_rule({"forwarded": True})
    not_forwarded = one_rule({"forwarded": False})

    assert matched(forwarded, message("hi", forwarded=True)) is True
    assert matched(forwarded, message("hi")) is False
    assert matched(not_forwarded, message("hi")) is True
    assert matched(not_forwarded, message("hi", forwarded=True)) is False
    assert evidence_lines(evaluate(forwarded, message("x", forwarded=True))) == [
        "forwarded: forwarded message"
    ]


def test_edited() -> None:
    edited = one_rule({"edited": True})
    not_edited = one_rule({"edited": False})

    assert matched(edited, message("hi", edited=True)) is True
    assert matched(edited, message("hi")) is False
    assert matched(not_edited, message("hi")) is True
    assert matched(not_edited, message("hi", edited=True)) is False


def test_blocked() -> None:
    blocked = one_rule({"blocked": True})
    not_blocked = one_rule({"blocked": False})
    automod = "Discord AutoMod rule 7, matched “pills”"

    assert matched(blocked, message("pills", blocked_by=automod)) is True
    assert matched(blocked, message("pills")) is False
    assert matched(not_blocked, message("pills")) is True
    assert matched(not_blocked, message("pills", blocked_by=automod)) is False
    assert evidence_lines(evaluate(blocked, message("x", blocked_by=automod))) == [
        f"blocked: blocked by {automod}"
    ]


def test_a_blocked_message_is_neither_deleted_nor_replied_to() -> None:
    ruleset = load(
        """
        rules:
          - id: filtered
            when: {blocked: true}
            delete: true
            reply: "{user}, not that."
            strike: 1
        """
    )
    event = message("pills", blocked_by="Discord AutoMod rule 7")
    verdict = evaluate(ruleset, event)
    actions = plan(verdict, None, T0)

    assert [a.kind for a in actions] == [ActionKind.SEND]
    assert actions[0].reply_to == ""  # type: ignore[attr-defined]


def test_edits_are_messages_too() -> None:
    ruleset = one_rule({"keywords": ["free"]})

    assert matched(ruleset, message("now free", edited=True)) is True


# -- flood -------------------------------------------------------------------------------------

FLOOD = {"flood": {"messages": 3, "within": "10s"}}


def test_flood_counts_this_message_and_recent_ones() -> None:
    ruleset = one_rule(FLOOD)
    two_recent = [earlier("a", ago=2 * SECOND), earlier("b", ago=SECOND)]

    verdict = evaluate(ruleset, message("c"), member(recent=two_recent))

    assert ids(verdict) == ["r"]
    assert evidence_lines(verdict) == ["flood: 3 messages within 10s (limit 3)"]


def test_flood_ignores_messages_outside_the_window() -> None:
    ruleset = one_rule(FLOOD)
    recent = [earlier("a", ago=30 * SECOND), earlier("b", ago=SECOND)]

    assert matched(ruleset, message("c"), member(recent=recent)) is False


def test_flood_window_edge_is_inclusive() -> None:
    ruleset = one_rule(FLOOD)
    recent = [earlier("a", ago=10 * SECOND), earlier("b", ago=SECOND)]

    assert matched(ruleset, message("c"), member(recent=recent)) is True


def test_flood_ignores_entries_after_now() -> None:
    ruleset = one_rule(FLOOD)
    recent = [earlier("a", ago=-SECOND), earlier("b", ago=SECOND)]

    assert matched(ruleset, message("c"), member(recent=recent)) is False


def test_flood_counts_an_album_once() -> None:
    ruleset = one_rule(FLOOD)
    album = [earlier("", ago=SECOND, media_group="album-1") for _ in range(5)]

    # The last photo of an album: the album so far is the same one message.
    last_photo = message("", media=["photo"], media_group="album-1")
    assert matched(ruleset, last_photo, member(recent=album)) is False
    # A message after an album: the album counts as one, this message as another.
    assert matched(ruleset, message("and text"), member(recent=album)) is False
    # Two albums and a message: three.
    second = [earlier("", ago=SECOND, media_group="album-2") for _ in range(3)]
    assert matched(ruleset, message("text"), member(recent=album + second)) is True


def test_flood_does_not_count_edits() -> None:
    ruleset = one_rule(FLOOD)
    recent = [earlier(str(i), ago=SECOND) for i in range(5)]

    assert matched(ruleset, message("fixed a typo", edited=True), member(recent=recent)) is False


# -- repeated ------------------------------------------------------------------------------

REPEATED = {"repeated": {"count": 3, "within": "10m"}}


def test_repeated_same_text_after_normalisation() -> None:
    ruleset = one_rule(REPEATED)
    recent = [earlier("BUY NOW", ago=2 * MINUTE), earlier("buy  now", ago=MINUTE)]

    verdict = evaluate(ruleset, message("Buy now"), member(recent=recent))

    assert ids(verdict) == ["r"]
    assert evidence_lines(verdict) == [
        "repeated: same text 3 times within 10m (limit 3) («Buy now»)"
    ]


def test_repeated_needs_the_same_text() -> None:
    ruleset = one_rule(REPEATED)
    recent = [earlier("buy now", ago=2 * MINUTE), earlier("sell now", ago=MINUTE)]

    assert matched(ruleset, message("buy now"), member(recent=recent)) is False


def test_repeated_ignores_old_messages_edits_and_empty_text() -> None:
    ruleset = one_rule(REPEATED)
    old = [earlier("hi", ago=20 * MINUTE), earlier("hi", ago=MINUTE)]
    fresh = [earlier("hi", ago=2 * MINUTE), earlier("hi", ago=MINUTE)]
    empty = [earlier("", ago=2 * MINUTE), earlier("", ago=MINUTE)]

    assert matched(ruleset, message("hi"), member(recent=old)) is False
    assert matched(ruleset, message("hi", edited=True), member(recent=fresh)) is False
    assert matched(ruleset, message("", media=["photo"]), member(recent=empty)) is False


# -- raid ----------------------------------------------------------------------------------

RAID = load(
    """
    rules:
      - id: raid
        on: join
        when: {raid: {joins: 3, within: 1m}}
        action: kick
    """
)


def test_raid_counts_this_join_and_recent_joins() -> None:
    chat = ChatFacts(recent_joins=(T0 - 20 * SECOND, T0 - 10 * SECOND))

    verdict = evaluate(RAID, join(), chat=chat)

    assert ids(verdict) == ["raid"]
    assert evidence_lines(verdict) == ["raid: 3 joins within 1m (limit 3)"]


def test_raid_ignores_old_and_future_joins() -> None:
    chat = ChatFacts(recent_joins=(T0 - 5 * MINUTE, T0 - 10 * SECOND, T0 + 10 * SECOND))

    assert matched(RAID, join(), chat=chat) is False


def test_raid_rule_on_join_does_not_apply_to_messages() -> None:
    chat = ChatFacts(recent_joins=(T0 - 20 * SECOND, T0 - 10 * SECOND))

    assert matched(RAID, message("hello"), chat=chat) is False


def test_raid_condition_on_a_message_rule_never_matches() -> None:
    ruleset = one_rule({"raid": {"joins": 2, "within": "1m"}})
    chat = ChatFacts(recent_joins=(T0 - 10 * SECOND,))

    assert matched(ruleset, message("hello"), chat=chat) is False


# -- script --------------------------------------------------------------------------------


def test_script_share() -> None:
    ruleset = one_rule({"script": {"any": ["cyrillic"], "share": {"gte": 0.5}, "min_letters": 4}})

    assert matched(ruleset, message("привет мир")) is True
    assert matched(ruleset, message("hi привет")) is True  # 6 of 8 letters
    assert matched(ruleset, message("hello world мир")) is False  # 3 of 13
    assert matched(ruleset, message("мир")) is False  # fewer than 4 letters
    assert matched(ruleset, message("")) is False
    assert evidence_lines(evaluate(ruleset, message("привет мир"))) == [
        "script: 100% of 9 letters in cyrillic"
    ]


def test_script_any_of_several_and_default_share() -> None:
    ruleset = one_rule({"script": {"any": ["han", "kana"]}})

    assert matched(ruleset, message("こんにちは世界")) is True
    assert matched(ruleset, message("hello 世界")) is False


def test_script_not_latin() -> None:
    ruleset = one_rule({"not": {"script": {"any": ["latin"], "share": {"gte": 0.5}}}})

    assert matched(ruleset, message("مرحبا بالجميع")) is True
    assert matched(ruleset, message("hello everyone")) is False


@pytest.mark.parametrize(("text", "script"), [("नमस्ते दुनिया", "devanagari"), ("สวัสดีครับ", "thai")])
def test_script_share_of_text_all_in_one_script_is_one(text: str, script: str) -> None:
    ruleset = one_rule({"script": {"any": [script], "share": {"eq": 1}}})

    assert matched(ruleset, message(text)) is True


# -- member facts ------------------------------------------------------------------------------


def test_member_level_messages_strikes() -> None:
    level = one_rule({"member": {"level": {"lt": 2}}})
    messages = one_rule({"member": {"messages": {"lt": 5}}})
    strikes = one_rule({"member": {"strikes": {"gte": 2}}})

    assert matched(level, message("x"), member(level=1)) is True
    assert matched(level, message("x"), member(level=2)) is False
    assert matched(messages, message("x"), member(messages=4)) is True
    assert matched(messages, message("x"), member(messages=5)) is False
    assert matched(strikes, message("x"), member(strikes=2)) is True
    assert matched(strikes, message("x"), member(strikes=1)) is False


def test_member_days_since_join() -> None:
    newcomer = one_rule({"member": {"days_since_join": {"lt": 1}}})
    veteran = one_rule({"member": {"days_since_join": {"gte": 30}}})

    assert matched(newcomer, message("x"), member(joined_days_ago=0.5)) is True
    assert matched(newcomer, message("x"), member(joined_days_ago=2)) is False
    assert matched(veteran, message("x"), member(joined_days_ago=31)) is True
    assert matched(veteran, message("x"), member(joined_days_ago=29)) is False


@pytest.mark.parametrize("compare", [{"lt": 1}, {"gte": 0}, {"gt": 1000}, {"eq": 0}])
def test_member_unknown_join_date_never_matches(compare: dict[str, float]) -> None:
    ruleset = one_rule({"member": {"days_since_join": compare}})

    assert matched(ruleset, message("x"), member(joined_days_ago=None)) is False


def test_member_evidence() -> None:
    ruleset = one_rule({"member": {"days_since_join": {"lt": 1}, "level": {"lt": 2}}})

    verdict = evaluate(ruleset, message("x"), member(joined_days_ago=0.5))

    assert evidence_lines(verdict) == [
        "member: level 0, < 2",
        "member: joined 0.5 days ago, < 1",
    ]


def test_member_admin_fact() -> None:
    is_admin = one_rule({"member": {"admin": True}}, exempt_admins=False)
    not_admin = one_rule({"member": {"admin": False}})

    assert matched(is_admin, message("x"), member(admin=True)) is True
    assert matched(is_admin, message("x"), member(admin=False)) is False
    assert matched(not_admin, message("x"), member(admin=False)) is True


def test_member_facts_on_join_events() -> None:
    ruleset = load(
        """
        rules:
          - id: known-spammer
            on: [join]
            when: {member: {strikes: {gte: 5}}}
            action: ban
        """
    )

    assert matched(ruleset, join(), member(strikes=5)) is True
    assert matched(ruleset, join(), member(strikes=0)) is False


# -- nesting -----------------------------------------------------------------------------------

NESTED = {
    "any": [
        {"links": {"invite": True}},
        {"all": [{"links": {"count": {"gte": 1}}}, {"member": {"days_since_join": {"lt": 1}}}]},
        {"not": {"script": {"any": ["latin", "cyrillic"], "min_letters": 1}}},
    ]
}


@pytest.mark.parametrize(
    ("text", "joined_days_ago", "expected"),
    [
        ("join t.me/+AbCdEf", 100, True),  # first branch
        ("see example.com", 0.5, True),  # second branch
        ("see example.com", 100, False),
        ("see example.com", None, False),  # unknown join date
        ("hello there", 0.5, False),
        ("你好", 100, True),  # third branch: neither Latin nor Cyrillic
        ("привет", 100, False),
    ],
)
def test_any_all_not_nest(text: str, joined_days_ago: float | None, expected: bool) -> None:
    ruleset = one_rule(NESTED)

    assert matched(ruleset, message(text), member(joined_days_ago=joined_days_ago)) is expected


def test_deep_nesting() -> None:
    ruleset = one_rule(
        {"not": {"any": [{"not": {"all": [{"keywords": ["a1"]}, {"keywords": ["b2"]}]}}]}}
    )

    assert matched(ruleset, message("a1 b2")) is True
    assert matched(ruleset, message("a1")) is False
    assert matched(ruleset, message("")) is False


def test_when_as_a_list_means_all() -> None:
    ruleset = one_rule([{"keywords": ["crypto"]}, {"links": {"count": {"gte": 1}}}])

    assert matched(ruleset, message("crypto at a.com")) is True
    assert matched(ruleset, message("crypto")) is False
    assert matched(ruleset, message("a.com")) is False


def test_keys_in_one_condition_mapping_must_all_hold() -> None:
    ruleset = one_rule({"keywords": ["crypto"], "member": {"messages": {"lt": 5}}})

    assert matched(ruleset, message("crypto"), member(messages=1)) is True
    assert matched(ruleset, message("crypto"), member(messages=50)) is False


def test_all_collects_the_evidence_of_every_part() -> None:
    ruleset = one_rule({"all": [{"keywords": ["crypto"]}, {"length": {"gte": 5}}]})

    verdict = evaluate(ruleset, message("crypto!"))

    assert evidence_lines(verdict) == [
        "length: 7 characters, ≥ 5",
        "keywords: keyword 'crypto' («crypto»)",
    ]


def test_not_evidence() -> None:
    verdict = evaluate(one_rule({"not": {"keywords": ["hello"]}}), message("bye"))

    assert evidence_lines(verdict) == ["not: not keywords ['hello']"]


# -- unless ------------------------------------------------------------------------------------

UNLESS = load(
    """
    rules:
      - id: links-from-newcomers
        when: {links: {count: {gte: 1}}}
        unless:
          any:
            - member: {level: {gte: 3}}
            - all:
                - links: {count: {eq: 1}}
                - links: {domains: [example.com]}
        strike: 1
    """
)


@pytest.mark.parametrize(
    ("text", "level", "expected"),
    [
        ("see evil.org", 0, ["links-from-newcomers"]),
        ("see evil.org", 3, []),  # excused: trusted member
        ("see example.com", 0, []),  # excused: the one link is to example.com
        ("see example.com and evil.org", 0, ["links-from-newcomers"]),
    ],
)
def test_unless_excuses_a_match(text: str, level: int, expected: list[str]) -> None:
    assert ids(evaluate(UNLESS, message(text), member(level=level))) == expected


def test_unless_is_explained() -> None:
    verdict = UNLESS.evaluate(message("see evil.org"), member(level=4), explain=True)

    assert [(s.rule.id, s.reason) for s in verdict.skipped] == [
        ("links-from-newcomers", "matched, but `unless` holds: member: level 4, ≥ 3")
    ]


# -- on: event kinds -----------------------------------------------------------------------


def test_rules_apply_only_to_their_event_kinds() -> None:
    ruleset = load(
        """
        rules:
          - {id: on-message, when: {member: {strikes: {gte: 0}}}, strike: 1}
          - {id: on-join, on: join, when: {member: {strikes: {gte: 0}}}, strike: 1}
          - {id: on-both, on: [message, join], when: {member: {strikes: {gte: 0}}}, strike: 1}
        """
    )

    assert ids(evaluate(ruleset, message("x"))) == ["on-message", "on-both"]
    assert ids(evaluate(ruleset, join())) == ["on-join", "on-both"]


# -- modes -------------------------------------------------------------------------------------

MODES = """
    rules:
      - {id: enforced, when: {keywords: [spam]}, strike: 1}
      - {id: shadowed, mode: shadow, when: {keywords: [spam]}, strike: 1}
      - {id: switched-off, mode: off, when: {keywords: [spam]}, strike: 1}
      - {id: explicit, mode: enforce, when: {keywords: [spam]}, strike: 1}
"""


def test_modes_enforce_shadow_off() -> None:
    ruleset = load(MODES)

    verdict = evaluate(ruleset, message("spam"))

    assert ids(verdict) == ["enforced", "explicit"]
    assert shadow_ids(verdict) == ["shadowed"]
    assert verdict.strike == 1


def test_off_rules_are_not_even_explained() -> None:
    verdict = load(MODES).evaluate(message("spam"), member(), explain=True)

    all_ids = [m.rule.id for m in (*verdict.matches, *verdict.shadow)]
    assert "switched-off" not in all_ids
    assert [s.rule.id for s in verdict.skipped] == []


def test_shadow_matches_do_not_act() -> None:
    ruleset = load(
        """
        rules:
          - {id: quiet, mode: shadow, when: {keywords: [spam]}, strike: 3, delete: true}
        """
    )

    verdict = evaluate(ruleset, message("spam"))

    assert shadow_ids(verdict) == ["quiet"]
    assert verdict.matches == ()
    assert verdict.strike == 0
    assert verdict.delete is False
    assert verdict.clean is True


def test_default_mode_comes_from_defaults() -> None:
    ruleset = load(
        """
        defaults: {mode: shadow}
        rules:
          - {id: a, when: {keywords: [spam]}, strike: 1}
          - {id: b, mode: enforce, when: {keywords: [spam]}, strike: 1}
        """
    )

    verdict = evaluate(ruleset, message("spam"))

    assert ids(verdict) == ["b"]
    assert shadow_ids(verdict) == ["a"]


# -- admins ------------------------------------------------------------------------------------

ADMINS = load(
    """
    rules:
      - {id: exempt, when: {keywords: [spam]}, strike: 2, delete: true}
      - {id: not-exempt, exempt_admins: false, when: {keywords: [spam]}, strike: 3, delete: true}
    """
)


def test_admins_are_exempt_by_default() -> None:
    verdict = evaluate(ADMINS, message("spam"), member(admin=True))

    assert ids(verdict) == ["not-exempt"]
    assert verdict.admin is True


def test_exempt_admins_false_still_deletes_but_never_strikes() -> None:
    verdict = evaluate(ADMINS, message("spam"), member(admin=True))

    assert verdict.delete is True
    assert verdict.strike == 0


def test_members_are_not_exempt() -> None:
    verdict = evaluate(ADMINS, message("spam"), member(admin=False))

    assert ids(verdict) == ["exempt", "not-exempt"]
    assert verdict.strike == 3


def test_admin_exemption_is_explained() -> None:
    verdict = ADMINS.evaluate(message("spam"), member(admin=True), explain=True)

    assert [(s.rule.id, s.reason) for s in verdict.skipped] == [
        ("exempt", "matched, but admins are exempt from this rule")
    ]


def test_admin_exemption_is_explained_only_for_rules_that_matched() -> None:
    verdict = ADMINS.evaluate(message("hello"), member(admin=True), explain=True)

    assert verdict.skipped == ()


def test_defaults_exempt_admins_false() -> None:
    ruleset = load(
        """
        defaults: {exempt_admins: false}
        rules:
          - {id: a, when: {keywords: [spam]}, delete: true}
        """
    )

    verdict = evaluate(ruleset, message("spam"), member(admin=True))

    assert ids(verdict) == ["a"]
    assert verdict.strike == 0


# -- other events --------------------------------------------------------------------------


def test_text_conditions_never_match_events_without_text() -> None:
    ruleset = load(
        """
        rules:
          - id: j
            on: join
            when:
              any:
                - keywords: [x]
                - links: {count: {gte: 1}}
                - mentions: {gte: 1}
                - media: [photo]
                - forwarded: true
                - edited: true
                - flood: {messages: 2, within: 1m}
                - repeated: {count: 2, within: 1m}
                - script: {any: [latin]}
            strike: 1
        """
    )
    recent = [earlier("", ago=SECOND)]

    assert matched(ruleset, join(actor=User(id="x", name="x.com")), member(recent=recent)) is False


def test_evaluation_uses_the_given_time() -> None:
    ruleset = one_rule({"member": {"days_since_join": {"lt": 1}}})
    facts = member(joined_days_ago=0.5)

    assert matched(ruleset, message("x"), facts, now=T0) is True
    assert matched(ruleset, message("x"), facts, now=T0 + timedelta(days=1)) is False


# -- the guard index never hides a match ---------------------------------------------------------
#
# `RuleSet.evaluate` only evaluates rules whose guard fired (a keyword set was hit, the message
# has links, …); `explain=True` evaluates every rule. For any event both must find the same.

REFERENCE = load(
    """
    lists:
      scam: [earn money, dm me, free crypto, "заработок", "日赚", airdrop, casino, win]
      allowed: [example.com, github.com, t.me/steward]
      bad: [bit.ly/abc, evil.org, tinyurl.com]
    rules:
      - {id: kw, when: {keywords: {list: scam}}, strike: 2, delete: true}
      - {id: kw-shadow, mode: shadow, when: {keywords: [free, prize, call]}, strike: 1}
      - {id: kw-off, mode: off, when: {keywords: [free]}, strike: 1}
      - {id: words, when: {words: [ass, idiot, "傻逼", "лох", txt]}, strike: 1}
      - {id: rx, when: {regex: "\\\\d{5,}"}, strike: 1}
      - {id: rx-raw, when: {regex: {pattern: "[A-Z]{4,}", text: raw}}, strike: 1}
      - {id: link-any, when: {links: {count: {gte: 1}}}, strike: 1}
      - {id: link-none, when: {links: {count: {eq: 0}}}, notify_admins: true}
      - {id: link-bad, when: {links: {domains: {list: bad}}}, strike: 3}
      - {id: link-outside, when: {links: {outside: {list: allowed}}}, strike: 1}
      - {id: invite, when: {links: {invite: true}}, strike: 2}
      - {id: no-invite, when: {links: {invite: false}}, delete: true}
      - {id: mentions, when: {mentions: {gte: 2}}, strike: 1}
      - {id: few-mentions, when: {mentions: {lt: 1}}, delete: true}
      - {id: caps, when: {caps: {ratio: {gte: 0.6}, min_letters: 4}}, strike: 1}
      - {id: long, when: {length: {gt: 120}}, strike: 1}
      - {id: emoji, when: {emoji: {gte: 2}}, strike: 1}
      - {id: media, when: {media: [photo, video, sticker]}, strike: 1}
      - {id: fwd, when: {forwarded: true}, strike: 1}
      - {id: not-fwd, when: {forwarded: false, keywords: [win]}, strike: 1}
      - {id: edited, when: {edited: true}, strike: 1}
      - {id: flood, when: {flood: {messages: 3, within: 10s}}, strike: 1}
      - {id: repeated, when: {repeated: {count: 2, within: 1m}}, strike: 1}
      - {id: script, when: {script: {any: [cyrillic, han], share: {gte: 0.3}}}, strike: 1}
      - {id: member, when: {member: {days_since_join: {lt: 1}, messages: {lt: 3}}}, strike: 1}
      - {id: admin, exempt_admins: false, when: {member: {admin: true}}, delete: true}
      - id: nested
        when:
          any:
            - {links: {invite: true}}
            - all: [{links: {count: {gte: 1}}}, {member: {level: {lt: 1}}}]
            - {not: {script: {any: [latin, cyrillic], min_letters: 1}}}
        unless: {member: {level: {gte: 5}}}
        strike: 1
      - id: any-guarded
        when: {any: [{keywords: [prize]}, {media: [photo]}, {regex: "^hi"}]}
        strike: 1
      - id: all-guarded
        when: {all: [{keywords: [money]}, {not: {links: {count: {gte: 1}}}}]}
        strike: 1
      - id: not-keyword
        when: {not: {keywords: [hello, the]}}
        unless: {length: {lt: 3}}
        reply: "{user}, say hello"
      - {id: raid, on: join, when: {raid: {joins: 3, within: 1m}}, action: kick}
      - {id: join-new, on: [join, message], when: {member: {strikes: {gte: 1}}}, strike: 1}
    """
)

LIBRARY_FILES = sorted(
    p for p in (PHISHING_LIST.parent.parent).glob("*.yaml") if p.name != "ladder.yaml"
)

TEXT_PIECES = [
    "free",
    "FREE",
    "ｆｒｅｅ",
    "fr\u200bee",
    "frее",
    "earn money",
    "DM me",
    "заработок",
    "зaработок",
    "日赚",
    "傻逼",
    "idiot",
    "class",
    "hello",
    "the",
    "prize",
    "money",
    "win",
    "hi",
    "12345",
    "WINNER",
    "example.com",
    "https://github.com/x",
    "t.me/steward",
    "t.me/+AbCdEf",
    "discord.gg/abc",
    "bit.ly/abc",
    "bit.ly/abcd",
    "evil.org",
    "sub.evil.org/x",
    "www.foo.xyz",
    "config.py",
    "@anna",
    "@boris",
    "a@b.com",
    "🔥",
    "👍🏽",
    "привет",
    "你好",
    "مرحبا",
    " ",
    " ",
    "!",
    ".",
    "\n",
]


REPORTED_LINKS = ["https://evil.org/x", "example.com", "https://t.me/+AbCdEf"]


@st.composite
def events(draw: st.DrawFn) -> tuple[Any, MemberFacts, ChatFacts]:
    pieces = draw(st.lists(st.sampled_from(TEXT_PIECES), max_size=12))
    noise = draw(st.text(max_size=8))
    text = "".join(pieces) + noise if draw(st.booleans()) else " ".join(pieces) + noise
    recent_texts = draw(st.lists(st.sampled_from(["", "free", "hi", text]), max_size=4))
    recent = [
        earlier(
            t,
            ago=timedelta(seconds=draw(st.integers(min_value=-5, max_value=90))),
            media_group=draw(st.sampled_from(["", "", "album-1"])),
        )
        for t in recent_texts
    ]
    joined = draw(st.one_of(st.none(), st.floats(min_value=0, max_value=60)))
    facts = member(
        level=draw(st.integers(min_value=0, max_value=6)),
        joined_days_ago=joined,
        messages=draw(st.integers(min_value=0, max_value=10)),
        strikes=draw(st.integers(min_value=0, max_value=3)),
        admin=draw(st.booleans()),
        recent=recent,
    )
    chat = ChatFacts(
        recent_joins=tuple(
            T0 - timedelta(seconds=s)
            for s in draw(st.lists(st.integers(min_value=0, max_value=120), max_size=4))
        )
    )
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return join(), facts, chat
    event = message(
        text,
        media=draw(st.sets(st.sampled_from(["photo", "video", "sticker", "voice"]), max_size=2)),
        forwarded=draw(st.booleans()),
        edited=draw(st.booleans()),
        links=tuple(draw(st.lists(st.sampled_from(REPORTED_LINKS), max_size=1))),
        mentions=tuple(draw(st.lists(st.sampled_from(["111", "222"]), max_size=2))),
        media_group=draw(st.sampled_from(["", "album-1"])),
    )
    return event, facts, chat


def assert_fast_path_agrees(
    ruleset: RuleSet, event: Any, facts: MemberFacts, chat: ChatFacts = NO_CHAT_FACTS
) -> None:
    fast = ruleset.evaluate(event, facts, chat, T0)
    full = ruleset.evaluate(event, facts, chat, T0, explain=True)

    assert [m.rule.id for m in fast.matches] == [m.rule.id for m in full.matches]
    assert [m.rule.id for m in fast.shadow] == [m.rule.id for m in full.shadow]
    assert fast.matches == full.matches
    assert fast.shadow == full.shadow


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=events())
def test_fast_path_finds_what_the_exhaustive_path_finds(
    case: tuple[Any, MemberFacts, ChatFacts],
) -> None:
    event, facts, chat = case

    assert_fast_path_agrees(REFERENCE, event, facts, chat)


def corpus_messages() -> list[str]:
    texts = []
    for line in (CORPORA / "SMSSpamCollection.tsv").read_text(encoding="utf-8").splitlines():
        _label, _, text = line.partition("\t")
        texts.append(text)
    for name in ("spam-samples.txt", "ham-samples.txt"):
        lines = (CORPORA / name).read_text(encoding="utf-8").splitlines()
        texts.extend(line for line in lines if line.strip())
    return texts


CORPUS_MEMBERS = {
    "veteran": member(level=2, messages=500),
    "newcomer": member(joined_days_ago=0.1, messages=0),
    "admin": member(admin=True),
}


def test_corpora_are_there() -> None:
    assert len(corpus_messages()) == 5574 + 182 + 438


@pytest.mark.parametrize("who", sorted(CORPUS_MEMBERS))
def test_fast_path_agrees_on_the_corpora_with_the_reference_rules(who: str) -> None:
    facts = CORPUS_MEMBERS[who]
    for text in corpus_messages():
        assert_fast_path_agrees(REFERENCE, message(text), facts)


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=lambda p: p.name)
def test_fast_path_agrees_on_the_corpora_with_the_stock_rules(path: Path) -> None:
    ruleset = load_rules([path]).ruleset
    for text in corpus_messages():
        for facts in CORPUS_MEMBERS.values():
            assert_fast_path_agrees(ruleset, message(text), facts)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=events())
def test_fast_path_agrees_with_the_stock_rules_on_random_events(
    case: tuple[Any, MemberFacts, ChatFacts],
) -> None:
    event, facts, chat = case
    for ruleset in stock_rulesets():
        assert_fast_path_agrees(ruleset, event, facts, chat)


@cache
def stock_rulesets() -> tuple[RuleSet, ...]:
    return tuple(load_rules([path]).ruleset for path in LIBRARY_FILES)
