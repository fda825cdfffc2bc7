"""What to compute ahead: the features of the next pairs of a pair list or dataset, in idle time.

While the user works on one pair, the engine prepares the next ones (two ahead by default) under
the variants on screen, so that stepping to the next pair finds its features in the cache. The
worker runs the plan only when no request of the user waits and stops it within one model block
when one arrives (``worker/prefetch_job.py``); this module only decides the plan, after every
change, and sends it when it differs from the last one sent.
"""

from __future__ import annotations

from ..model.app_model import AppModel
from ..model.pairs import PairEntry
from ..model.session import Session
from ..worker.engine_client import EngineClient
from ..worker.messages import PrefetchRequest

DEFAULT_AHEAD = 2  # pairs ahead of the open one


def pairs_ahead(session: Session, ahead: int = DEFAULT_AHEAD) -> list[PairEntry]:
    """The pairs after the open one, nearest first, at most ``ahead`` (none without an open pair)."""
    if session.pair is None or ahead <= 0:
        return []
    start = session.current_index + 1
    return session.pairs[start : start + ahead]


class PrefetchPlanner:
    """Sends the engine a :class:`PrefetchRequest` for the pairs ahead whenever that plan changes.

    Args:
        client: the engine thread.
        model: the app's state: the open session, the engine configuration the next requests will
            use, and which variants cannot run now (comparisons leave them out).
        ahead: how many pairs after the open one.

    Attributes:
        sent: the plans sent so far (tests read it).
    """

    def __init__(
        self,
        client: EngineClient,
        model: AppModel,
        ahead: int = DEFAULT_AHEAD,
    ) -> None:
        self._client = client
        self._model = model
        self.ahead = ahead
        self.sent: list[PrefetchRequest] = []
        self._last: tuple[object, ...] | None = None

    def refresh(self) -> None:
        """After a change: plan the pairs ahead under the variants on screen; send it if it is new."""
        session = self._model.session
        comparing = session.settings.compare.active
        variants = session.settings.active_variants() if session.pair is not None else []
        if comparing:
            unrunnable = {v.name for v in self._model.results.needing_weights(variants)}
            variants = [v for v in variants if v.name not in unrunnable]
        # A collection's propagation already extracts every image, in the order the review needs.
        ahead = pairs_ahead(session, self.ahead) if session.collection is None else []
        pairs = tuple((pair.source, pair.target) for pair in ahead)
        engine = self._model.preferences.engine_config()
        self._send(PrefetchRequest(pairs if variants else (), tuple(variants), engine, comparing))

    def pause(self) -> None:
        """The user pressed Cancel: compute nothing ahead until the next change plans again. (A
        person who stops the work on screen expects the CPU to go quiet, not to move on to the
        pairs after it.)"""
        self._send(PrefetchRequest((), (), self._model.preferences.engine_config()))

    def _send(self, request: PrefetchRequest) -> None:
        plan = (request.pairs, request.variants, request.engine, request.refuse_fallback)
        if plan == self._last:
            return
        self._last = plan
        self.sent.append(request)
        self._client.prefetch(request)  # an empty plan also stops the previous one
