"""MAC vendor names from the IEEE OUI registry shipped by the ``netaddr`` package."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def _vendor_of_oui(oui: int) -> str | None:
    from netaddr import OUI, NotRegisteredError
    try:
        return OUI(oui).registration().org.strip()
    except (NotRegisteredError, IndexError, ValueError):
        return None


def vendor(mac: str) -> str | None:
    """The registered organisation for a MAC address (``00:e0:fc:..`` -> Huawei), or None.

    Locally administered and group addresses have no vendor."""
    first = int(mac[0:2], 16)
    if first & 0x03:
        return None
    return _vendor_of_oui(int(mac[0:8].replace(":", ""), 16))
