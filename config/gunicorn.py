"""gunicorn settings for the app servers: ``gunicorn -c config/gunicorn.py config.wsgi``.

Access and error lines go through the same redaction as Django's loggers
(``config.logging.RedactSecretsFilter``): a hosted connect link's token in ``/connect/<token>/``
and an OAuth callback's ``code`` and ``state`` never reach the log in clear. Environment:
``GUNICORN_BIND`` (default ``127.0.0.1:8000``), ``WEB_CONCURRENCY`` (workers, default 2),
``GUNICORN_TIMEOUT`` (seconds, default 30), ``GUNICORN_ACCESS_LOG`` (``-`` for stdout, a
path, or empty for none; default ``-``).
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn import glogging

from config.logging import RedactSecretsFilter

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
# No control socket: its one default path (~/.gunicorn/gunicorn.ctl) would be shared by every
# app server on the machine (make cluster starts two; the tests start several).
control_socket_disable = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


class RedactingLogger(glogging.Logger):
    """gunicorn's logger with the project's redaction on its access and error lines."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactSecretsFilter) for f in log.filters):
                log.addFilter(RedactSecretsFilter())


logger_class = RedactingLogger
