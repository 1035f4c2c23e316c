"""The chunk path of bulk number reading (app/number_batches) answers exactly as `fast_e164`
line by line, or not at all; and file chunks split lines as a file read line by line does."""

from __future__ import annotations

import io
import random
import re

import pytest

from astguard.app import number_batches
from astguard.app.number_batches import chunks, e164_chunk, e164_text, lines_of
from astguard.policy.numbers import NumberError, fast_e164


def _fast(text: str) -> str | None:
    try:
        return fast_e164(text)
    except NumberError:
        return None


def _random_line(rng: random.Random) -> str:
    kind = rng.random()
    nsn = f"{rng.randint(1, 9)}{rng.randrange(10**8):08d}"
    if kind < 0.45:
        return "0" + nsn
    if kind < 0.85:
        return "+33" + nsn
    return rng.choice([
        "0" + nsn[:8],  # too short
        "+330" + nsn,  # the national 0 after +33
        "06 12 34 56 78", "+262 692 12 34 56", "0508411234", "+508411234",
        "0" + nsn + "1", "", "\u0660" + nsn, "+44 20 7946 0000", "0" + nsn + ",x",
        "00" + "33" + nsn, "0" + nsn + " ",
    ])


def _check(lines: list[str]) -> list[str] | None:
    chunk = "".join(line + "\n" for line in lines)
    answer = e164_chunk(chunk)
    if answer is not None:
        assert answer == [_fast(line) for line in lines]
        assert e164_text(chunk) == "".join(a + "\n" for a in answer)
    return answer


@pytest.mark.parametrize("seed", range(40))
def test_a_chunk_is_answered_as_fast_e164_answers_each_line(seed):
    rng = random.Random(seed)
    mixed = [_random_line(rng) for _ in range(rng.choice([1, 3, 20, 200]))]
    _check(mixed)
    # The same lines, only those of one plain shape and allotted: always answered.
    for plain in ("0", "+33"):
        kept = [n for n in mixed if n.startswith(plain) and len(n) == len(plain) + 9
                and n[len(plain):].isascii() and n[len(plain):].isdigit()
                and n[len(plain)] != "0" and _fast(n) is not None
                and not n[len(plain):].startswith("508")]
        if kept:
            assert _check(kept) is not None


def test_sampled_blocks_of_the_whole_plan_answer_as_fast_e164():
    rng = random.Random(7)
    answered = 0
    for block in rng.sample(range(10_000, 100_000), 1500):
        for line in (f"0{block}{rng.randrange(10_000):04d}",
                     f"+33{block}{rng.randrange(10_000):04d}"):
            answer = _check([line])
            answered += answer is not None
            if answer is None:  # only where the chunk path must decline
                assert _fast(line) is None or block // 100 == 508
    assert answered > 1000


def test_overseas_blocks_get_their_own_country_code():
    assert e164_chunk("0262212345\n0612345678\n0692123456\n") == [
        "+262262212345", "+33612345678", "+262692123456"]
    assert e164_chunk("+33692123456\n") == ["+262692123456"]
    assert e164_chunk("0612345678\n+33612345678\n") is None  # two shapes: line by line
    assert e164_text("0612345678\n0756123456\n") == "+33612345678\n+33756123456\n"
    assert e164_text("+33612345678\n") == "+33612345678\n"


@pytest.mark.parametrize("chunk", [
    "0612345678\n0612345678", "0612345678\r\n", "06123456789\n", "+330612345678\n",
    "0508411234\n", "0600000000\n061234567\n", "", "0612345678\n\n"])
def test_other_shapes_are_left_to_the_line_by_line_path(chunk):
    assert e164_text(chunk) is None


@pytest.mark.parametrize("size", [1, 5, 11, 12, 64, 10_000])
def test_chunks_split_lines_as_reading_line_by_line(size):
    text = "0612345678\r\n0612345679\r0612345680\n\n+33612345681\r\n0612345682"
    expected = list(io.StringIO(text, newline=""))
    got = [line for c in chunks(io.StringIO(text, newline=""), size) for line in lines_of(c)]
    assert [g.rstrip("\r\n") for g in got] == [e.rstrip("\r\n") for e in expected]
    assert all(c.endswith(("\n", "\r")) for c in chunks(io.StringIO(text, newline=""), size))


def test_chunk_size_is_read_at_call_time(monkeypatch):
    monkeypatch.setattr(number_batches, "CHUNK_CHARS", 22)
    assert len(list(chunks(io.StringIO("0612345678\n" * 10, newline="")))) == 5


def test_a_consumer_number_built_from_its_block_equals_the_live_parse():
    """List scrubbing parses each block once (app/number_batches.consumer_number): every
    attribute of ConsumerNumber must be the live parser's, for every number of a block."""
    from astguard.app.number_batches import _TEMPLATES, consumer_number
    from astguard.policy.numbers import parse_number
    rng = random.Random(11)
    checked = 0
    for block in rng.sample(range(10_000, 100_000), 1500) + [26221, 69212, 38812, 59027]:
        _TEMPLATES.clear()
        for suffix in ("0000", f"{rng.randrange(10_000):04d}", "9999"):
            for text in (f"0{block}{suffix}", f"+33 {block}{suffix}"):
                try:
                    live = parse_number(text)
                except NumberError:
                    with pytest.raises(NumberError):
                        consumer_number(text)
                    continue
                assert consumer_number(text) == live, text
                checked += 1
    assert checked > 1000


def test_e164_of_answers_as_fast_e164_on_every_shape():
    """Imports read numbers one field at a time through number_batches.e164_of (one lookup
    per block): its answer, or its NumberError, must be fast_e164's, whatever came first."""
    from astguard.app.number_batches import _HEADS, e164_of
    rng = random.Random(13)
    edge = ["0612345678", "+33612345678", "0262212345", "+33262212345", "0692123456",
            "+33692123456", "0508411234", "+33508411234", "+508411234", "0012345678",
            "0612345678 ", " 0612345678", "06 12 34 56 78", "061234567\u0668", "+3306123456",
            "\u0660612345678", "061234567x", "+336123456789", "", "112", "0800123456",
            "+44 20 7946 0000", "0033612345678"]
    numbers = edge + [_random_line(rng) for _ in range(20_000)]
    for block in rng.sample(range(10_000, 100_000), 3000):  # every part of the plan
        numbers += [f"0{block}{rng.randrange(10_000):04d}", f"+33{block}{rng.randrange(10_000):04d}"]
    for order in (numbers, numbers[::-1], rng.sample(numbers, len(numbers))):
        _HEADS.clear()
        for text in order:
            try:
                expected = fast_e164(text)
            except NumberError as exc:
                with pytest.raises(NumberError, match=re.escape(str(exc))):
                    e164_of(text)
                continue
            assert e164_of(text) == expected, text
            # The same block with other last digits, once the block is known.
            for tail in ("0000", "9999", "\u0660\u0661\u0662\u0663", "12 3"):
                other = text[:-4] + tail
                try:
                    want = fast_e164(other)
                except NumberError:
                    with pytest.raises(NumberError):
                        e164_of(other)
                    continue
                assert e164_of(other) == want, other
    assert len(_HEADS) > 1000
