"""What the window tells the user without blocking: status bar messages, errors and offers in the
banner above the images. The narrow interface controllers get instead of the app controller."""

from __future__ import annotations

from collections.abc import Callable

from ..main_window import MainWindow

MESSAGE_MS = 6000


class Notices:
    """The status bar and the message banner of one window."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window
        self._action: Callable[[], object] | None = None
        self._engine_error_shown = False  # the banner shows an engine failure, hidden once it is fixed
        window.message_banner.action_clicked.connect(self._run_action)

    def notify(self, text: str) -> None:
        self._window.statusBar().showMessage(text, MESSAGE_MS)

    def report_error(self, text: str) -> None:
        """Show an error without blocking (a banner above the images)."""
        self._action = None
        self._engine_error_shown = False
        self._window.message_banner.show_message(text, "error")

    def offer(self, text: str, button: str, action: Callable[[], object], details: str = "") -> None:
        """A non-blocking question: ``text`` (one line; ``details`` on demand) with a ``button`` that
        runs ``action``."""
        self._action = action
        self._engine_error_shown = False
        self._window.message_banner.show_message(text, "info", button, details)

    def withdraw_offer(self) -> None:
        """An offer to open something is moot once something else was opened."""
        if self._action is not None:
            self._action = None
            self._window.message_banner.hide()

    def report_engine_error(self, text: str) -> None:
        """An engine failure: shown like any error, and hidden by :meth:`engine_errors_cleared`."""
        self.report_error(text)
        self._engine_error_shown = True

    def engine_errors_cleared(self) -> None:
        """The requests that failed have since succeeded (or another pair is open): the error is moot."""
        if self._engine_error_shown:
            self._engine_error_shown = False
            self._window.message_banner.hide()

    def _run_action(self) -> None:
        action, self._action = self._action, None
        self._window.message_banner.hide()
        if action is not None:
            action()
