"""What a hook file shows before it runs: imports, SDK names, integrations and literal hosts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from symbox.cli.runner import ConfigRefused, load_checked
from symbox.config.hosts import AllowList
from symbox.flowhooks.checks import HookSurface, check_hook_source
from symbox.sandbox.worker import worker_modules

REPO = Path(__file__).resolve().parents[2]


def surface(integrations: frozenset[str] = frozenset(), hosts: tuple[str, ...] = ()) -> HookSurface:
    return HookSurface(
        modules=worker_modules(),
        checked_integrations=frozenset({"pagerduty", "okta", "github", "knowbe4"}),
        integrations=integrations,
        hosts=AllowList.parse(hosts),
    )


def check(source: str, where: HookSurface | None = None) -> list[str]:
    return check_hook_source(textwrap.dedent(source), "hooks/h.py", where or surface())


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("import os\n", "hooks/h.py:1: import of 'os' is not allowed in hooks"),
        ("\n\nfrom subprocess import run\n", "hooks/h.py:3: import of 'subprocess' is not"),
        ("import os.path as p\n", "import of 'os.path' is not allowed"),
        ("from . import helpers\n", "hooks/h.py:1: relative imports are not allowed in hooks"),
        ("from json import *\n", "'from json import *' is not allowed in hooks"),
        ("from re import Compile\n", "hooks/h.py:1: re has no name 'Compile'"),
        ("from json import _default_decoder\n", "json has no name '_default_decoder'"),
        ("def f():\n    import socket\n", "hooks/h.py:2: import of 'socket' is not allowed"),
    ],
)
def test_imports_the_sandbox_refuses_are_problems(source: str, problem: str) -> None:
    [found] = check(source)
    assert found.startswith(problem) or problem in found


def test_what_hooks_may_import_is_no_problem() -> None:
    assert (
        check(
            """
            import re, json, math, string, datetime as dt
            import requests
            from requests.exceptions import HTTPError
            from datetime import datetime, timedelta
            import sym.sdk.integrations.slack as sl
            from sym.sdk.annotations import hook, reducer
            from sym.sdk.integrations import slack, pagerduty
            from sym.sdk.exceptions import PagerDutyError

            @hook
            def on_request(event):
                when = dt.datetime.now() - timedelta(hours=1)
                return re.match("a", json.dumps({"w": str(when)})) and sl.channel("#x")
            """
        )
        == []
    )


def test_an_integration_the_environment_lacks_is_a_problem_unless_its_error_is_caught() -> None:
    source = """
        from sym.sdk.integrations import pagerduty, okta
        from sym.sdk.exceptions import PagerDutyError

        def on_request(event):
            if okta.is_user_in_group(event.user, group_id="g"):
                return None
            try:
                return pagerduty.is_on_call(event.user)
            except PagerDutyError:
                return None
        """
    [found] = check(source)
    assert found.startswith("hooks/h.py:6: okta.is_user_in_group needs a okta integration")
    assert check(source, surface(frozenset({"okta"}))) == []
    unguarded = "from sym.sdk.integrations import pagerduty as pd\npd.is_on_call(None)\n"
    assert check(unguarded)[0].startswith("hooks/h.py:2: pagerduty.is_on_call needs")
    assert check(unguarded, surface(frozenset({"pagerduty"}))) == []


def test_a_literal_url_outside_allowed_hosts_is_a_problem() -> None:
    source = """
        import requests

        def get_permissions(event):
            requests.get("https://api.example.com/teams")
            requests.post(url=f"https://hooks.example.net/x/{event.run.id}")
            requests.request("GET", "http://10.0.0.5:8080/")
            requests.get(event.flow.vars["url"])  # not known until it runs
            requests.get(f"https://{event.flow.vars['host']}/x")
        """
    found = check(source)
    assert found == [
        "hooks/h.py:5: api.example.com:443 is not in the allowed_hosts of this flow's "
        "environment (custom integrations' settings.allowed_hosts)",
        "hooks/h.py:6: hooks.example.net:443 is not in the allowed_hosts of this flow's "
        "environment (custom integrations' settings.allowed_hosts)",
        "hooks/h.py:7: 10.0.0.5:8080 is not in the allowed_hosts of this flow's "
        "environment (custom integrations' settings.allowed_hosts)",
    ]
    allowed = surface(hosts=("api.example.com", "*.example.net", "10.0.0.5:8080"))
    assert check(source, allowed) == []


def test_validate_refuses_a_hook_that_can_never_run(tmp_path: Path) -> None:
    (tmp_path / "hooks").mkdir()
    example = (REPO / "hooks" / "example.py").read_text(encoding="utf-8")
    (tmp_path / "hooks" / "example.py").write_text("import os\n" + example, encoding="utf-8")
    config = tmp_path / "config.hcl"
    config.write_text((REPO / "config.hcl").read_text(encoding="utf-8"), encoding="utf-8")
    environ = {"SYMBOX_GRANT_SECRET": "s"}
    with pytest.raises(ConfigRefused) as caught:
        load_checked(str(config), (), environ)
    # Both example flows use the file: the problem is named once.
    assert caught.value.problems == [
        f"{tmp_path}/hooks/example.py:1: import of 'os' is not allowed in hooks (they may "
        "import: datetime, json, math, re, requests, string, sym.sdk.*)"
    ]


def test_sdk_names_sym_never_published_are_problems_and_unimplemented_ones_are_not() -> None:
    found = check(
        """
        from sym.sdk.annotations import hook, hokk
        from sym.sdk.exceptions import PagerDutyErorr
        import sym.sdk.nothing
        from sym.sdk.integrations import pagerduty, jira
        from sym.sdk.user import user_ids
        from sym.sdk.integrations.google import users_in_group

        def on_request(event):
            try:
                pagerduty.is_on_cal(event.user)
                jira.create_issue()
                pagerduty.has_incident(event.user)
            except Exception:
                return None
        """
    )
    assert found == [
        "hooks/h.py:2: sym.sdk.annotations has no name 'hokk'",
        "hooks/h.py:3: sym.sdk.exceptions has no name 'PagerDutyErorr'",
        "hooks/h.py:4: sym.sdk.nothing is not a module of Sym's SDK",
        "hooks/h.py:11: sym.sdk.integrations.pagerduty has no name 'is_on_cal'",
    ]
