"""Numbers by the hundred thousand: a chunk of file lines turned into E.164 in one pass.

Imports and list scrubbing read files of millions of numbers. Line by line, `fast_e164` costs a
few microseconds a number (separators, shape, plan lookup, an f-string); most files hold one
plain shape throughout (`0612345678` or `+33612345678`). For such a chunk the whole chunk's
shape is checked by one regular expression and each number's E.164 is its block's prefix plus
its digits: the block's answer is `fast_e164`'s own (policy.numbers' per-block resolution,
itself checked equal to the live parser on every block by tests/test_number_blocks.py).

Whenever a line is in another shape, or a block is not allotted, or a block's canonical form
drops digits (Saint-Pierre-et-Miquelon), the chunk is not answered here (None) and the caller
takes the line-by-line path, which names every bad line. tests/test_number_batches.py checks
the answers equal to `fast_e164` line by line.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterator
from typing import TextIO

from astguard.policy.numbers import (  # the per-block resolution fast_e164 uses
    ConsumerNumber,
    _block,
    fast_e164,
    parse_number,
)

# The two plain shapes, a line each: a national number, or +33 and its 9 digits (no national
# 0). [0-9], not \d: other scripts' digits take the line-by-line path.
_NATIONAL_LINE = re.compile(r"0([1-9][0-9]{4})[0-9]{4}\n")
_PLUS33_LINE = re.compile(r"\+33([1-9][0-9]{4})[0-9]{4}\n")

# 5-digit block (ZABPQ) -> "+<country code>" for allotted blocks kept whole in E.164.
_PREFIX: dict[str, str] = {}
_NO_PREFIX: set[str] = set()

CHUNK_CHARS = 1 << 20  # about 90,000 lines of a one-number-per-line file


def _prefixes(blocks: set[str]) -> set[str] | None:
    """The distinct E.164 prefixes of these blocks; None if one of them cannot be answered
    here (not allotted, or digits dropped in E.164)."""
    found = set()
    for block in blocks:
        prefix = _PREFIX.get(block)
        if prefix is None:
            if block in _NO_PREFIX:
                return None
            resolution = _block(block)
            if resolution is None or resolution.strip:
                _NO_PREFIX.add(block)
                return None
            prefix = _PREFIX[block] = f"+{resolution.country_code}"
        found.add(prefix)
    return found


def e164_text(chunk: str) -> str | None:
    """`chunk` (lines each ending with "\\n") with every line replaced by its E.164 form, as
    `fast_e164` gives it line by line; or None: the caller then reads the chunk line by line.
    The result has one line per line of `chunk`, in the same order."""
    for shape, width, digits in ((_NATIONAL_LINE, 11, 1), (_PLUS33_LINE, 13, 3)):
        blocks = shape.findall(chunk)
        # Matches never overlap and each is `width` long: they tile the chunk exactly when
        # their count times the width is its length, i.e. every line has the shape.
        if blocks and len(blocks) * width == len(chunk):
            break
    else:
        return None
    prefixes = _prefixes(set(blocks))
    if prefixes is None:
        return None
    if prefixes == {"+33"}:  # metropolitan blocks: the text as it is, or the 0 made +33
        return chunk if digits == 3 else "+33" + chunk[1:].replace("\n0", "\n+33")
    lines = chunk.split("\n")
    lines.pop()  # after the last "\n"
    prefix = _PREFIX
    return "".join([f"{prefix[b]}{n[digits:]}\n" for b, n in zip(blocks, lines, strict=True)])


def e164_chunk(chunk: str) -> list[str] | None:
    """e164_text's answer as a list, one E.164 number per line of `chunk`."""
    text = e164_text(chunk)
    if text is None:
        return None
    numbers = text.split("\n")
    numbers.pop()
    return numbers


def chunks(text: TextIO, size: int | None = None) -> Iterator[str]:
    """The rest of `text` in chunks of whole lines (as `iter(text)` would split them with
    newline=""; a chunk never ends between "\\r" and "\\n"). The last line gets a "\\n"."""
    size = size or CHUNK_CHARS
    while True:
        chunk = text.read(size)
        if not chunk:
            return
        if not chunk.endswith("\n"):
            chunk += text.readline()  # the end of the line (after a "\r": its "\n", if any)
        if chunk.endswith("\r"):
            follow = text.read(1)
            chunk += follow
            if follow and follow != "\n":
                chunk += text.readline()
        if not chunk.endswith(("\n", "\r")):
            chunk += "\n"
        yield chunk


def lines_of(chunk: str) -> Iterator[str]:
    """The chunk's lines as a file opened with newline="" gives them."""
    return iter(io.StringIO(chunk, newline=""))


# --- a number at a time, per block ---------------------------------------------------------------

# "0ZABPQ" or "+33ZABPQ" -> the E.164 form of that block's numbers without their last four
# digits (fast_e164's answer, kept from the block's first number): at most two entries per
# allotted block.
_HEADS: dict[str, str] = {}


def _plain(text: str) -> bool:
    """0ZABPQMCDU or +33ZABPQMCDU in ASCII digits, Z not 0: normalise_digits leaves it as
    it is, and fast_e164's answer is its block's (the text without its last four digits)
    followed by those four digits, or the same NumberError for the whole block."""
    if len(text) == 10:
        return text[0] == "0" and text[1] != "0" and text.isascii() and text.isdigit()
    return len(text) == 12 and text.startswith("+33") and text[3] != "0" \
        and text.isascii() and text[1:].isdigit()


def e164_of(text: str) -> str:
    """fast_e164(text), looked up once per block for the two plain shapes (imports read
    millions of such fields one at a time). Raises NumberError as fast_e164 does;
    tests/test_number_batches.py compares both on generated numbers of every shape."""
    if len(text) in (10, 12):
        head = _HEADS.get(text[:-4])
        if head is not None:
            tail = text[-4:]
            if tail.isascii() and tail.isdigit():
                return head + tail
    e164 = fast_e164(text)
    if _plain(text) and e164[-4:] == text[-4:] and block_of(e164) is not None:
        _HEADS[text[:-4]] = e164[:-4]
    return e164


# --- a consumer number per block, for list scrubbing ---------------------------------------------

_TEMPLATES: dict[str, ConsumerNumber] = {}


def block_of(e164: str) -> str | None:
    """The 5-digit block (ZABPQ) of a national-plan number's canonical E.164, else None."""
    for code in ("+33", "+262", "+590", "+594", "+596"):
        if e164.startswith(code) and len(e164) == len(code) + 9:
            return e164[len(code):len(code) + 5]
    return None  # abroad, or Saint-Pierre-et-Miquelon's 6-digit form: number by number


def plan_of(dialled: str) -> tuple[str, ConsumerNumber]:
    """(E.164, the number's plan attributes: parse_number's ConsumerNumber with dialled, e164
    and national blanked), the attributes taken from the number's block (Arcep assigns blocks
    of 10,000 numbers; tests/test_number_batches.py checks every attribute equal on sampled
    numbers of every block), so that a list of millions parses each block once. Raises
    NumberError as parse_number does."""
    e164 = fast_e164(dialled)
    block = block_of(e164)
    if block is None:
        return e164, _blank(parse_number(dialled))
    template = _TEMPLATES.get(block)
    if template is None:
        template = _TEMPLATES[block] = _blank(parse_number(dialled))
    return e164, template


def consumer_number(dialled: str) -> ConsumerNumber:
    """parse_number's answer, from plan_of (what tests/test_number_batches.py compares)."""
    e164, plan = plan_of(dialled)
    if block_of(e164) is None:
        return parse_number(dialled)
    return dataclasses.replace(plan, dialled=dialled, e164=e164, national="0" + e164[-9:])


def _blank(number: ConsumerNumber) -> ConsumerNumber:
    return dataclasses.replace(number, dialled="", e164="", national=None)
