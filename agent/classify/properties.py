"""Handlers for metadata parts: custom document properties and Microsoft label metadata."""

from __future__ import annotations

from agent.classify.xmltext import XmlHandler, attribute

MAX_PROPERTIES = 512
MAX_VALUE_CHARS = 512

CUSTOM_PROPERTY = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}property"
ODF_USER_DEFINED = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0}user-defined"
ODF_NAME = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0}name"
MIP_LABEL = "http://schemas.microsoft.com/office/2020/mipLabelMetadata}label"


class PropertyCollector(XmlHandler):
    """Collects ``name -> value`` pairs from elements like ``<property name="...">value</property>``.

    Serves OOXML docProps/custom.xml (value in a ``vt:*`` child) and ODF ``meta:user-defined``.
    """

    def __init__(self, into: dict[str, str], tag: str, name_attribute: str) -> None:
        self._into = into
        self._tag = tag
        self._name_attribute = name_attribute
        self._name: str | None = None
        self._value: list[str] = []

    def start(self, tag: str, attrs: list[str]) -> None:
        if tag == self._tag:
            self._name = attribute(attrs, self._name_attribute)
            self._value = []

    def data(self, text: str) -> None:
        if self._name is not None:
            self._value.append(text)

    def end(self, tag: str) -> None:
        if tag == self._tag and self._name is not None:
            if len(self._into) < MAX_PROPERTIES:
                self._into[self._name[:MAX_VALUE_CHARS]] = "".join(self._value).strip()[:MAX_VALUE_CHARS]
            self._name = None


class LabelInfoCollector(XmlHandler):
    """Collects the attributes of each ``<clbl:label>`` in docMetadata/LabelInfo.xml."""

    def __init__(self, into: list[dict[str, str]]) -> None:
        self._into = into

    def start(self, tag: str, attrs: list[str]) -> None:
        if tag == MIP_LABEL and len(self._into) < MAX_PROPERTIES:
            self._into.append(
                {attrs[i][:64]: attrs[i + 1][:MAX_VALUE_CHARS] for i in range(0, len(attrs) - 1, 2)}
            )


def odf_property_collector(into: dict[str, str]) -> PropertyCollector:
    """A collector for ODF meta.xml user-defined properties."""
    return PropertyCollector(into, ODF_USER_DEFINED, ODF_NAME)


def ooxml_property_collector(into: dict[str, str]) -> PropertyCollector:
    """A collector for OOXML docProps/custom.xml properties."""
    return PropertyCollector(into, CUSTOM_PROPERTY, "name")
