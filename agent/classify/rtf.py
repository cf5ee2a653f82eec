"""Text from RTF: a small tokenizer that keeps body text and header/footer groups, and skips the rest."""

from __future__ import annotations

import codecs
import re

from agent.classify.document import DocumentSink
from agent.classify.limits import Budget

_TOKEN = re.compile(
    r"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?"  # control word with optional parameter
    r"|\\'([0-9a-fA-F]{2})"  # hex-escaped byte
    r"|\\(.)"  # control symbol
    r"|([{}])"  # group
    r"|[\r\n]+"  # line breaks in the source are not text
    r"|([^\\{}\r\n]+)",  # plain text
    re.DOTALL,
)

# Destinations whose content is not document text.
_SKIP = frozenset(
    {
        "fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "themedata", "colorschememapping",
        "latentstyles", "datastore", "xmlnstbl", "listtable", "listoverridetable", "rsidtbl", "generator",
        "filetbl", "revtbl", "fldinst", "mmathPr", "pgdsctbl", "nonshppict", "shpinst", "bkmkstart", "bkmkend",
        "xe", "tc", "falt", "panose", "leveltext", "levelnumbers",
    }
)
_ZONES = frozenset(["header", "headerl", "headerr", "headerf", "footer", "footerl", "footerr", "footerf"])
_BREAKS = {"par": "\n", "line": "\n", "sect": "\n", "page": "\n", "row": "\n", "tab": "\t", "cell": "\t"}
_SYMBOLS = {"~": " ", "_": "-", "-": "", "\\": "\\", "{": "{", "}": "}", "\n": "\n", "\r": "\n"}
_CHECK_EVERY = 20_000
_ANSI_CODE_PAGE = re.compile(rb"\\ansicpg(\d{1,5})")
_HEADER_BYTES = 4096


def declared_code_page(data: bytes) -> str:
    """The codec for ``\\'hh`` escapes: the document's ``\\ansicpgN`` when Python knows it, else cp1252."""
    m = _ANSI_CODE_PAGE.search(data[:_HEADER_BYTES])
    if m:
        name = f"cp{int(m.group(1))}"
        try:
            codecs.lookup(name)
        except LookupError:
            return "cp1252"
        return name
    return "cp1252"


class _State:
    __slots__ = ("skip", "uc", "zone")

    def __init__(self, skip: bool, zone: bool, uc: int) -> None:
        self.skip = skip
        self.zone = zone
        self.uc = uc


def read_rtf(data: bytes, sink: DocumentSink, budget: Budget) -> None:
    """Body text and header/footer zones from an RTF document (``\\'hh`` escapes in its declared code page)."""
    code_page = declared_code_page(data)
    source = data.decode("latin-1")
    body: list[str] = []
    zones: list[str] = []
    state = _State(skip=False, zone=False, uc=1)
    stack: list[_State] = []
    pending_hex = bytearray()
    fallback_skip = 0
    group_start = False  # the next control word names this group's destination
    tokens = 0

    def out(text: str) -> None:
        if not state.skip:
            (zones if state.zone else body).append(text)

    def flush_hex() -> None:
        if pending_hex:
            out(pending_hex.decode(code_page, "replace"))
            pending_hex.clear()

    for match in _TOKEN.finditer(source):
        tokens += 1
        if tokens % _CHECK_EVERY == 0:
            budget.check_time()
        word, param, hexbyte, symbol, brace, text = match.groups()
        if hexbyte is not None:
            if fallback_skip:
                fallback_skip -= 1
            elif not state.skip:
                pending_hex.append(int(hexbyte, 16))
            group_start = False
            continue
        flush_hex()
        if brace == "{":
            stack.append(state)
            state = _State(state.skip, state.zone, state.uc)
            group_start = True
            continue
        if brace == "}":
            state = stack.pop() if stack else state
            group_start = False
            continue
        if word is not None:
            if group_start and word in _SKIP:
                state.skip = True
            elif group_start and word in _ZONES:
                state.zone = True
            elif word == "u" and param is not None:
                code = int(param)
                out(chr(code + 65536 if code < 0 else code))
                fallback_skip = state.uc
            elif word == "uc" and param is not None:
                state.uc = max(0, int(param))
            elif word in _BREAKS:
                out(_BREAKS[word])
            group_start = False
            continue
        if symbol is not None:
            if symbol == "*" and group_start:
                state.skip = True  # an ignorable destination we do not know
            elif symbol in _SYMBOLS:
                out(_SYMBOLS[symbol])
            group_start = False
            continue
        if text is not None:
            if fallback_skip:
                dropped = min(fallback_skip, len(text))
                text = text[dropped:]
                fallback_skip -= dropped
            if text:
                out(text)
            group_start = False
    flush_hex()
    sink.add_zone("".join(zones))
    sink.add_body("".join(body))
