"""SPEC §5: a payment webhook is believed only when it is signed; the refusal says why (its message is the 401's)."""

from __future__ import annotations

import pytest

from providers.signatures import (
    TOLERANCE_SECONDS, BadSignature, liqpay_signature, sign_timestamped, verify_liqpay, verify_timestamped,
)

SECRET = "whsec_test"
BODY = b'{"event_id": "e1"}'
NOW = 1_800_000_000


def test_a_signed_body_within_the_tolerance_gives_its_timestamp():
    assert verify_timestamped(SECRET, sign_timestamped(SECRET, BODY, NOW - 10), BODY, NOW) == NOW - 10


@pytest.mark.parametrize("header", [None, ""])
def test_no_header_is_refused_as_missing(header):
    with pytest.raises(BadSignature, match="^missing signature header$"):
        verify_timestamped(SECRET, header, BODY, NOW)


@pytest.mark.parametrize("header", ["v1=abc", f"t={NOW}", "t=12a,v1=abc", "t=1234567890123,v1=abc", "nonsense"])
def test_a_header_without_a_usable_time_or_signature_is_refused_as_malformed(header):
    with pytest.raises(BadSignature, match="^malformed signature header$"):
        verify_timestamped(SECRET, header, BODY, NOW)


def test_a_twelve_digit_time_is_read_and_then_judged_by_the_tolerance():
    header = sign_timestamped(SECRET, BODY, 100_000_000_000)
    with pytest.raises(BadSignature, match="^timestamp outside the tolerance$"):
        verify_timestamped(SECRET, header, BODY, NOW)


@pytest.mark.parametrize("offset", [TOLERANCE_SECONDS, -TOLERANCE_SECONDS])
def test_a_signature_exactly_at_the_tolerance_is_accepted(offset):
    assert verify_timestamped(SECRET, sign_timestamped(SECRET, BODY, NOW + offset), BODY, NOW) == NOW + offset


@pytest.mark.parametrize("offset", [TOLERANCE_SECONDS + 1, -TOLERANCE_SECONDS - 1])
def test_a_signature_a_second_past_the_tolerance_is_refused_as_a_possible_replay(offset):
    with pytest.raises(BadSignature, match="^timestamp outside the tolerance$"):
        verify_timestamped(SECRET, sign_timestamped(SECRET, BODY, NOW + offset), BODY, NOW)


def test_a_signature_of_another_body_or_secret_is_refused_as_not_matching():
    for header in (sign_timestamped(SECRET, b"{}", NOW), sign_timestamped("other", BODY, NOW)):
        with pytest.raises(BadSignature, match="^signature does not match$"):
            verify_timestamped(SECRET, header, BODY, NOW)


def test_one_matching_signature_among_several_is_enough_during_a_secret_rotation():
    old = sign_timestamped("old-secret", BODY, NOW).split("v1=")[1]
    new = sign_timestamped(SECRET, BODY, NOW)
    assert verify_timestamped(SECRET, f"{new},v1={old}", BODY, NOW) == NOW
    assert verify_timestamped(SECRET, f"t={NOW},v1={old},{new.split(',')[1]}", BODY, NOW) == NOW


def test_a_non_ascii_signature_is_refused_not_an_error():
    with pytest.raises(BadSignature, match="^signature does not match$"):
        verify_timestamped(SECRET, f"t={NOW},v1=ё", BODY, NOW)


def test_liqpay_data_signed_with_the_private_key_is_accepted():
    verify_liqpay("private", "eyJhIjoxfQ==", liqpay_signature("private", "eyJhIjoxfQ=="))


@pytest.mark.parametrize(("data", "signature"), [(None, "sig"), ("data", None), ("", "sig"), ("data", ""), (None, None)])
def test_liqpay_without_data_or_signature_is_refused_as_missing(data, signature):
    with pytest.raises(BadSignature, match="^missing data or signature$"):
        verify_liqpay("private", data, signature)


@pytest.mark.parametrize("signature", ["wrong", "ёё", None])
def test_liqpay_with_another_signature_is_refused_as_not_matching(signature):
    signature = signature or liqpay_signature("another-key", "data")
    with pytest.raises(BadSignature, match="^signature does not match$"):
        verify_liqpay("private", "data", signature)
