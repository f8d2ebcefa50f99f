"""The guards and safe builtins a restricted hook sees, all iterating through one gate."""

from __future__ import annotations

import operator
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, cast

from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr_raise,
)
from RestrictedPython.Limits import limited_range
from RestrictedPython.PrintCollector import PrintCollector

# `__name__` of the hook's namespace, so classes a hook defines carry it as `__module__`
# (a hook cannot assign `__module__` itself: underscore names do not compile).
HOOK_MODULE_NAME = "symbox_hook"

# Attributes denied on top of RestrictedPython's rules: `obj` of an AttributeError can hold
# whatever object the failing lookup ran on (the historic module leak).
_DENIED_EXCEPTION_ATTRIBUTES = frozenset({"obj"})
# `list.mro()[0]` would hand back the unguarded builtin type (and `object`).
_DENIED_TYPE_ATTRIBUTES = frozenset({"mro"})

# Methods of plain containers that iterate an argument in C, bypassing `_getiter_`.
_ITERATING_METHODS: Mapping[type, frozenset[str]] = {
    str: frozenset({"join"}),
    bytes: frozenset({"join"}),
    list: frozenset({"extend"}),
    set: frozenset(
        {
            "update",
            "union",
            "intersection",
            "difference",
            "symmetric_difference",
            "intersection_update",
            "difference_update",
            "symmetric_difference_update",
            "issubset",
            "issuperset",
            "isdisjoint",
        }
    ),
    frozenset: frozenset(
        {"union", "intersection", "difference", "symmetric_difference", "issubset", "issuperset"}
        | {"isdisjoint"}
    ),
    dict: frozenset({"update", "fromkeys"}),
}

_INPLACE_OPERATORS: Mapping[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def default_iter_check(ob: object) -> None:
    """Refuse to iterate host objects that declare themselves opaque to hooks."""
    if getattr(type(ob), "_sandbox_no_iter_", False):
        raise TypeError(f"{type(ob).__name__} objects cannot be iterated in a hook")


class SafeModule:
    """A module stand-in exposing only vetted attributes (never the module's own imports)."""

    def __init__(self, name: str, attributes: Mapping[str, object]) -> None:
        self.__dict__.update(attributes)
        object.__setattr__(self, "_sandbox_name_", name)

    def __getattr__(self, name: str) -> Any:
        # `obj` of the error is this stand-in, so it cannot leak the real module.
        raise AttributeError(f"module {self._sandbox_name_!r} has no attribute {name!r}")

    def __setattr__(self, name: str, value: object) -> None:
        raise TypeError("modules are read-only in hooks")

    def __repr__(self) -> str:
        return f"<sandboxed module {self._sandbox_name_!r}>"


def safe_module(module: types.ModuleType, exclude: Iterable[str] = ()) -> SafeModule:
    """Wrap a real module, keeping its public non-module attributes minus `exclude`."""
    names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
    denied = set(exclude)
    attributes = {}
    for name in names:
        value = getattr(module, name, None)
        # Submodules are how the real escapes work (`datetime.sys`, `json.codecs`, `re.enum`).
        if name.startswith("_") or name in denied or isinstance(value, types.ModuleType):
            continue
        attributes[name] = value
    return SafeModule(module.__name__, attributes)


class GuardedType:
    """A builtin type whose constructor iterates through the guard; acts as the type otherwise."""

    def __init__(self, real: type, factory: Callable[..., Any], guards: Guards) -> None:
        self._real = real
        self._factory = factory
        self._guards = guards

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._factory(*args, **kwargs)

    def __instancecheck__(self, instance: object) -> bool:
        return isinstance(instance, self._real)

    def __subclasscheck__(self, subclass: type) -> bool:
        return issubclass(subclass, self._real)

    def __mro_entries__(self, bases: tuple[object, ...]) -> tuple[type]:
        return (self._real,)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in _DENIED_TYPE_ATTRIBUTES:
            raise AttributeError(f"{name!r} is not available on {self._real.__name__!r} in hooks")
        try:
            value = getattr(self._real, name)
        except AttributeError:
            # Re-raised so the error's `obj` is not the unguarded type.
            raise AttributeError(
                f"type {self._real.__name__!r} has no attribute {name!r}"
            ) from None
        return self._guards.wrap_method(self._real, name, value, unbound=True)

    def __repr__(self) -> str:
        return f"<class {self._real.__name__!r}>"


class Guards:
    """The guard functions for one policy; `iter_check` is the single iteration gate."""

    def __init__(self, iter_check: Callable[[object], None] = default_iter_check) -> None:
        self._iter_check = iter_check

    # -- iteration ---------------------------------------------------------------------------

    def getiter(self, ob: object) -> Iterator[Any]:
        """`_getiter_`: every iteration a hook does, explicit or inside a builtin, comes here."""
        self._iter_check(ob)
        return iter(cast("Iterable[Any]", ob))

    def materialize(self, ob: object) -> Any:
        """Turn an argument a C function would iterate into an already-guarded plain value."""
        if type(ob) in (str, bytes):
            return ob
        if hasattr(ob, "keys"):
            return self.mapping(ob)
        return list(self.getiter(ob))

    def mapping(self, ob: Any) -> dict[Any, Any]:
        """`**mapping` and dict(mapping): copy key by key through the guard."""
        self._iter_check(ob)
        return {key: ob[key] for key in self.getiter(ob.keys())}

    def pairs(self, ob: object) -> dict[Any, Any]:
        """dict(iterable of pairs), unpacking each pair through the guard."""
        spec = {"min_len": 2, "childs": ()}
        result = {}
        for item in self.getiter(ob):
            pair = guarded_unpack_sequence(item, spec, self.getiter)  # type: ignore[no-untyped-call]
            if len(pair) != 2:
                raise ValueError("dictionary update sequence element has wrong length")
            result[pair[0]] = pair[1]
        return result

    def make_dict(self, arg: object = None, /, **kwargs: Any) -> dict[Any, Any]:
        """dict(...)."""
        if arg is None:
            return dict(**kwargs)
        base = self.mapping(arg) if hasattr(arg, "keys") else self.pairs(arg)
        base.update(kwargs)
        return base

    def wrap_method(self, owner: type, name: str, value: Any, *, unbound: bool) -> Any:
        """Wrap container methods that iterate an argument in C so they use the guard."""
        iterating = next(
            (names for kind, names in _ITERATING_METHODS.items() if issubclass(owner, kind)),
            frozenset(),
        )
        if name not in iterating:
            return value
        skip = 1 if unbound and name != "fromkeys" else 0
        materialize = self.materialize

        def guarded(*args: Any, **kwargs: Any) -> Any:
            head, tail = args[:skip], args[skip:]
            return value(*head, *[materialize(arg) for arg in tail], **kwargs)

        return guarded

    # -- attributes and writes ---------------------------------------------------------------

    def getattr(self, ob: object, name: str) -> Any:
        """`_getattr_`: RestrictedPython's raising getattr plus the sandbox's extra rules."""
        if isinstance(ob, BaseException) and name in _DENIED_EXCEPTION_ATTRIBUTES:
            raise AttributeError(f'"{name}" of exceptions is not available in hooks')
        if isinstance(ob, type) and name in _DENIED_TYPE_ATTRIBUTES:
            raise AttributeError(f'"{name}" of types is not available in hooks')
        value = safer_getattr_raise(ob, name)  # type: ignore[no-untyped-call]
        if isinstance(ob, type):
            return self.wrap_method(ob, name, value, unbound=True)
        return self.wrap_method(type(ob), name, value, unbound=False)

    def builtin_getattr(self, ob: object, name: str, *default: object) -> Any:
        """getattr(ob, name[, default]) for hooks, through `_getattr_`."""
        try:
            return self.getattr(ob, name)
        except AttributeError:
            if default:
                return default[0]
            raise

    def builtin_hasattr(self, ob: object, name: str) -> bool:
        """hasattr(ob, name) for hooks, through `_getattr_`."""
        try:
            self.getattr(ob, name)
        except AttributeError:
            return False
        return True

    @staticmethod
    def write(ob: object) -> Any:
        """`_write_`: hooks may mutate plain containers and instances of their own classes."""
        kind = type(ob)
        if kind in (dict, list):
            return ob
        if type(kind) is type and kind.__module__ == HOOK_MODULE_NAME:
            return ob
        return full_write_guard(ob)

    def setattr(self, ob: object, name: str, value: object) -> None:
        """setattr(ob, name, value) for hooks: never an underscore name."""
        if not isinstance(name, str) or name.startswith("_"):
            raise AttributeError(f'"{name}" is an invalid attribute name in hooks')
        setattr(self.write(ob), name, value)

    def delattr(self, ob: object, name: str) -> None:
        """delattr(ob, name) for hooks: never an underscore name."""
        if not isinstance(name, str) or name.startswith("_"):
            raise AttributeError(f'"{name}" is an invalid attribute name in hooks')
        delattr(self.write(ob), name)

    def inplacevar(self, op: str, target: Any, value: Any) -> Any:
        """`_inplacevar_`: `x += y`, with list extension going through the guard."""
        function = _INPLACE_OPERATORS.get(op)
        if function is None:
            raise SyntaxError(f"unsupported in-place operator {op!r}")
        if type(target) is list and op == "+=":
            value = self.materialize(value)
        return function(target, value)

    @staticmethod
    def getitem(ob: Any, index: Any) -> Any:
        """`_getitem_`."""
        return ob[index]

    @staticmethod
    def apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`_apply_`: star-args were already guarded by the compiler (see policy)."""
        return function(*args, **kwargs)

    def unpack_sequence(self, it: object, spec: Any, getiter: Any) -> Any:
        """`_unpack_sequence_`."""
        return guarded_unpack_sequence(it, spec, self.getiter)  # type: ignore[no-untyped-call]

    def iter_unpack_sequence(self, it: object, spec: Any, getiter: Any) -> Any:
        """`_iter_unpack_sequence_`."""
        return guarded_iter_unpack_sequence(it, spec, self.getiter)  # type: ignore[no-untyped-call]

    # -- builtins ----------------------------------------------------------------------------

    def builtins(self) -> dict[str, Any]:
        """The builtins dict for one call (RestrictedPython's safe set plus guarded extras)."""
        guard = self.getiter

        def one_or_many(args: tuple[Any, ...]) -> Any:
            return guard(args[0]) if len(args) == 1 else args

        result = dict(safe_builtins)
        result.update(
            {
                "range": limited_range,
                "dict": GuardedType(dict, self.make_dict, self),
                "list": GuardedType(list, lambda it=(): list(guard(it)), self),
                "tuple": GuardedType(tuple, lambda it=(): tuple(guard(it)), self),
                "set": GuardedType(set, lambda it=(): set(guard(it)), self),
                "frozenset": GuardedType(frozenset, lambda it=(): frozenset(guard(it)), self),
                "sorted": lambda it, **kw: sorted(guard(it), **kw),
                "reversed": lambda it: reversed(list(guard(it))),
                "min": lambda *args, **kw: min(one_or_many(args), **kw),
                "max": lambda *args, **kw: max(one_or_many(args), **kw),
                "sum": lambda it, start=0: sum(guard(it), start),
                "any": lambda it: any(guard(it)),
                "all": lambda it: all(guard(it)),
                "enumerate": lambda it, start=0: enumerate(guard(it), start),
                "zip": lambda *its, **kw: zip(*[guard(it) for it in its], **kw),  # noqa: B905
                "map": lambda f, *its: map(f, *[guard(it) for it in its]),
                "filter": lambda f, it: filter(f, guard(it)),
                "iter": guard,
                "next": next,
                "getattr": self.builtin_getattr,
                "hasattr": self.builtin_hasattr,
                "setattr": self.setattr,
                "delattr": self.delattr,
            }
        )
        return result

    def globals_for(self, builtins: dict[str, Any]) -> dict[str, Any]:
        """The guard names RestrictedPython's compiled code calls, for one fresh namespace."""
        return {
            "__builtins__": builtins,
            "__name__": HOOK_MODULE_NAME,
            "__metaclass__": type,
            "_getattr_": self.getattr,
            "_getitem_": self.getitem,
            "_getiter_": self.getiter,
            "_write_": self.write,
            "_inplacevar_": self.inplacevar,
            "_unpack_sequence_": self.unpack_sequence,
            "_iter_unpack_sequence_": self.iter_unpack_sequence,
            "_apply_": self.apply,
            "_unpack_mapping_": self.mapping,
            "_print_": PrintCollector,
        }
