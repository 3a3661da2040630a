"""Keep Presidio's dependencies off the network; import before ``presidio_analyzer``.

``tldextract`` (imported by Presidio's e-mail and URL recognizers) reads these variables once, at
its own import: an empty suffix-list URL list makes it use the snapshot it ships instead of
fetching one (which hangs offline). Its cache folder (``TLDEXTRACT_CACHE``) is pointed into the
state folder by :meth:`commons.settings.Settings.ensure`. A value already set is left alone.
"""

from __future__ import annotations

import os

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
