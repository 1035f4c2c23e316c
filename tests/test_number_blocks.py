"""One normaliser (rules-fr R-D4, 2026-11-26): the bulk path used by imports (`fast_e164`, one
answer per 5-digit block, Arcep's unit of assignment) gives exactly the live parser's answer, on
every block of the national plan, written nationally and as +33. Outside tests/policy so that
the mutation runs of the policy stay fast (about 20 s here)."""

from __future__ import annotations

import pytest

from astguard.policy.numbers import NumberError, fast_e164, parse_number

SUFFIXES = ("0000", "4821", "9999")


def _live(text: str) -> str | None:
    try:
        return parse_number(text).e164
    except NumberError:
        return None


def _fast(text: str) -> str | None:
    try:
        return fast_e164(text)
    except NumberError:
        return None


@pytest.mark.parametrize("first", "123456789")
def test_bulk_normaliser_equals_the_live_parser_on_every_block(first):
    parse_number.cache_clear()
    differ = []
    valid = 0
    for rest in range(10_000):
        for suffix in SUFFIXES:
            national = f"0{first}{rest:04d}{suffix}"
            live = _live(national)
            valid += live is not None
            if _fast(national) != live or _fast("+33" + national[1:]) != live:
                differ.append(national)
    assert not differ, differ[:20]
    assert valid > 0


