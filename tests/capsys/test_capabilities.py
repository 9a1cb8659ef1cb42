"""Iso move semantics at run time: every way to move, every way to use after."""

from __future__ import annotations

import copy
import pickle
import re
import threading
from typing import Any

import pytest

from capsys import Iso, MovedError, consume, iso
from capsys.capabilities import MovedIso
from capsys.errors import CapabilityError, CapabilityUsageError
from capsys.sendable import check_value, prepare_payload

HERE = re.escape(__file__)


def _moved(how: str) -> Iso[list[int]]:
    """A handle moved in one of the ways the SPEC lists."""
    h = iso([1, 2])
    if how == "consume":
        consume(h)
    elif how == "iso":
        iso(h)
    elif how == "send":
        prepare_payload("Sink.put", (h,), {})
    elif how == "send-kw":
        prepare_payload("Sink.put", (), {"data": h})
    elif how == "reply":
        check_value(h, "reply of Sink.get")
    elif how == "take":
        h.take()
    return h


MOVES = ["consume", "iso", "send", "send-kw", "reply", "take"]
USES: dict[str, Any] = {
    "take": lambda h: h.take(),
    "consume": consume,
    "iso": iso,
    "send": lambda h: prepare_payload("Sink.put", (h,), {}),
    "attribute": lambda h: h.anything,
    "private attribute": lambda h: h._value,
}


@pytest.mark.parametrize("how", MOVES)
@pytest.mark.parametrize("use", list(USES))
def test_every_use_after_every_move_raises_moved_error(how: str, use: str) -> None:
    h = _moved(how)
    with pytest.raises(MovedError, match=HERE + r":\d+"):
        USES[use](h)


def test_moved_error_names_the_line_of_the_move() -> None:
    h = iso([1])
    line = _line_of_next_statement()
    consume(h)
    with pytest.raises(MovedError) as info:
        h.take()
    assert f"{__file__}:{line}" in str(info.value)
    assert "consume()" in str(info.value)
    assert isinstance(info.value, CapabilityError)


def _line_of_next_statement() -> int:
    import sys

    return sys._getframe(1).f_lineno + 1


def test_take_unwraps_once_and_returns_the_same_object() -> None:
    items = [1, 2, 3]
    h = iso(items)
    assert h.take() is items
    with pytest.raises(MovedError, match="take"):
        h.take()


def test_consume_transfers_the_value_to_a_new_live_handle() -> None:
    items = [1]
    h = iso(items)
    h2 = consume(h)
    assert type(h2) is Iso
    assert isinstance(h, MovedIso) and isinstance(h, Iso)
    assert h2.take() is items


def test_iso_of_a_handle_moves_it_without_nesting() -> None:
    h = iso({"a": 1})
    h2 = iso(h)
    assert h2.take() == {"a": 1}


def test_send_moves_iso_and_receiver_gets_a_fresh_handle() -> None:
    items = [1]
    h = iso(items)
    args, kwargs = prepare_payload("Sink.put", (1, h), {"k": "v"})
    assert args[0] == 1 and kwargs == {"k": "v"}
    assert args[1] is not h and args[1].take() is items
    assert isinstance(h, MovedIso)


def test_payload_without_iso_is_returned_unchanged() -> None:
    args = (1, "a", (2, 3))
    kwargs = {"x": 1.5}
    assert prepare_payload("S.b", args, kwargs) == (args, kwargs)
    out_args, out_kwargs = prepare_payload("S.b", args, kwargs)
    assert out_args is args and out_kwargs is kwargs


def test_moved_handle_repr_does_not_raise() -> None:
    h = _moved("consume")
    assert "moved" in repr(h)
    assert repr(iso([1])) == "Iso(list)"


@pytest.mark.parametrize("bad", [[1], 3, "s", None])
def test_consume_of_a_non_iso_says_what_to_do(bad: Any) -> None:
    with pytest.raises(CapabilityUsageError, match=r"consume\(\) takes an Iso handle.*iso\(x\)"):
        consume(bad)


def test_iso_of_an_agent_or_tag_is_refused() -> None:
    from capsys import Agent, Tag

    class A(Agent):
        pass

    with pytest.raises(CapabilityUsageError, match=r"self\.me"):
        iso(A())

    class Address:
        name = "x"

    with pytest.raises(CapabilityUsageError, match="already sendable"):
        iso(Tag(Address()))  # type: ignore[arg-type]


def test_iso_cannot_be_copied_or_pickled_silently() -> None:
    h = iso([1])
    for op in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(CapabilityUsageError, match="cannot be pickled or copied"):
            op(h)
    assert h.take() == [1]


def _race_take(h: Iso[list[int]], start: threading.Barrier, got: list[object]) -> None:
    start.wait()
    try:
        got.append(h.take())
    except MovedError:
        got.append("moved")


def test_threads_taking_one_handle_get_the_value_once() -> None:
    for _ in range(300):
        h, start, got = iso([1]), threading.Barrier(4), []
        threads = [threading.Thread(target=_race_take, args=(h, start, got)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # exactly one owner; the others get MovedError (never a bare AttributeError)
        assert sorted(map(str, got)) == ["[1]", "moved", "moved", "moved"]


def test_consume_or_iso_of_a_dead_handle_says_which() -> None:
    h = iso([1])
    h.take()
    with pytest.raises(MovedError, match=r"tried consume\(\) of it"):
        consume(h)
    with pytest.raises(MovedError, match=r"tried iso\(\) of it"):
        iso(h)
