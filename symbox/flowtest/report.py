"""How ``symbox test`` shows results: a line per case, diffs, the trace, and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from symbox.config import format_duration
from symbox.config.hcl import show
from symbox.flowtest.runner import CaseResult

WORDS = {"passed": "PASSED", "failed": "FAILED", "error": "ERROR"}


def case_line(result: CaseResult) -> str:
    """One case's line: ``file::name PASSED``."""
    return f"{result.case.id} {WORDS[result.status]}"


def _value(key: str, value: Any) -> str:
    if key == "duration" and isinstance(value, int) and not isinstance(value, bool):
        return show(format_duration(value))
    return (
        value
        if isinstance(value, str) and key.startswith(("approve by", "deny by"))
        else show(value)
    )


def details(result: CaseResult) -> list[str]:
    """Why a case did not pass: expected (-) against got (+), or its error."""
    if result.status == "passed":
        return []
    case = result.case
    lines = [f"___ {case.id} ({case.location}) ___"]
    if result.status == "error":
        lines.extend(f"error: {error}" for error in result.errors)
        return lines
    lines.append("expected (-), got (+):")
    for mismatch in result.mismatches:
        lines.append(f"- {mismatch.key} = {_value(mismatch.key, mismatch.expected)}")
        lines.append(f"+ {mismatch.key} = {_value(mismatch.key, mismatch.got)}")
    if result.got.get("errors") and all(item.key != "errors" for item in result.mismatches):
        # A refused request or a failed hook explains most unexpected outcomes.
        lines.extend(f"  (error: {error})" for error in result.got["errors"])
    return lines


def summary(results: Sequence[CaseResult], seconds: float) -> str:
    """``2 passed, 1 failed in 0.84s``."""
    counts = [
        f"{count} {word}"
        for word in ("passed", "failed", "error")
        if (count := sum(1 for result in results if result.status == word))
    ]
    return f"{', '.join(counts) or 'no cases'} in {seconds:.2f}s"


def explanation(result: CaseResult) -> list[str]:
    """The case's steps in order: requests and decisions, hooks and what they returned."""
    lines = [f"trace of {result.case.id}:"]
    for number, step in enumerate(result.trace, 1):
        lines.append(f"{number:3}. [{step.kind}] {step.text}")
    lines.append("got:")
    for key, value in result.got.items():
        lines.append(f"  {key} = {_value(key, value)}")
    return lines


def junit_xml(results: Sequence[CaseResult], seconds: float) -> bytes:
    """The results as JUnit XML, one testcase per case, for CI systems to show."""
    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="symbox test",
        tests=str(len(results)),
        failures=str(sum(1 for result in results if result.status == "failed")),
        errors=str(sum(1 for result in results if result.status == "error")),
        time=f"{seconds:.3f}",
    )
    for result in results:
        case = result.case
        element = ET.SubElement(
            suite,
            "testcase",
            classname=case.location.file,
            name=case.name,
            file=case.location.file,
            line=str(case.location.line),
            time=f"{result.seconds:.3f}",
        )
        text = "\n".join(details(result)[1:])
        if result.status == "failed":
            first = result.mismatches[0].key if result.mismatches else "expectation"
            ET.SubElement(element, "failure", message=f"{first} did not match").text = text
        elif result.status == "error":
            message = result.errors[0] if result.errors else "error"
            ET.SubElement(element, "error", message=message).text = text
    ET.indent(suites)
    return bytes(ET.tostring(suites, encoding="utf-8", xml_declaration=True)) + b"\n"
