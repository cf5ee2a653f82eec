"""Document fingerprints: word k-grams winnowed MOSS-style, stable across processes and machines.

Pure. Text is normalised (NFKC, case-folded, punctuation and whitespace dropped) into words; every run of
``k`` words gets a 64-bit hash; from every window of ``w`` consecutive hashes the minimum is kept. Any
passage of ``w + k - 1`` words shared by two documents therefore yields a shared fingerprint, whatever
the formatting, line breaks or file format around it.

``normalise_words``, ``shingle_hashes`` and ``winnow`` state the scheme one word at a time.
``fingerprints`` computes exactly the same set without a Python-level loop over the words: the word
hashes are packed into one big integer, one 128-bit lane per word, and the rolling hash and the window
minima are computed on all lanes at once with integer arithmetic (see ``_fast_fingerprints``). The values
depend only on blake2b and arithmetic modulo 2**64, never on the interpreter's ``hash()``, so they are
the same in every process, on every machine and under every Python version.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from array import array
from collections.abc import Collection
from dataclasses import dataclass
from itertools import compress, count
from operator import not_

_WORD = re.compile(r"\w+")
_MASK = (1 << 64) - 1
_BASE = 0x100000001B3  # odd multiplier for the rolling combination of word hashes
_PERSON = b"caseguard-fp1"

# ASCII characters outside ``\w`` become spaces; ASCII word characters and every byte of a multi-byte
# UTF-8 sequence (>= 0x80) are kept. Splitting the result on spaces gives the ``\w+`` runs of ASCII text.
_ASCII_SEPARATORS = bytes(
    i if (48 <= i <= 57 or 65 <= i <= 90 or 97 <= i <= 122 or i == 95 or i >= 128) else 32 for i in range(256)
)
_LANE = 16  # bytes per lane: a 64-bit value and 64 bits of headroom for carries and comparisons
_LANE_BITS = 8 * _LANE
_LOW_LANE = b"\xff" * 8 + bytes(8)  # the low 64 bits of a lane
_HIGH_LANE = bytes(8) + b"\x01" + bytes(7)  # bit 64 of a lane
_PAD = bytes(_LANE - 8)
_UNPACK_OK = array("Q").itemsize == 8
_BLOCK_WORDS = 16_384  # window starts per block of the fast path


@dataclass(frozen=True)
class FingerprintScheme:
    """Parameters of fingerprinting. The protected-store index and the classifier must use the same one."""

    k: int = 6
    """Words per shingle."""
    w: int = 4
    """Winnowing window (in shingles); shared passages of ``w + k - 1`` words are always caught."""
    max_words: int = 300_000
    """Words fingerprinted from the start of a document (bounds time on huge files)."""

    @property
    def name(self) -> str:
        """Identifies the scheme, to store next to fingerprints so indexes are never mixed."""
        return f"wordwinnow1-k{self.k}-w{self.w}-n{self.max_words}"


DEFAULT_SCHEME = FingerprintScheme()


def normalise_words(text: str, max_words: int | None = None) -> list[str]:
    """Words of ``text`` after NFKC and case folding; punctuation and whitespace runs dropped."""
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    return words if max_words is None else words[:max_words]


def _word_hashes(words: list[str]) -> list[int]:
    table = {
        word: int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8, person=_PERSON).digest(), "little")
        for word in set(words)
    }
    return [table[word] for word in words]


def shingle_hashes(words: list[str], k: int) -> list[int]:
    """One 64-bit hash per run of ``k`` consecutive words: a polynomial rolling hash over per-word
    blake2b hashes (random 64-bit values, so the combination needs no further mixing)."""
    if len(words) < k:
        return []
    hashes = _word_hashes(words)
    drop = pow(_BASE, k, 1 << 64)
    h = 0
    for value in hashes[:k]:
        h = (h * _BASE + value) & _MASK
    out = [h]
    append = out.append
    for old, new in zip(hashes, hashes[k:], strict=False):
        h = (h * _BASE + new - old * drop) & _MASK
        append(h)
    return out


def winnow(hashes: list[int], w: int) -> frozenset[int]:
    """The minimum of every window of ``w`` consecutive hashes (all of them if fewer than ``w``)."""
    if not hashes:
        return frozenset()
    if len(hashes) <= w:
        return frozenset((min(hashes),))
    if w == 1:  # every hash is its own window (map(min, ...) would be handed single ints)
        return frozenset(hashes)
    n = len(hashes) - w + 1
    return frozenset(map(min, *(hashes[i : i + n] for i in range(w))))


def fingerprints(text: str, scheme: FingerprintScheme = DEFAULT_SCHEME) -> frozenset[int]:
    """The fingerprint set of ``text`` under ``scheme``: ``winnow(shingle_hashes(normalise_words(text,
    max_words), k), w)``, computed without a loop over the words."""
    words = _utf8_words(text, scheme.max_words)
    k, w = scheme.k, scheme.w
    if k < 1 or w < 1 or not _UNPACK_OK or len(words) < k + w:
        # Nine words or fewer (or an odd scheme): the word-at-a-time statement of the scheme is quick enough.
        return winnow(shingle_hashes([word.decode("utf-8") for word in words], k), w)
    table = {word: hashlib.blake2b(word, digest_size=8, person=_PERSON).digest() + _PAD for word in set(words)}
    # Blocks of _BLOCK_WORDS window starts, each with the k + w - 2 words after it that its last windows
    # reach into: the big integers stay small (256 kB, not 4.8 MB for 300,000 words) and every window is
    # in exactly one block, so the union is the whole document's set.
    span = k + w - 1  # words under one window
    out: set[int] = set()
    for start in range(0, len(words) - span + 1, _BLOCK_WORDS):
        block = words[start : start + _BLOCK_WORDS + span - 1]
        if len(block) > span:
            out |= _fast_fingerprints(block, k, w, table)
        else:  # exactly one window left: the minimum of its w shingles
            out |= winnow(shingle_hashes([word.decode("utf-8") for word in block], k), w)
    return frozenset(out)


def _utf8_words(text: str, max_words: int) -> list[bytes]:
    """``normalise_words(text, max_words)``, each word UTF-8 encoded, found with bytes operations.

    ASCII separators are translated to spaces and the bytes split on them; only the chunks holding
    non-ASCII characters (which may hold non-word characters too, such as curly quotes) go through the
    ``\\w+`` regular expression. The words it finds there are the ones it finds in the whole text, since
    the chunks are cut at characters that are never part of a word.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    if folded.isascii():
        return folded.encode("ascii").translate(_ASCII_SEPARATORS).split()[:max_words]
    # surrogatepass: a lone surrogate (never a word character) must not make encoding fail.
    chunks = folded.encode("utf-8", "surrogatepass").translate(_ASCII_SEPARATORS).split()
    odd = list(compress(count(), map(not_, map(bytes.isascii, chunks))))
    if len(odd) * 4 > len(chunks):  # mostly non-ASCII: one pass of the regular expression is quicker
        return list(map(str.encode, _WORD.findall(folded)[:max_words]))
    words: list[bytes] = []
    start = 0
    for i in odd:
        words += chunks[start:i]
        words += map(str.encode, _WORD.findall(chunks[i].decode("utf-8", "surrogatepass")))
        start = i + 1
        if len(words) >= max_words:
            break
    else:
        words += chunks[start:]
    return words[:max_words]


def _fast_fingerprints(words: list[bytes], k: int, w: int, table: dict[bytes, bytes]) -> frozenset[int]:
    """``winnow(shingle_hashes(words, k), w)`` for at least ``k + w`` words, on all words at once.

    Lane ``i`` (bits ``128 i`` to ``128 i + 127`` of a big integer) starts as the hash of word ``i``.
    The rolling hash, in Horner form (``t = ((t * BASE) mod 2**64 per lane) shifted one lane up, plus
    the word hashes``, k - 1 times), leaves in lane ``i + k - 1`` the hash of the shingle starting at word
    ``i``: a lane never overflows into the next (a 64-bit value times the 41-bit ``BASE``, plus a
    64-bit hash, is below 2**128). The window minima then come from lane-wise minima of the lanes and
    the lanes shifted down (doubling the span each time): in each lane, ``(x + 2**64) - y`` keeps bit 64
    exactly when ``x >= y`` and never borrows from the next lane, and that bit selects ``y`` or ``x``.
    """
    n = len(words)
    lanes = n + k
    hashes = int.from_bytes(b"".join(map(table.__getitem__, words)), "little")
    low = int.from_bytes(_LOW_LANE * lanes, "little")
    t = hashes
    for _ in range(k - 1):
        t = (((t * _BASE) & low) << _LANE_BITS) + hashes
    t &= low
    del hashes
    high = int.from_bytes(_HIGH_LANE * lanes, "little")
    span = 1
    while span * 2 <= w:
        t = _lane_min(t, t >> (_LANE_BITS * span), high)
        span *= 2
    if span < w:
        t = _lane_min(t, t >> (_LANE_BITS * (w - span)), high)
    out = array("Q", t.to_bytes(_LANE * lanes, "little"))
    if sys.byteorder == "big":
        out.byteswap()
    # Lane i + k - 1 holds the minimum of the window of shingles starting at word i, for i in 0 .. n-k-w+1.
    words_per_lane = _LANE // 8
    return frozenset(out[words_per_lane * (k - 1) : words_per_lane * (n - w + 1) : words_per_lane])


def _lane_min(x: int, y: int, high: int) -> int:
    """Lane-wise minimum of ``x`` and ``y`` (lanes of 64-bit values); ``high`` has bit 64 of every lane."""
    ge = ((x | high) - y) & high  # bit 64 of a lane: x >= y there
    select = ge - (ge >> 64)  # the low 64 bits of those lanes
    return x ^ ((x ^ y) & select)


def containment(candidate: Collection[int], protected: Collection[int] | frozenset[int]) -> float:
    """Share of the candidate's fingerprints that are also the protected document's (0 if none)."""
    if not candidate:
        return 0.0
    other = protected if isinstance(protected, (set, frozenset)) else frozenset(protected)
    return sum(1 for fp in candidate if fp in other) / len(candidate)
