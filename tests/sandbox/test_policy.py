"""The restricted policy in-process: hooks that should work do, and iteration is always guarded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from symbox.sandbox.errors import HookCompileError, HookError
from symbox.sandbox.policy import HookPolicy
from tests.sandbox.sources import hook_source

FILE = "hooks/impl.py"


class Opaque:
    """A host object hooks may hold but never iterate."""

    _sandbox_no_iter_ = True

    def __iter__(self) -> Iterator[str]:
        return iter(["secret"])

    def keys(self) -> list[str]:
        return ["secret"]

    def __getitem__(self, key: str) -> str:
        return "secret"


def run(body: str, *args: Any) -> Any:
    source = hook_source(body, "x=None", "import re, json, math, datetime, string\n\n")
    return HookPolicy().call(source, FILE, "hook", list(args))


@pytest.mark.parametrize(
    "body",
    [
        "return list(x)",
        "return tuple(x)",
        "return set(x)",
        "return frozenset(x)",
        "return dict(x)",
        "return dict(**x)",
        "return {**x}",
        "return ''.join(x)",
        "return str.join('', x)",
        "return [*x]",
        "return (*x,)",
        "return {*x}",
        "return max(*x)",
        "return sorted(x)",
        "return min(x)",
        "return max(x)",
        "return sum(x)",
        "return any(x)",
        "return all(x)",
        "return list(enumerate(x))",
        "return list(zip(x))",
        "return list(map(str, x))",
        "return list(filter(None, x))",
        "return list(reversed(x))",
        "return iter(x)",
        "for item in x:\n    return item",
        "return [item for item in x]",
        "a, = x",
        "l = []\nl.extend(x)",
        "l = []\nl += x",
        "s = set()\ns.update(x)",
        "return set().union(x)",
        "d = {}\nd.update(x)",
        "return dict.fromkeys(x)",
        "return json.dumps(list(x))",
    ],
)
def test_c_level_iteration_goes_through_the_guard(body: str) -> None:
    with pytest.raises(HookError, match="cannot be iterated"):
        run(body, Opaque())


def test_plain_hooks_work() -> None:
    body = """
users = sorted(x["users"], key=lambda u: u["name"])
lengths = {u["name"]: len(u["name"]) for u in users}
first = re.match(r"(\\w+)@", users[0]["email"]).group(1)
when = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(hours=2)
names = ",".join(u["name"] for u in users)
a, *rest = [1, 2, 3]
merged = dict(a=1, **{"b": 2})
pairs = list(zip([1, 2], [3, 4]))
pairs += [[5, 6]]
return {
    "lengths": lengths,
    "total": sum(lengths.values()),
    "first": first,
    "when": when.isoformat(),
    "names": names,
    "rest": rest,
    "json": json.dumps(merged, sort_keys=True),
    "pairs": pairs,
    "f": f"{sum(lengths.values()):03d} {first!r} {math.floor(2.5)}",
    "pct": "%s=%d" % ("n", 3),
    "minmax": [min(3, 1), max([1, 5])],
    "flags": [any([0, 1]), all([1, 1]), isinstance(merged, dict), isinstance(pairs, list)],
    "cap": string.capwords("on call"),
    "tpl": string.Template("$who").substitute(who="al"),
    "enum": [[i, v] for i, v in enumerate("ab")],
    "sets": sorted(set([3, 1]) | {2}),
}
"""
    event = {"users": [{"name": "bob", "email": "bob@x"}, {"name": "al", "email": "al@x"}]}
    assert run(body, event) == {
        "lengths": {"al": 2, "bob": 3},
        "total": 5,
        "first": "al",
        "when": "2024-01-01T02:00:00+00:00",
        "names": "al,bob",
        "rest": [2, 3],
        "json": '{"a": 1, "b": 2}',
        "pairs": [(1, 3), (2, 4), [5, 6]],
        "f": "005 'al' 2",
        "pct": "n=3",
        "minmax": [1, 5],
        "flags": [True, True, True, True],
        "cap": "On Call",
        "tpl": "al",
        "enum": [[0, "a"], [1, "b"]],
        "sets": [1, 2, 3],
    }


def test_hook_classes_and_print_work() -> None:
    body = """
class Counter(dict):
    def bump(self, key):
        self[key] = self.get(key, 0) + 1
        return self
class Box:
    def __init__(self, value):
        self.value = value
print("debugging output is swallowed")
return [Counter().bump("a"), Box(3).value, getattr(Box(4), "value"), hasattr(Box(1), "nope")]
"""
    assert run(body) == [{"a": 1}, 3, 4, False]


def test_each_call_gets_a_fresh_namespace() -> None:
    policy = HookPolicy()
    source = "seen = []\n\ndef hook():\n    seen.append(1)\n    return len(seen)\n"
    assert [policy.call(source, FILE, "hook", []) for _ in range(3)] == [1, 1, 1]


def test_compile_is_cached_by_source_hash() -> None:
    policy = HookPolicy()
    source = "def hook():\n    return 1\n"
    assert policy.compile(source, FILE) is policy.compile(source, FILE)
    assert policy.compile(source, FILE) is not policy.compile(source + "\n", FILE)


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(HookCompileError) as caught:
        HookPolicy().compile("x = 1\n\ndef hook(:\n    pass\n", FILE)
    assert str(caught.value).startswith("hooks/impl.py:3: SyntaxError")
    assert caught.value.line == 3


def test_runtime_error_names_the_hook_line() -> None:
    source = "def helper(d):\n    return d['missing']\n\ndef hook():\n    return helper({})\n"
    with pytest.raises(HookError) as caught:
        HookPolicy().call(source, FILE, "hook", [])
    assert str(caught.value) == "hooks/impl.py:2: KeyError: 'missing'"


def test_missing_attribute_raises() -> None:
    with pytest.raises(HookError, match=r"impl.py:4: AttributeError: .*nope"):
        run("return 'a'.nope")


def test_missing_function_is_reported() -> None:
    with pytest.raises(HookError, match="no function 'absent'"):
        HookPolicy().call("x = 1\n", FILE, "absent", [])


def test_sdk_names_map_to_caller_objects() -> None:
    marker = {"hook": "the-decorator"}
    policy = HookPolicy(modules={"sym.sdk.annotations": marker})
    source = (
        "import sym.sdk.annotations\nfrom sym.sdk.annotations import get\n\n"
        "def hook():\n    return [get('hook'), sym.sdk.annotations.get('hook')]\n"
    )
    assert policy.call(source, FILE, "hook", []) == ["the-decorator", "the-decorator"]
    with pytest.raises(HookError, match="'re' is not allowed"):
        policy.call("import re\n\ndef hook():\n    return 1\n", FILE, "hook", [])
