"""The harvest's Scrapy settings: etiquette stays on, and the speed trims drop only inert parts."""

from __future__ import annotations

from scrapy.settings import Settings

from crawlers import settings as crawl_settings


def project_settings() -> Settings:
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    return settings


def enabled(settings: Settings, name: str) -> set[str]:
    return {path for path, order in settings.getwithbase(name).items() if order is not None}


def test_etiquette_settings_stay_polite():
    s = project_settings()
    assert s.getbool("ROBOTSTXT_OBEY") and s.getbool("AUTOTHROTTLE_ENABLED")
    assert s.getfloat("AUTOTHROTTLE_TARGET_CONCURRENCY") == 4.0
    assert s.getfloat("AUTOTHROTTLE_START_DELAY") == 0.25
    assert s.getint("RETRY_TIMES") == 2 and s.getint("DOWNLOAD_MAXSIZE") == 5 * 1024 * 1024
    downloader = enabled(s, "DOWNLOADER_MIDDLEWARES")
    for kept in ("robotstxt.RobotsTxtMiddleware", "downloadtimeout.DownloadTimeoutMiddleware",
                 "useragent.UserAgentMiddleware", "redirect.RedirectMiddleware",
                 "redirect.MetaRefreshMiddleware", "httpcache.HttpCacheMiddleware",
                 "stats.DownloaderStats"):
        assert f"scrapy.downloadermiddlewares.{kept}" in downloader
    assert "crawlers.middlewares.BackoffRetryMiddleware" in downloader
    assert "scrapy.downloadermiddlewares.retry.RetryMiddleware" not in downloader
    spider = enabled(s, "SPIDER_MIDDLEWARES")
    assert {"scrapy.spidermiddlewares.httperror.HttpErrorMiddleware",
            "scrapy.spidermiddlewares.referer.RefererMiddleware"} <= spider
    assert "scrapy.spidermiddlewares.depth.DepthMiddleware" not in spider


def test_loopback_profile_only_retargets_autothrottle():
    profile = crawl_settings.loopback_profile
    assert set(profile) == {"AUTOTHROTTLE_TARGET_CONCURRENCY", "AUTOTHROTTLE_START_DELAY"}
    assert profile["AUTOTHROTTLE_TARGET_CONCURRENCY"] == \
        crawl_settings.CONCURRENT_REQUESTS_PER_DOMAIN
    # lower case: never loaded as a Scrapy setting
    assert project_settings().get("LOOPBACK_PROFILE") is None
