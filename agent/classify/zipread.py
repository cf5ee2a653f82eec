"""Bounded reading of zip containers: entry-count check before parsing, streamed members with ratio checks."""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator

from agent.classify.errors import ExtractionError
from agent.classify.limits import Budget
from agent.classify.xmltext import XmlHandler, parse_xml

_CHUNK = 256 * 1024
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD_SEARCH = 22 + 65535  # fixed record plus the longest comment


def zip_entry_count(data: bytes) -> int | None:
    """The number of entries a zip's end-of-central-directory record declares, or None if not found.

    Read before ``zipfile`` builds one object per entry, so a forged million-entry directory costs nothing.
    """
    at = data.rfind(_EOCD, max(0, len(data) - _EOCD_SEARCH))
    if at < 0 or at + 22 > len(data):
        return None
    (entries,) = struct.unpack_from("<H", data, at + 10)
    if entries != 0xFFFF or at < 20 or data[at - 20 : at - 16] != _EOCD64_LOCATOR:
        return int(entries)
    (eocd64_at,) = struct.unpack_from("<Q", data, at - 20 + 8)
    if eocd64_at + 40 > len(data):
        return None
    (entries64,) = struct.unpack_from("<Q", data, eocd64_at + 32)
    return int(entries64)


def open_zip(data: bytes, budget: Budget) -> zipfile.ZipFile:
    """Open ``data`` as a zip after checking its declared entry count against the limits."""
    count = zip_entry_count(data)
    if count is None:
        # A local header but no directory: the tail of the file is missing.
        raise ExtractionError("truncated" if data.startswith(b"PK\x03\x04") else "format-mismatch")
    if count > budget.limits.max_members:
        raise ExtractionError("zip-too-many-members")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except NotImplementedError as exc:  # a zip "version needed" beyond what zipfile reads
        raise ExtractionError("unsupported-format") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, struct.error) as exc:
        raise ExtractionError("corrupt") from exc
    if overlapping(zf.infolist(), zf.start_dir):
        zf.close()
        raise ExtractionError("zip-overlap")
    return zf


_LOCAL_HEADER = 30


def overlapping(infos: list[zipfile.ZipInfo], start_dir: int) -> bool:
    """True when some member's compressed data runs into the next member's local header.

    That is how overlapping zip bombs (Fifield's "quoted overlap") make many members out of one kernel;
    honest writers never do it. Judged from the central directory, before anything is decompressed.
    """
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for info, after in zip(ordered, [*(i.header_offset for i in ordered[1:]), start_dir], strict=True):
        if info.header_offset + _LOCAL_HEADER + info.compress_size > after:
            return True
    return False


def check_declared(info: zipfile.ZipInfo, budget: Budget) -> None:
    """Refuse a member up front when its header already shows it to be encrypted or a bomb.

    Headers can lie the other way too (understating sizes), which ``stream_member`` catches as bytes flow.
    """
    limits = budget.limits
    if info.flag_bits & 0x1:
        raise ExtractionError("encrypted")
    if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(1, info.compress_size):
        raise ExtractionError("zip-ratio-exceeded")
    if budget.decompressed + info.file_size > limits.max_total_bytes:
        raise ExtractionError("zip-total-exceeded")


def stream_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget) -> Iterator[bytes]:
    """Yield the decompressed bytes of one member in chunks, enforcing ratio, total and time as they flow.

    The ratio is measured on bytes actually produced against the room the member's compressed data can
    occupy, so a header overstating the compressed size (to look like a mild ratio) does not get past it.
    zipfile itself stops at the declared uncompressed size and then fails the CRC, so understating that
    yields ``corrupt`` after a bounded read.
    """
    limits = budget.limits
    check_declared(info, budget)
    budget.check_time()
    # The compressed data cannot extend past the central directory, whatever the header claims.
    compressed = max(1, min(info.compress_size, zf.start_dir - info.header_offset))
    produced = 0
    try:
        with zf.open(info) as member:
            while True:
                chunk = member.read(_CHUNK)
                if not chunk:
                    return
                produced += len(chunk)
                budget.charge_bytes(len(chunk))
                if produced > limits.ratio_floor_bytes and produced > limits.max_ratio * compressed:
                    raise ExtractionError("zip-ratio-exceeded")
                budget.check_time()
                yield chunk
    except NotImplementedError as exc:
        raise ExtractionError("unsupported-compression") from exc
    except EOFError as exc:
        raise ExtractionError("truncated") from exc
    except zipfile.BadZipFile as exc:
        # zipfile names members whose data runs into the next local header: an overlapping zip bomb.
        raise ExtractionError("zip-overlap" if "Overlapped entries" in str(exc) else "corrupt") from exc
    except (zlib.error, OSError, ValueError, struct.error) as exc:
        raise ExtractionError("corrupt") from exc


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget) -> bytes:
    """The whole decompressed member, within ``max_read_bytes`` (else ``too-large``)."""
    check_declared(info, budget)
    if info.file_size > budget.limits.max_read_bytes:
        raise ExtractionError("too-large")
    out = bytearray()
    for chunk in stream_member(zf, info, budget):
        out += chunk
        if len(out) > budget.limits.max_read_bytes:
            raise ExtractionError("too-large")
    return bytes(out)


def find_member(zf: zipfile.ZipFile, name: str) -> zipfile.ZipInfo | None:
    """The member called ``name``, if present."""
    try:
        return zf.getinfo(name)
    except KeyError:
        return None


def parse_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, handler: XmlHandler, budget: Budget) -> None:
    """Stream one XML member through ``handler`` (defused, bounded)."""
    parse_xml(stream_member(zf, info, budget), handler)


def natural_members(zf: zipfile.ZipFile, pattern: re.Pattern[str]) -> list[zipfile.ZipInfo]:
    """Members whose names fully match ``pattern`` (first group a number), in numeric order."""
    found: list[tuple[int, zipfile.ZipInfo]] = []
    for info in zf.infolist():
        m = pattern.fullmatch(info.filename)
        if m:
            found.append((int(m.group(1) or 0), info))
    found.sort(key=lambda pair: pair[0])
    return [info for _, info in found]
