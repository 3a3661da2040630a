"""Keep Presidio's dependencies off the network; import before ``presidio_analyzer``.

``tldextract`` (imported by Presidio's e-mail and URL recognizers) reads these variables once, at
its own import: an empty suffix-list URL list makes it use the snapshot it ships instead of
fetching one (which hangs offline), and its cache goes under the state folder, not ``$HOME``.
A value already set in the environment is left alone.
"""

from __future__ import annotations

import os

from edge_insights.settings import Settings

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("TLDEXTRACT_CACHE",
                      str(Settings.from_env().state_dir / "cache" / "tldextract"))
