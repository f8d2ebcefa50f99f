"""People as config names them and symbox compares them: emails, bots, approver entries.

Every address entering symbox (API requests, tokens, Slack profiles, approver lists,
``get_permissions`` answers, ``symbox users``) goes through ``canonical_email``, so two
spellings that look alike on screen can never be two identities, or one identity under
two names.
"""

from __future__ import annotations

import re
import unicodedata

# Atext of RFC 5322 besides letters and digits; quoted local parts are not accepted.
_LOCAL_SYMBOLS = frozenset("!#$%&'*-/=?^_`{|}~.")
# Categories that print nothing or nothing reliable: controls, format characters
# (zero-width spaces and joiners, direction marks), surrogates, private use, unassigned,
# separators, and combining marks (left over after NFKC, they only decorate a letter).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})
# Letters that render as blank space.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Scripts written together in one language count as one script.
_SCRIPT_FAMILIES = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK", "IDEOGRAPHIC": "CJK"}


class InvalidEmail(ValueError):
    """The text is not an address symbox accepts; the message says why."""


def canonical_email(text: str) -> str:
    """The address as symbox stores it, or InvalidEmail saying why it is refused.

    NFKC-normalised and lowercased (symbox treats whole addresses as case-insensitive,
    as mail providers and identity providers do), with no invisible characters, one
    script per part, no empty labels or trailing dots, and no ``+tag``.
    """
    address = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text.strip()).lower())
    for char in address:
        if unicodedata.category(char) in _REFUSED_CATEGORIES or char in _BLANK_LETTERS:
            raise InvalidEmail(
                f"{text!r}: contains an invisible or combining character"
                f" (U+{ord(char):04X}); type the address itself"
            )
    local, at, domain = address.partition("@")
    if not at or not local or not domain or "@" in domain:
        raise InvalidEmail(f"{text!r}: expected an email address")
    if "+" in local:
        # A tag names the same mailbox: accepting it would give one person two names.
        raise InvalidEmail(f"{text!r}: '+' tags are not accepted; use the address without it")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidEmail(f"{text!r}: the name part has an empty dot-separated piece")
    for char in local:
        if not (char.isalnum() or char in _LOCAL_SYMBOLS):
            raise InvalidEmail(f"{text!r}: {char!r} is not allowed in the name part")
    _one_script(text, local)
    for label in domain.split("."):
        if not label:
            raise InvalidEmail(f"{text!r}: the domain has an empty label (or a trailing dot)")
        if label.startswith("-") or label.endswith("-"):
            raise InvalidEmail(f"{text!r}: a domain label starts or ends with '-'")
        for char in label:
            if not (char.isalnum() or char == "-"):
                raise InvalidEmail(f"{text!r}: {char!r} is not allowed in the domain")
        _one_script(text, label)
    return address


def same_person(first: str, second: str) -> bool:
    """Tell whether two stored addresses name one person, however each was written."""
    return _loose(first) == _loose(second)


def _loose(text: str) -> str:
    # Records written before addresses were checked may hold another spelling.
    try:
        return canonical_email(text)
    except InvalidEmail:
        return unicodedata.normalize("NFKC", text.strip()).lower()


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None  # digits and symbols belong to every script
    name = unicodedata.name(char, "")
    first = name.split(" ", 1)[0]
    if name.startswith("CJK "):
        return "CJK"
    return _SCRIPT_FAMILIES.get(first, first)


def _one_script(text: str, part: str) -> None:
    if part.isascii():
        # Every ASCII letter is Latin: nothing to mix (and no name lookup per character).
        return
    scripts = {script for script in map(_script, part) if script is not None}
    if len(scripts) > 1:
        # Latin mixed with Cyrillic or Greek look-alikes is how an address impersonates
        # another; real addresses keep to one script per part.
        names = ", ".join(sorted(script.title() for script in scripts))
        raise InvalidEmail(f"{text!r}: mixes scripts ({names}) in {part!r}")


# A flow's vars name its approvers; entries are emails, or ``bot:NAME`` for a bot token.
APPROVERS_VAR = "approvers"
SELF_APPROVAL_VAR = "allow_self_approval"


# What ``tokens issue --bot`` takes as a bot's name.
BOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class InvalidApprover(ValueError):
    """An approver entry that no sign-in could ever match; the message says why."""


def approver_entry(text: str) -> str:
    """One approver entry as compared: ``bot:NAME``, or a canonical email (else InvalidApprover)."""
    entry = text.strip()
    if entry.lower().startswith("bot:"):
        if not BOT_NAME.match(entry[4:]):
            raise InvalidApprover(
                f"{entry!r}: a bot is bot:NAME, NAME as `tokens issue --bot` takes it "
                "(letters, digits, '.', '_', '-'; at most 64)"
            )
        return entry.lower()
    if entry.count("@") > 1 or ";" in entry:
        raise InvalidApprover(f"{entry!r}: holds more than one entry; separate approvers with ','")
    try:
        return canonical_email(entry)
    except InvalidEmail as error:
        raise InvalidApprover(str(error)) from None
