"""Scrapy settings module for the harvest (``Settings().setmodule("crawlers.settings")``).

Etiquette first: obey robots.txt, say who we are, adapt the pace to the server (AutoThrottle),
wait longer after each failure (exponential backoff), and bound every download in time and size.
``HTTPERROR_ALLOW_ALL`` hands 404s and other non-2xx responses to the spider so it can quarantine
them instead of losing them in a middleware.

Not set here: the output folder (:mod:`crawlers.run_crawl` sets ``EDGE_INSIGHTS_OUT_DIR``) and the
HTTP cache folder (``edge-insights crawl --http-cache DIR`` switches the cache on with an absolute
``HTTPCACHE_DIR``; Scrapy would put a relative one under ``.scrapy/`` in the source tree).
Any setting can be overridden per crawl with ``edge-insights crawl --set NAME=VALUE``, e.g. loopback tests
shorten the delays.
"""

import importlib.util

BOT_NAME = "edge_insights"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

ROBOTSTXT_OBEY = True
USER_AGENT = "edge-insights (+local)"

CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
AUTOTHROTTLE_ENABLED = True
# The default 5 s start delay would dominate a small crawl; AutoThrottle still backs off if the
# server slows down, up to the max delay.
AUTOTHROTTLE_START_DELAY = 0.25
AUTOTHROTTLE_MAX_DELAY = 10.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0

# Profile for a server on this machine (benchmarks/crawl_speed.py; pass each as ``edge-insights crawl --set
# NAME=VALUE``). AutoThrottle stays on and adapts as ever, but aims at the per-domain concurrency
# the raw fetch of the benchmark uses, and starts without the 0.25 s guess meant for a remote shop
# (404s never lower AutoThrottle's delay, so on a 404-heavy crawl the start delay lingers).
# Lower case: not a Scrapy setting, never loaded by ``setmodule``. Production keeps the polite
# values above.
loopback_profile = {
    "AUTOTHROTTLE_TARGET_CONCURRENCY": CONCURRENT_REQUESTS_PER_DOMAIN,
    "AUTOTHROTTLE_START_DELAY": 0,
}

DOWNLOAD_TIMEOUT = 20  # seconds
DOWNLOAD_MAXSIZE = 5 * 1024 * 1024  # bytes; product pages are ~50 KB. Over it: "too_large"
DOWNLOAD_WARNSIZE = 1024 * 1024
# A redirect chain longer than this is a loop for a shop page (Scrapy's default is Firefox's 20).
REDIRECT_MAX_TIMES = 5

RETRY_ENABLED = True
RETRY_TIMES = 2  # 3 attempts in all
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]  # Scrapy's default, named for the cache
RETRY_BACKOFF_BASE = 1.0  # seconds before the 1st retry, doubling (crawlers.middlewares)
RETRY_BACKOFF_MAX = 30.0  # seconds, cap on one wait
HTTPERROR_ALLOW_ALL = True

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawlers.middlewares.BackoffRetryMiddleware": 550,
    # Before robots.txt (100), so an offsite redirect target is refused before its host is contacted.
    "crawlers.middlewares.RedirectGuard": 50,
    # Every enabled middleware costs every request a coroutine hop. These two do nothing for
    # BooksSpider: it sets no ``allowed_domains`` (offsite) and no ``http_user`` (auth).
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
}
# Kept from Scrapy's defaults: robots.txt, timeout, default headers, user agent, meta refresh,
# compression, redirects (REDIRECT_MAX_TIMES → "redirect_loop"), proxy env vars, downloader stats
# (``response_bytes``), and on the spider side the Referer header (the redirect middlewares warn
# at every start without it). Dropped on the spider side, as they only re-check the spider's own
# requests: the 2,083-character URL cap (it would drop a product link silently and break the
# one-outcome-per-link invariant), depth stats (no DEPTH_LIMIT is set) and a development lint on
# copied ``meta`` keys.
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
}
EXTENSIONS = {"crawlers.middlewares.ThrottleStats": 500}

# The cache stores every response but transient failures: a re-crawl from the cache must replay
# what the first crawl finally got, not the 503 it retried past.
HTTPCACHE_ENABLED = False
HTTPCACHE_EXPIRATION_SECS = 0  # never expire: the cache exists to make re-crawls reproducible
HTTPCACHE_IGNORE_HTTP_CODES = RETRY_HTTP_CODES
HTTPCACHE_GZIP = True

# Throughput (benchmarks/crawl_speed.py): Scrapy starts CONCURRENT_ITEMS worker tasks for the
# output of every response (default 100: ~100,000 asyncio tasks for a 1,000-page crawl); the item
# pipelines here are synchronous, so a few workers lose nothing.
CONCURRENT_ITEMS = 8
# A development lint that re-parses the callback's source with ast for every response (its cache is
# keyed by the bound method, new per request): ~0.8 ms a page.
WARN_ON_GENERATOR_RETURN_VALUE = False

# uvloop (libuv) runs the asyncio loop under Twisted's asyncio reactor with less overhead per
# event than the stdlib loop; Scrapy supports it (its ``uvloop`` extra). Used when installed.
ASYNCIO_EVENT_LOOP = "uvloop.Loop" if importlib.util.find_spec("uvloop") else None

COOKIES_ENABLED = False
# Both open a control port, and remote control also keeps job files under $HOME: a harvest
# needs neither.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"

ITEM_PIPELINES = {
    "crawlers.pipelines.NormalizePipeline": 100,
    "crawlers.pipelines.JsonLinesWriterPipeline": 900,
}
