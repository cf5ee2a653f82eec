"""Agent codec: domain events to wire bytes and back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.outbox import PendingEvent
from agent.transport import codec
from caseguard.v1 import collector_pb2, events_pb2


def _event(kind: str = "test", body: dict | None = None, seq: int = 1) -> PendingEvent:
    return PendingEvent("01890a5d-ac96-774b-bcce-b302099a8057", seq, 1_700_000_000.25, kind, body or {})


def test_envelope_and_body_survive_encoding() -> None:
    raw = codec.encode_event(
        _event("case_file_egress", {"destination_class": "DESTINATION_CLASS_REMOVABLE_VOLUME",
                                    "volume": {"label": "STICK", "bus": "usb"},
                                    "file": {"extension": "docx", "reasons": ["exact"], "confidence": 0.99}}),
        device_id="laptop-7", agent_version="1.2.3")
    ev = events_pb2.Event.FromString(raw)
    assert ev.WhichOneof("body") == "case_file_egress"
    assert ev.device_id == "laptop-7" and ev.agent_version == "1.2.3" and ev.seq == 1
    assert ev.occurred_at.seconds == 1_700_000_000 and ev.occurred_at.nanos == 250_000_000
    assert ev.case_file_egress.volume.label == "STICK"
    assert list(ev.case_file_egress.file.reasons) == ["exact"]


def test_empty_body_still_selects_its_kind() -> None:
    ev = events_pb2.Event.FromString(codec.encode_event(_event("agent_stopping"), device_id="d", agent_version="v"))
    assert ev.WhichOneof("body") == "agent_stopping"


def test_body_that_does_not_fit_the_contract_is_refused() -> None:
    with pytest.raises(codec.InvalidEventBody):
        codec.encode_event(_event("test", {"no_such_field": 1}), device_id="d", agent_version="v")


@given(st.lists(st.binary(max_size=300), max_size=50))
def test_framed_batch_is_a_valid_send_events_request(payloads: list[bytes]) -> None:
    events = [codec.encode_event(_event(seq=i + 1, body={"note": p.hex()}), device_id="d", agent_version="v")
              for i, p in enumerate(payloads)]
    req = collector_pb2.SendEventsRequest.FromString(codec.encode_send_events(events))
    assert [e.SerializeToString() for e in req.events] == events


def test_fitting_prefix_respects_the_byte_cap() -> None:
    payloads = [b"x" * 1000] * 10
    n = codec.fitting_prefix(payloads, 3500)
    assert n == 3
    assert len(codec.encode_send_events(payloads[:n])) <= 3500
    assert codec.fitting_prefix([b"x" * 10_000], 100) == 1  # one oversize event still goes alone
