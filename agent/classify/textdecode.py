"""Turning the bytes of plain-text files (txt, csv, md) into str."""

from __future__ import annotations

import codecs

_SAMPLE = 4096


def decode_text(data: bytes) -> str:
    """Decode text by BOM, then UTF-16 without BOM (NUL pattern), then UTF-8, then Windows-1252."""
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, "replace")
    sample = data[:_SAMPLE]
    if len(sample) >= 4:
        odd_nuls = sample[1::2].count(0)
        even_nuls = sample[0::2].count(0)
        if odd_nuls > len(sample) // 4 and even_nuls == 0:
            return data.decode("utf-16-le", "replace")
        if even_nuls > len(sample) // 4 and odd_nuls == 0:
            return data.decode("utf-16-be", "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":  # cut mid-character by a read limit
            return data.decode("utf-8", "replace")
        return data.decode("cp1252", "replace")


def looks_like_text(data: bytes) -> bool:
    """Whether ``data`` is plausibly text: few control bytes and no NULs outside a UTF-16 pattern."""
    sample = data[:_SAMPLE]
    if not sample:
        return True
    if sample.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    nuls = sample.count(0)
    if nuls:
        # UTF-16 without BOM: NULs on one parity only.
        return (sample[1::2].count(0) == nuls or sample[0::2].count(0) == nuls) and nuls > len(sample) // 4
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return controls * 20 < len(sample)
