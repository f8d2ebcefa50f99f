"""One spelling per person: addresses are normalised, or refused with the reason."""

from __future__ import annotations

import pytest

from symbox.config.people import InvalidEmail, canonical_email, same_person


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("Carol@Example.COM", "carol@example.com"),
        ("  carol@example.com\t", "carol@example.com"),
        ("\uff43arol@example.com", "carol@example.com"),  # fullwidth c
        ("jose\u0301@example.com", "jos\u00e9@example.com"),  # composed by NFKC
        ("ivan@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444", "ivan@пример.рф"),
        ("\u5c71\u7530\u3084\u307e\u3060@example.jp", "山田やまだ@example.jp"),
        ("o'neil_2@mail.example.com", "o'neil_2@mail.example.com"),
    ],
)
def test_addresses_are_normalised(text: str, canonical: str) -> None:
    assert canonical_email(text) == canonical


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("carol\u200b@example.com", "invisible"),  # zero-width space
        ("carol@example.com\u200e", "invisible"),  # left-to-right mark
        ("car\u00adol@example.com", "invisible"),  # soft hyphen
        ("carol\u2060@example.com", "invisible"),  # word joiner
        ("ca rol@example.com", "invisible"),
        ("carol\u3164@example.com", "invisible"),  # Hangul filler
        ("c\u0430rol@example.com", "mixes scripts (Cyrillic, Latin)"),
        ("carol@ex\u0430mple.com", "mixes scripts (Cyrillic, Latin)"),
        ("\u03bfscar@example.com", "mixes scripts (Greek, Latin)"),
        ("carol@example.com.", "empty label"),
        ("carol@example..com", "empty label"),
        ("carol@.example.com", "empty label"),
        ("carol.@example.com", "empty dot-separated piece"),
        ("carol+prod@example.com", "'+' tags are not accepted"),
        ("carol", "expected an email address"),
        ("carol@a@example.com", "expected an email address"),
        ("@example.com", "expected an email address"),
        ('"carol"@example.com', "is not allowed in the name part"),
        ("carol@-example.com", "starts or ends with '-'"),
        ("carol@exa_mple.com", "is not allowed in the domain"),
    ],
)
def test_look_alike_and_malformed_addresses_are_refused(text: str, why: str) -> None:
    with pytest.raises(InvalidEmail) as refused:
        canonical_email(text)
    assert why in str(refused.value)


def test_stored_spellings_compare_as_one_person() -> None:
    assert same_person("Carol@Example.com", "\uff43arol@example.com")
    assert not same_person("carol@example.com", "c\u0430rol@example.com")
