"""Coordinates: parsing, a Korea bounding box, Kakao map coordinates, distance labels."""

from __future__ import annotations

import math
import re

# Mainland, Jeju, Ulleungdo and Dokdo, with a margin.
KOREA_LAT = (33.0, 38.7)
KOREA_LON = (124.5, 132.0)

# Kakao "WCONGNAMUL" = 2.5 x WTM, a transverse Mercator on GRS80 (origin 38N 127E,
# false easting 200 km, false northing 500 km). Checked against the rows of the zero-waste
# map that carry both: within 0.6 m.
_WCONG_SCALE = 2.5
_A = 6378137.0
_F = 1 / 298.257222101
_LAT0, _LON0 = math.radians(38.0), math.radians(127.0)
_FALSE_E, _FALSE_N = 200_000.0, 500_000.0

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def parse_degree(raw: str | None) -> float | None:
    """A decimal degree, tolerating stray characters around it (``37.45?``); else ``None``."""
    text = (raw or "").strip()
    if not text:
        return None
    numbers = _NUMBER.findall(text)
    if len(numbers) != 1 or text.count(".") > 1:
        return None
    return float(numbers[0])


def in_korea(lat: float, lon: float) -> bool:
    return KOREA_LAT[0] <= lat <= KOREA_LAT[1] and KOREA_LON[0] <= lon <= KOREA_LON[1]


def _meridian_arc(phi: float, e2: float) -> float:
    return _A * (
        (1 - e2 / 4 - 3 * e2**2 / 64 - 5 * e2**3 / 256) * phi
        - (3 * e2 / 8 + 3 * e2**2 / 32 + 45 * e2**3 / 1024) * math.sin(2 * phi)
        + (15 * e2**2 / 256 + 45 * e2**3 / 1024) * math.sin(4 * phi)
        - (35 * e2**3 / 3072) * math.sin(6 * phi)
    )


def wcongnamul_to_wgs84(x: float, y: float) -> tuple[float, float]:
    """Kakao map x/y → (lat, lon) by the inverse transverse Mercator (Snyder, 8-9)."""
    easting, northing = x / _WCONG_SCALE, y / _WCONG_SCALE
    e2 = _F * (2 - _F)
    ep2 = e2 / (1 - e2)
    mu = (_meridian_arc(_LAT0, e2) + northing - _FALSE_N) / (
        _A * (1 - e2 / 4 - 3 * e2**2 / 64 - 5 * e2**3 / 256)
    )
    e1 = (1 - math.sqrt(1 - e2)) / (1 + math.sqrt(1 - e2))
    phi1 = (
        mu
        + (3 * e1 / 2 - 27 * e1**3 / 32) * math.sin(2 * mu)
        + (21 * e1**2 / 16 - 55 * e1**4 / 32) * math.sin(4 * mu)
        + (151 * e1**3 / 96) * math.sin(6 * mu)
        + (1097 * e1**4 / 512) * math.sin(8 * mu)
    )
    c1, t1 = ep2 * math.cos(phi1) ** 2, math.tan(phi1) ** 2
    n1 = _A / math.sqrt(1 - e2 * math.sin(phi1) ** 2)
    r1 = _A * (1 - e2) / (1 - e2 * math.sin(phi1) ** 2) ** 1.5
    d = (easting - _FALSE_E) / n1
    lat = phi1 - (n1 * math.tan(phi1) / r1) * (
        d**2 / 2
        - (5 + 3 * t1 + 10 * c1 - 4 * c1**2 - 9 * ep2) * d**4 / 24
        + (61 + 90 * t1 + 298 * c1 + 45 * t1**2 - 252 * ep2 - 3 * c1**2) * d**6 / 720
    )
    lon = _LON0 + (
        d
        - (1 + 2 * t1 + c1) * d**3 / 6
        + (5 - 2 * c1 + 28 * t1 - 3 * c1**2 + 8 * ep2 + 24 * t1**2) * d**5 / 120
    ) / math.cos(phi1)
    return round(math.degrees(lat), 7), round(math.degrees(lon), 7)


def distance_text(metres: float) -> str:
    """``350m`` under a kilometre, else ``1.2km`` (contract §3.12)."""
    rounded = round(metres)
    if rounded < 1000:
        return f"{rounded}m"
    return f"{metres / 1000:.1f}km"


EARTH_RADIUS_M = 6378168.0  # earthdistance's earth(): distances agree with the SQL ones


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine, on earthdistance's sphere)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
