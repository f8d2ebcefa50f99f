"""Escape corpus: each hook tries a known way out of the sandbox and must fail clearly."""

from __future__ import annotations

import pytest

from symbox.sandbox.errors import HookCompileError, HookError, HookFailure
from symbox.sandbox.pool import HookPool
from tests.sandbox.sources import hook_source

pytestmark = pytest.mark.anyio

FILE = "hooks/impl.py"

# (id, body of `def hook():`, expected error class, text the message must contain)
CASES: list[tuple[str, str, type[HookFailure], str]] = [
    # lessons.md: generator frame walking
    ("gi_frame", "def g():\n    yield 1\nreturn g().gi_frame.f_back", HookCompileError, "gi_frame"),
    (
        "gi_frame_getattr",
        "def g():\n    yield 1\nreturn getattr(g(), 'gi_frame')",
        HookError,
        "gi_frame",
    ),
    (
        "gi_yieldfrom",
        "def g():\n    yield 1\nreturn g().gi_yieldfrom",
        HookCompileError,
        "gi_yieldfrom",
    ),
    # lessons.md: format strings reaching __class__
    ("str_format", "return '{0.__class__}'.format(1)", HookError, "format"),
    ("str_format_map", "return '{x.__class__}'.format_map({'x': 1})", HookError, "format"),
    ("str_format_unbound", "return str.format('{0.__class__}', 1)", HookError, "format"),
    ("str_format_getattr", "return getattr('{0.__class__}', 'format')(1)", HookError, "format"),
    # lessons.md: string.Formatter field traversal
    (
        "formatter",
        "import string\nreturn string.Formatter().format('{0.__class__}', 1)",
        HookError,
        "Formatter",
    ),
    ("formatter_from", "from string import Formatter\nreturn Formatter", HookError, "Formatter"),
    ("formatter_vformat", "import string\nreturn string.Formatter.vformat", HookError, "Formatter"),
    # lessons.md: AttributeError.obj leaking a module
    (
        "attributeerror_obj",
        "import json\ntry:\n    json.nope\nexcept AttributeError as e:\n    return e.obj",
        HookError,
        "obj",
    ),
    (
        "attributeerror_obj_str",
        "try:\n    'a'.nope\nexcept AttributeError as e:\n    return getattr(e, 'obj')",
        HookError,
        "obj",
    ),
    (
        "dict_type_obj",
        "try:\n    dict.nope\nexcept AttributeError as e:\n    return e.obj",
        HookError,
        "obj",
    ),
    # Real modules carry their own imports: each of these reaches os.
    ("datetime_sys", "import datetime\nreturn datetime.sys.modules['os']", HookError, "sys"),
    (
        "json_codecs",
        "import json\nreturn json.codecs.open('/etc/passwd').read()",
        HookError,
        "codecs",
    ),
    ("re_enum", "import re\nreturn re.enum.sys", HookError, "enum"),
    ("from_datetime_sys", "from datetime import sys\nreturn sys", HookError, "sys"),
    # lessons.md: try/except* type confusion
    ("except_star", "try:\n    pass\nexcept* ValueError:\n    pass", HookCompileError, "TryStar"),
    # lessons.md: positional-only parameters shadowing a guard name
    (
        "posonly_guard",
        "def f(_getattr_=None, /):\n    return 1\nreturn f()",
        HookCompileError,
        "_getattr_",
    ),
    ("posonly_lambda", "f = lambda _getiter_, /: 1\nreturn f(1)", HookCompileError, "_getiter_"),
    (
        "kwonly_guard",
        "def f(*, _write_=None):\n    return 1\nreturn f()",
        HookCompileError,
        "_write_",
    ),
    # files and imports
    ("open", "return open('/etc/passwd').read()", HookError, "open"),
    ("import_os", "import os\nreturn os.system('id')", HookError, "'os' is not allowed"),
    ("import_sys", "import sys\nreturn sys.modules", HookError, "'sys' is not allowed"),
    ("import_subprocess", "import subprocess\nreturn 1", HookError, "'subprocess' is not allowed"),
    ("import_ctypes", "import ctypes\nreturn 1", HookError, "'ctypes' is not allowed"),
    ("import_importlib", "import importlib\nreturn 1", HookError, "'importlib' is not allowed"),
    ("import_builtins", "import builtins\nreturn 1", HookCompileError, "builtins"),
    ("import_builtins_as", "import math as builtins\nreturn 1", HookCompileError, "builtins"),
    ("from_os", "from os import path\nreturn path", HookError, "'os' is not allowed"),
    (
        "import_pickle",
        "import pickle\nreturn pickle.dumps(1)",
        HookError,
        "'pickle' is not allowed",
    ),
    ("import_relative", "from . import x\nreturn x", HookError, "relative"),
    ("dunder_import", "return __import__('os')", HookCompileError, "__import__"),
    # dunder walks
    (
        "subclasses",
        "return ().__class__.__bases__[0].__subclasses__()",
        HookCompileError,
        "__class__",
    ),
    (
        "subclasses_getattr",
        "return getattr(getattr((), '__class__'), '__subclasses__')",
        HookError,
        "__class__",
    ),
    ("globals_attr", "def f():\n    pass\nreturn f.__globals__", HookCompileError, "__globals__"),
    (
        "globals_getattr",
        "def f():\n    pass\nreturn getattr(f, '__globals__')",
        HookError,
        "__globals__",
    ),
    ("builtins_name", "return __builtins__", HookCompileError, "__builtins__"),
    ("code_attr", "def f():\n    pass\nreturn f.__code__", HookCompileError, "__code__"),
    ("reduce_ex", "return (1).__reduce_ex__(2)", HookCompileError, "__reduce_ex__"),
    ("mro_type", "return list.mro()[0]('abc')", HookError, "mro"),
    ("mro_str", "return str.mro()", HookError, "mro"),
    ("setattr_class", "class A:\n    pass\nsetattr(A(), '__class__', A)", HookError, "__class__"),
    ("write_module", "import json\njson.loads = 1", HookError, "TypeError"),
    (
        "write_class_attr",
        "import json\njson.JSONEncoder.item_separator = 'x'",
        HookError,
        "TypeError",
    ),
    # frames and tracebacks
    (
        "traceback_attr",
        "try:\n    1 / 0\nexcept Exception as e:\n    return e.__traceback__.tb_frame",
        HookCompileError,
        "__traceback__",
    ),
    (
        "traceback_getattr",
        "try:\n    1 / 0\nexcept Exception as e:\n    return getattr(e, '__traceback__')",
        HookError,
        "__traceback__",
    ),
    (
        "tb_frame",
        "try:\n    1 / 0\nexcept Exception as e:\n    tb = e.args\n    return tb.tb_frame",
        HookCompileError,
        "tb_frame",
    ),
    ("exc_info", "import sys\nreturn sys.exc_info()", HookError, "'sys' is not allowed"),
    ("cr_frame", "async def c():\n    pass\nreturn c().cr_frame", HookCompileError, "not allowed"),
    ("cr_frame_attr", "x = 1\nreturn x.cr_frame", HookCompileError, "cr_frame"),
    # type()/object tricks
    ("type_builtin", "return type(1)", HookError, "NameError"),
    ("object_builtin", "return object", HookError, "NameError"),
    ("metaclass", "class M(metaclass=dict):\n    pass", HookCompileError, "metaclass"),
    (
        "class_dunder_assign",
        "class A:\n    __slots__ = ()\nreturn 1",
        HookCompileError,
        "__slots__",
    ),
    # formatting attribute walks
    ("fstring_attr", "x = 1\nreturn f'{x.__class__}'", HookCompileError, "__class__"),
    ("fstring_spec_attr", "x = 1\nreturn f'{x:{x.__class__}}'", HookCompileError, "__class__"),
    ("percent_format", "return '%(a)s %s' % ({'a': 1}.__class__,)", HookCompileError, "__class__"),
    ("builtin_format", "return format(1, 'x')", HookError, "NameError"),
    # introspection and dynamic code
    ("vars", "return vars()", HookError, "NameError"),
    ("globals", "return globals()", HookError, "NameError"),
    ("locals", "return locals()", HookError, "NameError"),
    ("dir", "return dir()", HookError, "NameError"),
    ("eval", "return eval('1')", HookCompileError, "Eval"),
    ("exec", "exec('x = 1')", HookCompileError, "Exec"),
    ("compile", "return compile('1', 'f', 'eval')", HookError, "NameError"),
    ("breakpoint", "breakpoint()", HookCompileError, "breakpoint"),
    ("nonlocal", "x = 1\ndef f():\n    nonlocal x\nreturn 1", HookCompileError, "Nonlocal"),
]


@pytest.mark.parametrize(
    ("body", "expected", "text"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
async def test_escape_fails_clearly(
    one_worker: HookPool, body: str, expected: type[HookFailure], text: str
) -> None:
    with pytest.raises(expected) as caught:
        await one_worker.call(hook_source(body), FILE, "hook", [], timeout=5)
    message = str(caught.value)
    assert message.startswith(f"{FILE}:"), message
    assert caught.value.line is not None, message
    assert text in message, message
    # The worker stays usable after every attempt.
    assert await one_worker.call("def ok():\n    return 1\n", FILE, "ok") == 1
