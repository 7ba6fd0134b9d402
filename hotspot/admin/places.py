"""Countries the business step offers, each with the currency and time zone to suggest.

Not every country: the ones WiFi businesses like ours run in first (East, Southern and West
Africa), then a few elsewhere. "Other" leaves the currency and time zone to choose freely from
every ISO 4217 currency and IANA time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from zoneinfo import available_timezones

from iso4217 import Currency

__all__ = ["COUNTRIES", "Country", "country", "currencies", "timezones"]


@dataclass(frozen=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    name: str
    currency: str  # ISO 4217
    timezone: str  # IANA


COUNTRIES: tuple[Country, ...] = (
    Country("KE", "Kenya", "KES", "Africa/Nairobi"),
    Country("UG", "Uganda", "UGX", "Africa/Kampala"),
    Country("TZ", "Tanzania", "TZS", "Africa/Dar_es_Salaam"),
    Country("RW", "Rwanda", "RWF", "Africa/Kigali"),
    Country("BI", "Burundi", "BIF", "Africa/Bujumbura"),
    Country("ET", "Ethiopia", "ETB", "Africa/Addis_Ababa"),
    Country("SO", "Somalia", "SOS", "Africa/Mogadishu"),
    Country("SS", "South Sudan", "SSP", "Africa/Juba"),
    Country("CD", "DR Congo", "CDF", "Africa/Kinshasa"),
    Country("MZ", "Mozambique", "MZN", "Africa/Maputo"),
    Country("MW", "Malawi", "MWK", "Africa/Blantyre"),
    Country("ZM", "Zambia", "ZMW", "Africa/Lusaka"),
    Country("ZW", "Zimbabwe", "USD", "Africa/Harare"),
    Country("BW", "Botswana", "BWP", "Africa/Gaborone"),
    Country("NA", "Namibia", "NAD", "Africa/Windhoek"),
    Country("ZA", "South Africa", "ZAR", "Africa/Johannesburg"),
    Country("LS", "Lesotho", "LSL", "Africa/Maseru"),
    Country("SZ", "Eswatini", "SZL", "Africa/Mbabane"),
    Country("MG", "Madagascar", "MGA", "Indian/Antananarivo"),
    Country("NG", "Nigeria", "NGN", "Africa/Lagos"),
    Country("GH", "Ghana", "GHS", "Africa/Accra"),
    Country("CI", "Côte d'Ivoire", "XOF", "Africa/Abidjan"),
    Country("SN", "Senegal", "XOF", "Africa/Dakar"),
    Country("CM", "Cameroon", "XAF", "Africa/Douala"),
    Country("BJ", "Benin", "XOF", "Africa/Porto-Novo"),
    Country("TG", "Togo", "XOF", "Africa/Lome"),
    Country("BF", "Burkina Faso", "XOF", "Africa/Ouagadougou"),
    Country("ML", "Mali", "XOF", "Africa/Bamako"),
    Country("SL", "Sierra Leone", "SLE", "Africa/Freetown"),
    Country("LR", "Liberia", "LRD", "Africa/Monrovia"),
    Country("GM", "Gambia", "GMD", "Africa/Banjul"),
    Country("EG", "Egypt", "EGP", "Africa/Cairo"),
    Country("MA", "Morocco", "MAD", "Africa/Casablanca"),
    Country("TN", "Tunisia", "TND", "Africa/Tunis"),
    Country("SD", "Sudan", "SDG", "Africa/Khartoum"),
    Country("AE", "United Arab Emirates", "AED", "Asia/Dubai"),
    Country("SA", "Saudi Arabia", "SAR", "Asia/Riyadh"),
    Country("IN", "India", "INR", "Asia/Kolkata"),
    Country("PK", "Pakistan", "PKR", "Asia/Karachi"),
    Country("BD", "Bangladesh", "BDT", "Asia/Dhaka"),
    Country("PH", "Philippines", "PHP", "Asia/Manila"),
    Country("ID", "Indonesia", "IDR", "Asia/Jakarta"),
    Country("BR", "Brazil", "BRL", "America/Sao_Paulo"),
    Country("MX", "Mexico", "MXN", "America/Mexico_City"),
    Country("GB", "United Kingdom", "GBP", "Europe/London"),
    Country("DE", "Germany", "EUR", "Europe/Berlin"),
    Country("FR", "France", "EUR", "Europe/Paris"),
    Country("US", "United States", "USD", "America/New_York"),
)

_BY_CODE = {c.code: c for c in COUNTRIES}


def country(code: str | None) -> Country | None:
    return _BY_CODE.get(code or "")


@cache
def currencies() -> tuple[tuple[str, str], ...]:
    """(code, name) of every current ISO 4217 currency with minor units, by code."""
    out = []
    for item in Currency:
        code = str(item.code)
        usable = len(code) == 3 and item.exponent is not None and not code.startswith("X")
        if usable or code in ("XOF", "XAF"):  # X..: metals, funds, test codes; but the CFA francs
            out.append((code, str(item.currency_name)))
    return tuple(sorted(set(out)))


@cache
def timezones() -> tuple[str, ...]:
    """IANA zone names people pick (Region/City), sorted."""
    regions = ("Africa/", "America/", "Asia/", "Atlantic/", "Australia/", "Europe/", "Indian/", "Pacific/")
    return tuple(sorted(z for z in available_timezones() if z.startswith(regions)))
