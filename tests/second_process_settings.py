"""Settings for a second app-server process in tests: the suite's database and shared cache."""

import json
import os

from config.settings.test import *  # noqa: F403

DATABASES = {"default": json.loads(os.environ["SECOND_PROCESS_DATABASE"])}
CACHES = {"default": json.loads(os.environ["SECOND_PROCESS_CACHE"])}
