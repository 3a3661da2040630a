"""Scrapy settings module for the harvest (``Settings().setmodule("crawlers.settings")``).

Etiquette first: obey robots.txt, say who we are, adapt the pace to the server (AutoThrottle),
and bound every download. ``HTTPERROR_ALLOW_ALL`` hands 404s and other non-2xx responses to the
spider so it can quarantine them instead of losing them in a middleware.
The output folder is not set here: :mod:`crawlers.run_crawl` sets ``EDGE_INSIGHTS_OUT_DIR``.
"""

BOT_NAME = "edge_insights"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

ROBOTSTXT_OBEY = True
USER_AGENT = "edge-insights (+local)"

CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
AUTOTHROTTLE_ENABLED = True
# The default 5 s start delay would dominate a small crawl; AutoThrottle still backs off if the
# server slows down.
AUTOTHROTTLE_START_DELAY = 0.25
AUTOTHROTTLE_MAX_DELAY = 10.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0

DOWNLOAD_TIMEOUT = 20  # seconds
DOWNLOAD_MAXSIZE = 5 * 1024 * 1024  # bytes; product pages are ~50 KB
DOWNLOAD_WARNSIZE = 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2
HTTPERROR_ALLOW_ALL = True

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
