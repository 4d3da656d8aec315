"""Settings of the load benchmark's app servers: the local settings (loopback, sandbox off is
not needed) with DEBUG off and the bench URLs (the bare view)."""

from config.settings.local import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "bench.urls"
