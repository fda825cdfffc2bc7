"""The model's Qt-free change event."""

import pytest

from sd4match_gui.model.events import Event


def test_callbacks_run_in_connection_order_with_the_arguments() -> None:
    event, calls = Event(), []
    event.connect(lambda *args: calls.append(("a", args)))
    event.connect(lambda *args: calls.append(("b", args)))
    event.emit(1, "x")
    assert calls == [("a", (1, "x")), ("b", (1, "x"))]


def test_a_callback_connected_twice_runs_once_and_disconnect_stops_it() -> None:
    event, calls = Event(), []

    def callback() -> None:
        calls.append(1)

    event.connect(callback)
    event.connect(callback)
    event.emit()
    event.disconnect(callback)
    event.disconnect(callback)  # not connected any more: ignored
    event.emit()
    assert calls == [1]
    assert len(event) == 0


def test_disconnecting_during_an_emit_takes_effect_next_time() -> None:
    event, calls = Event(), []

    def first() -> None:
        calls.append("first")
        event.disconnect(second)

    def second() -> None:
        calls.append("second")

    event.connect(first)
    event.connect(second)
    event.emit()
    event.emit()
    assert calls == ["first", "second", "first"]


def test_an_exception_in_a_callback_reaches_the_emitter() -> None:
    event = Event()
    event.connect(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        event.emit()
