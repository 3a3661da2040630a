"""Keep the cyclic garbage collector off what a long-running process loaded at start.

A full (generation 2) collection walks every tracked object. In the live watcher that is the PII
engine's spaCy pipeline and word lists, loaded at start and alive until exit: full collections
measured 290 and 450 ms there during a 30 s live-loop run (100 changes/s on 2 shared cores), and
90 ms in the pods, each one a stall on the harvest → insight path. :func:`gc.freeze` (Python docs,
``gc`` module, 3.7+) moves every object alive now into a permanent generation that collections
skip, so they only walk what the process allocated since.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect once, then exempt every object alive now from later collections.

    Call once, after the process loaded what it keeps for its lifetime: frozen objects are never
    collected, so garbage frozen by mistake would stay (hence the collection first).
    """
    gc.collect()
    gc.freeze()
