"""Sample ids that look like personal data: `personal_id_kind` names the kind (an e-mail address, a date
such as a date of birth, a US social security number, a UK NHS number, a phone number) or gives None.

An uploaded file, an API body and a notebook's input carry de-identified samples; an id that is a person's
contact detail, birth date or national number must not reach the portal's records. The checks are shapes,
not a directory of people: e-mail addresses, SSNs (123-45-6789) and dates (1970-01-31, 31/01/1970,
31.01.1970, 31 Jan 1970; days, months and years 1900-2099 that exist on a calendar) are found anywhere in
an id; an NHS number is an id of 10 digits (3-3-4 groups may be spaced) whose check digit is right; a
phone number is an id that starts with + or 00 and has 8 to 15 digits anywhere, or an id that is a
national number (10 to 13 digits, starting with 0 or written in groups, such as (555) 123-4567).
Bare numbers that start with another digit are lab numbers and COSMIC ids (683665): they pass, as do TCGA
barcodes (TCGA-A1-A0SB-01A-11R-A144-07, with dots or dashes).
"""
from __future__ import annotations

import re

_ADDRESS = r"[^\s@<>()\[\],;:\"]"  # a character of an address's parts
# begins where a run of them begins (the lookbehind): a match tried inside every run would take quadratic time
EMAIL = re.compile(rf"(?<!{_ADDRESS}){_ADDRESS}+@{_ADDRESS}+\.[A-Za-z]{{2,}}")
SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)\d{2}"
_MONTH_NAME = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
DATES = (
    re.compile(rf"(?<!\d){_YEAR}([-/.]){_MONTH}\1{_DAY}(?!\d)"),  # 1970-01-31
    re.compile(rf"(?<!\d){_DAY}([-/.]){_MONTH}\1{_YEAR}(?!\d)"),  # 31/01/1970, 31.01.1970
    re.compile(rf"(?<!\d){_MONTH}([-/.]){_DAY}\1{_YEAR}(?!\d)"),  # 01/31/1970
    re.compile(rf"(?<![\da-z]){_DAY}[ -]{_MONTH_NAME}[ -,]+{_YEAR}(?!\d)", re.IGNORECASE),  # 31 Jan 1970
    re.compile(rf"(?<![a-z]){_MONTH_NAME}[ -]{_DAY},? {_YEAR}(?!\d)", re.IGNORECASE),  # January 31, 1970
)
TCGA_BARCODE = re.compile(r"TCGA([-.])[A-Z0-9]{2}\1[A-Z0-9]{4}(?:\1\d{2}[A-Z]?(?:\1\d{2}[A-Z](?:\1[A-Z0-9]{4}"
                          r"(?:\1\d{2})?)?)?)?", re.IGNORECASE)
COSMIC_ID = re.compile(r"(?:COSMIC[_-]?)?\d{1,7}", re.IGNORECASE)
NHS = re.compile(r"\d{3}([ -]?)\d{3}\1\d{4}")
INTERNATIONAL = re.compile(r"(?:\+|(?<!\d)00)\d[\d ().-]{6,}\d")
NATIONAL = re.compile(r"\(?\d[\d ().-]*\d")

EMAIL_KIND = "an e-mail address"
DATE_KIND = "a date (such as a date of birth)"
SSN_KIND = "a US social security number"
NHS_KIND = "a UK NHS number"
PHONE_KIND = "a phone number"


def personal_id_kind(sample_id: str) -> str | None:
    """The kind of personal data `sample_id` looks like, or None."""
    text = str(sample_id).strip()
    if TCGA_BARCODE.fullmatch(text) or COSMIC_ID.fullmatch(text):
        return None
    if "@" in text and EMAIL.search(text):
        return EMAIL_KIND
    if _count_digits(text) < 6:  # the shortest date (1/1/1970) has six digits
        return None
    if SSN.search(text):
        return SSN_KIND
    if any(pattern.search(text) for pattern in DATES):
        return DATE_KIND
    if NHS.fullmatch(text) and nhs_check_digit_ok(re.sub(r"\D", "", text)):
        return NHS_KIND
    if _is_phone(text):
        return PHONE_KIND
    return None


def nhs_check_digit_ok(digits: str) -> bool:
    """The NHS number's modulus-11 check: weights 10 to 2 on the first nine digits."""
    total = sum(int(d) * weight for d, weight in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    return check != 10 and (check % 11) == int(digits[9])


def _is_phone(text: str) -> bool:
    match = INTERNATIONAL.search(text)
    if match and 8 <= _count_digits(match.group(0)) <= 15:
        return True
    if not NATIONAL.fullmatch(text) or not 10 <= _count_digits(text) <= 13:
        return False
    return text.startswith(("0", "(")) or bool(re.search(r"\d[ ().-]+\d", text))


def _count_digits(text: str) -> int:
    return sum(c.isdigit() for c in text)
