"""The one vocabulary of recognition methods: the recognition record, the pension-eligibility
certificate's `method`, the face service's `alternatives` and the API all use these codes.

(The certificate type's enum in `backend/certificates/data/certificate_types.json` lists the same
codes; a test holds them equal.)
"""

from __future__ import annotations

from typing import Literal

Method = Literal["face-phone", "family-proxy", "kiosk", "assisted-counter", "home-visit", "silent"]

# code → (Chinese, English): what a person reads on the status page and the certificate.
METHODS: dict[str, tuple[str, str]] = {
    "face-phone": ("本人手机刷脸认证", "face check on one's own phone"),
    "family-proxy": ("亲情代办认证", "family proxy (a relative's phone)"),
    "kiosk": ("自助终端认证", "self-service kiosk"),
    "assisted-counter": ("窗口协助认证", "assisted at a service window"),
    "home-visit": ("上门认证", "home visit"),
    "silent": ("静默认证（数据比对）", "silent recognition from other departments' data"),
}

# What to offer instead when face checks on the phone keep failing; face is never the only route.
FACE_ALTERNATIVES: list[str] = ["kiosk", "assisted-counter", "home-visit", "family-proxy"]
# Methods staff of the residence division record.
STAFF_METHODS = frozenset({"assisted-counter", "home-visit"})
