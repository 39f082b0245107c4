"""Shut down the browser sessions Streamlit forgets.

Streamlit keeps a disconnected session for ``server.disconnectedSessionTTL`` (two minutes) in case
the browser comes back, in a TTL cache that later drops it without shutting it down
(streamlit/streamlit#12506, still so in 1.67): until some later write reaps it, the whole session
stays, and even then the media files it showed (every thumbnail and heatmap), its uploads and its
dataframe sources are never released. On the hosted demo that memory never came back after the
visitors left. On every tick of the workspace sweeper, the event loop reaps the expired sessions
and shuts each down, as Streamlit does for a session it closes itself.

Reaches into Streamlit's runtime (no public call does this): anything missing, and it does nothing.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("gallery_sorter.sessions")
_installed = threading.Event()


def _storage_cache():
    """The session storage's TTL cache, or None when this Streamlit keeps it elsewhere."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    mgr = getattr(Runtime.instance(), "_session_mgr", None)
    cache = getattr(getattr(mgr, "_session_storage", None), "_cache", None)
    return cache if callable(getattr(cache, "expire", None)) else None


def reap_expired() -> int:
    """Shut down every stored session past its TTL (on the event loop: the cache is not thread-safe)."""
    cache = _storage_cache()
    if cache is None:
        return 0
    gone = cache.expire()
    for _, info in gone:
        try:
            info.session.shutdown()  # its uploads, media files and dataframe sources go with it
        except Exception:  # one session's failure must not keep the others
            log.exception("could not shut down an expired session")
    if gone:
        log.info("shut down %d expired browser session(s)", len(gone))
    return len(gone)


def _on_tick() -> None:
    """From the sweeper thread: hand the reaping to Streamlit's event loop."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return
    objs = getattr(Runtime.instance(), "_async_objs", None)
    loop = getattr(objs, "eventloop", None)
    if loop is not None and not loop.is_closed():
        loop.call_soon_threadsafe(reap_expired)


def install() -> None:
    """Once per server: every sweeper tick reaps the sessions Streamlit forgot."""
    if _installed.is_set():
        return
    from core.session.workspace import REGISTRY

    _installed.set()
    REGISTRY.tick_hooks.append(_on_tick)
    REGISTRY.start_sweeper()  # a visit that never opens a workspace (Home only) leaves a session too
