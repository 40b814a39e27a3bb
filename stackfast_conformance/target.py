"""What the checks talk to (URLs, transport) and what they expect of it (origins, limits)."""

from __future__ import annotations

import itertools
import os
import random
from dataclasses import dataclass
from typing import Any

from stackfast_conformance.settings import Settings


@dataclass
class Target:
    settings: Settings
    reference: Any = None  # the running embedded reference, when the run started one

    @property
    def api_url(self) -> str | None:
        return self.settings.api_url

    @property
    def web_url(self) -> str | None:
        return self.settings.web_url

    @property
    def staging_api_url(self) -> str | None:
        return self.settings.staging_api_url

    @property
    def staging_web_url(self) -> str | None:
        return self.settings.staging_web_url

    @property
    def profile(self) -> str:
        return self.settings.profile

    @property
    def environment(self) -> str:
        return self.settings.environment

    @property
    def expected_web_origin(self) -> str | None:
        return self.settings.expected.get("web_origin") or self.web_url

    @property
    def expected_api_origin(self) -> str | None:
        return self.settings.expected.get("api_origin") or self.api_url

    @property
    def expected_cookie_domain(self) -> str | None:
        return self.settings.expected.get("cookie_domain")

    @property
    def window_seconds(self) -> float:
        return self.settings.window_seconds

    @property
    def generation_limit(self) -> int:
        return self.settings.generation_limit

    @property
    def read_limit(self) -> int:
        return self.settings.read_limit

    @property
    def connect_to(self) -> tuple[str, ...]:
        return self.settings.connect_to

    @property
    def ca_bundle(self) -> str | None:
        return self.settings.ca_bundle

    @property
    def admin_key(self) -> str:
        return self.settings.secrets.get("admin_key", "")

    @property
    def staging_admin_key(self) -> str:
        return self.settings.secrets.get("staging_admin_key", "")

    @property
    def session_cookie(self) -> str:
        return self.settings.secrets.get("session_cookie", "")

    def bases(self) -> dict[str, str | None]:
        return {
            "api": self.api_url,
            "web": self.web_url,
            "staging_api": self.staging_api_url,
            "staging_web": self.staging_web_url,
        }


class IdentityFactory:
    """Unique client ids (x-forwarded-for values) from the IPv6 documentation range.

    A random 32-bit run tag plus the process id keep runs and xdist workers from sharing a bucket.
    """

    def __init__(self) -> None:
        tag = random.SystemRandom().getrandbits(32)
        self._prefix = f"2001:db8:{tag >> 16:x}:{tag & 0xFFFF:x}:{os.getpid() & 0xFFFF:x}"
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}::{next(self._counter):x}"
