"""DRF's throttles, reading their rates when asked rather than once at import, so
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (env API_THROTTLE_ANON / API_THROTTLE_USER) can be
changed by settings overrides. A throttled request gets 429 with `Retry-After`."""

from rest_framework import throttling
from rest_framework.settings import api_settings


class _LiveRate:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonThrottle(_LiveRate, throttling.AnonRateThrottle):
    pass


class UserThrottle(_LiveRate, throttling.UserRateThrottle):
    pass
