"""The engine's per-event values (`rules.record.Record`): compared, hashed and shown by value."""

from __future__ import annotations

import pytest

from rules import ENGINE_BUILD
from rules.context import Evidence
from rules.terms import TermHit
from rules.textfeatures import Link


def test_records_with_equal_fields_are_equal_and_hash_alike() -> None:
    first = Evidence("keywords", "keyword 'free'", "free")
    second = Evidence("keywords", "keyword 'free'", "free")
    assert first == second
    assert (first != second) is False
    assert hash(first) == hash(second)
    assert len({first, second}) == 1


def test_records_differ_by_any_field_and_never_equal_another_type() -> None:
    hit = TermHit("free", 0, 4)
    assert hit != TermHit("free", 0, 5)
    assert hit != TermHit("fre", 0, 4)
    assert hit != ("free", 0, 4)
    assert Link("a.com/x", "a.com", "/x") != TermHit("a.com", 0, 5)


def test_a_record_shows_its_fields_in_order() -> None:
    assert repr(Link("t.me/+abc", "t.me", "/+abc")) == (
        "Link(url='t.me/+abc', host='t.me', path='/+abc')"
    )
    assert Evidence("regex", "/x/").excerpt == ""


@pytest.mark.skipif(ENGINE_BUILD != "compiled", reason="the pure-Python build relies on mypy")
def test_the_compiled_build_refuses_to_change_a_record() -> None:
    evidence = Evidence("keywords", "keyword 'free'", "free")
    with pytest.raises(AttributeError):
        evidence.excerpt = "changed"  # type: ignore[misc]
    assert evidence.excerpt == "free"
