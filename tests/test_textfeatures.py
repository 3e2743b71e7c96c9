"""What the rules see in text: links, invite links, mentions, emoji, capitals and scripts."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rules.textfeatures import (
    Link,
    caps_ratio,
    count_emoji,
    count_mentions,
    find_links,
    find_mentions,
    merge_links,
    parse_link,
    script_counts,
)


def hosts_and_paths(text: str) -> list[tuple[str, str]]:
    return [(link.host, link.path) for link in find_links(text)]


# -- links ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://Example.com/path?q=1 now", [("example.com", "/path?q=1")]),
        ("http://example.test/x", [("example.test", "/x")]),  # any ending with a scheme
        ("ftp://files.example.org/a", [("files.example.org", "/a")]),
        ("www.example.test", [("example.test", "")]),  # any ending with www.
        ("HTTPS://WWW.EXAMPLE.COM", [("example.com", "")]),
        ("visit EXAMPLE.COM today", [("example.com", "")]),  # bare, known TLD
        ("cheap-stuff.xyz", [("cheap-stuff.xyz", "")]),
        ("sub.domain.co.uk/path", [("sub.domain.co.uk", "/path")]),
        ("example.com?q=1", [("example.com", "?q=1")]),
        ("сайт.рф", [("сайт.рф", "")]),
        ("a.com and b.org", [("a.com", ""), ("b.org", "")]),
    ],
)
def test_links_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert hosts_and_paths(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "no links here",
        "see file.txt",  # unknown ending
        "a.b",
        "3.14 and v1.2.3",
        "www.foo",  # not even a domain
        "end.It was late",  # ambiguous ending without a path
        "config.py",
        "read README.md",
        "notes.py/",  # a lone slash is not a path
        "go.to",
        "t.me",
    ],
)
def test_not_links(text: str) -> None:
    assert find_links(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("go.to/x", [("go.to", "/x")]),
        ("t.me/channel", [("t.me", "/channel")]),
        ("see main.py/raw", [("main.py", "/raw")]),
    ],
)
def test_ambiguous_endings_count_with_a_path(text: str, expected: list[tuple[str, str]]) -> None:
    assert hosts_and_paths(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "mail me at user@example.com",
        "mailto:user@example.com",
        "Contact: first.last@mail.example.org",
    ],
)
def test_emails_are_not_links(text: str) -> None:
    assert find_links(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "t.me/+AbCdEf123",
        "https://t.me/+AbCdEf123",
        "t.me/joinchat/AbCdEf",
        "t.me/addlist/abc",
        "telegram.me/joinchat/abc",
        "discord.gg/abc123",
        "https://discord.gg/abc123",
        "discord.com/invite/abc",
        "https://discordapp.com/invite/abc",
        "chat.whatsapp.com/AbC123",
        "https://chat.whatsapp.com/AbC123",
    ],
)
def test_invite_links(text: str) -> None:
    links = find_links(text)

    assert [link.is_invite for link in links] == [True]


@pytest.mark.parametrize(
    "text",
    [
        "t.me/channel",
        "t.me/+",  # no code
        "t.me/joinchat/",
        "discord.gg/",
        "discord.com/channels/1/2",
        "https://discord.com",
        "whatsapp.com/download",
        "example.com/+abc",
    ],
)
def test_not_invite_links(text: str) -> None:
    assert [link.is_invite for link in find_links(text)] in ([], [False])


def test_parse_reported_link() -> None:
    assert parse_link("https://WWW.Example.com:8080/a?b=1#f") == Link(
        url="https://WWW.Example.com:8080/a?b=1#f", host="example.com", path="/a?b=1"
    )
    assert parse_link("t.me/+abc") == Link(url="t.me/+abc", host="t.me", path="/+abc")
    assert parse_link("http://") is None


def test_merge_links_keeps_each_link_once() -> None:
    merged = merge_links(["https://Example.com/x/"], "see example.com/x and other.org")

    assert [(link.host, link.path) for link in merged] == [
        ("example.com", "/x/"),
        ("other.org", ""),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Look at https://example.com/page.", [("example.com", "/page")]),
        ("(see https://example.com/x)", [("example.com", "/x")]),
        ("try bit.ly/AbC, it is great", [("bit.ly", "/AbC")]),
        ("join t.me/+AbCdEf!", [("t.me", "/+AbCdEf")]),
    ],
)
def test_trailing_punctuation_is_not_part_of_a_link(
    text: str, expected: list[tuple[str, str]]
) -> None:
    assert hosts_and_paths(text) == expected


def test_scheme_link_to_an_ip_address_is_a_link() -> None:
    assert hosts_and_paths("login at http://192.168.1.1/login now") == [("192.168.1.1", "/login")]


def test_punycode_domain_keeps_its_whole_top_level_domain() -> None:
    assert hosts_and_paths("https://xn--e1afmkfd.xn--p1ai/") == [("xn--e1afmkfd.xn--p1ai", "/")]


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a?b=1",
        "https://example.com:8080/x",
        "https://discord.gg:443/abc",
        "https://evil.org./x",
    ],
)
def test_text_links_read_like_reported_links(url: str) -> None:
    reported = parse_link(url)
    assert reported is not None

    assert hosts_and_paths(url) == [(reported.host, reported.path)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The host is what follows the `@`: the classic disguise of a phishing link.
        ("https://discord.com@evil.org/nitro", [("evil.org", "/nitro")]),
        ("http://user:pass@evil.org/x", [("evil.org", "/x")]),
    ],
)
def test_links_with_user_info_name_the_real_host(
    text: str, expected: list[tuple[str, str]]
) -> None:
    assert hosts_and_paths(text) == expected


# -- mentions ------------------------------------------------------------------------------


def test_find_mentions() -> None:
    assert find_mentions("hi @Alice and @bob_1, (@cd)") == ["alice", "bob_1", "cd"]


@pytest.mark.parametrize("text", ["mail a@bc.com", "@a alone", "no at sign", "x@@yz"])
def test_not_mentions(text: str) -> None:
    assert find_mentions(text) == []


def test_count_mentions_counts_distinct_members_from_text_and_platform() -> None:
    assert count_mentions(["@Bob", "carol"], "hi @bob @Dave @dave") == 3
    assert count_mentions([], "") == 0


# -- emoji ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain ascii :)", 0),
        ("hi 😀🎉", 2),
        ("done ✅", 1),
        ("❤️", 1),
        ("🔥🔥🔥🔥🔥", 5),
        ("привет", 0),
    ],
)
def test_count_emoji(text: str, expected: int) -> None:
    assert count_emoji(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("👍🏽", 1),  # skin tone modifier
        ("🇺🇦", 1),  # flag: two regional indicators
        ("👨\u200d👩\u200d👧", 1),  # family: a ZWJ sequence
        ("👍🏽👍🏽👍🏽", 3),
    ],
)
def test_count_emoji_counts_what_people_see_as_one_emoji(text: str, expected: int) -> None:
    assert count_emoji(text) == expected


# -- capitals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HELLO world", (0.5, 10)),
        ("", (0.0, 0)),
        ("123 !!", (0.0, 0)),
        ("ПРИВЕТ мир", (6 / 9, 9)),
        ("ＦＲＥＥ", (1.0, 4)),
        ("SHOUTING 123!!!", (1.0, 8)),
    ],
)
def test_caps_ratio(text: str, expected: tuple[float, int]) -> None:
    assert caps_ratio(text) == expected


def test_caps_ratio_counts_mathematical_capitals() -> None:
    assert caps_ratio("𝐅𝐑𝐄𝐄 𝐌𝐎𝐍𝐄𝐘") == (1.0, 9)


@given(text=st.text(max_size=40))
@example(text="ⒶⒷⒸ a")  # circled capitals are upper case but not letters
def test_caps_ratio_is_a_share(text: str) -> None:
    ratio, letters = caps_ratio(text)

    assert 0.0 <= ratio <= 1.0
    assert letters >= 0
    assert (letters == 0) <= (ratio == 0.0)


# -- scripts -------------------------------------------------------------------------------


def test_script_counts() -> None:
    counts, letters = script_counts("Hello Мир 你好 123")

    assert letters == 10
    assert {name: n for name, n in counts.items() if n} == {"latin": 5, "cyrillic": 3, "han": 2}


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("привет", "cyrillic"),
        ("γειά", "greek"),
        ("שלום", "hebrew"),
        ("こんにちは", "kana"),
        ("안녕하세요", "hangul"),
        ("გამარჯობა", "georgian"),
        ("नमस्ते", "devanagari"),
        ("สวัสดี", "thai"),
        ("مَرْحَبًا", "arabic"),
    ],
)
def test_text_in_one_script_is_all_that_script(text: str, script: str) -> None:
    counts, letters = script_counts(text)

    assert counts[script] == letters


@given(text=st.text(max_size=40))
@example(text="a×b÷c")  # signs inside the Latin-1 block are not letters
@example(text="नमस्ते")  # vowel signs are marks, not letters
def test_script_counts_never_exceed_the_letters(text: str) -> None:
    counts, letters = script_counts(text)

    assert sum(counts.values()) <= letters
