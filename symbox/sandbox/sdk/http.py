"""`requests` in the sandbox: a small subset whose calls the host makes, to allowed hosts."""

from __future__ import annotations

import base64
import json as jsonlib
from collections.abc import Iterator
from typing import Any, NoReturn
from urllib.parse import urlencode

from symbox.sandbox.guards import SafeModule
from symbox.sandbox.sdk.event import Facade
from symbox.sandbox.sdk.exceptions import (
    HTTPConnectionError,
    HTTPError,
    HTTPJSONDecodeError,
    HTTPRefusedError,
    HTTPStatusError,
    HTTPTimeoutError,
)
from symbox.sandbox.sdk.integrations import IntegrationChannel

# The integration name the host routes outbound HTTP calls by.
HTTP_INTEGRATION = "http"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# A request body larger than this is refused in the worker: it must fit one pipe frame.
MAX_REQUEST_BYTES = 512 * 1024
_SCALARS = (str, int, float, bool, type(None))
_MAX_DEPTH = 32
_UNSUPPORTED = ("files", "cookies", "proxies", "cert", "stream", "hooks")


def _refuse(message: str) -> NoReturn:
    raise HTTPRefusedError(message)


def _exact_str(value: object, what: str) -> str:
    # Exact types only: a hook's str subclass would be pickled by class reference.
    if type(value) is not str:
        _refuse(f"{what} must be a str, got {type(value).__name__}")
    return value


def _json_value(value: object, depth: int = 0) -> Any:
    """A copy of `value` made only of JSON's plain types, or HTTPRefusedError."""
    if depth > _MAX_DEPTH:
        _refuse(f"json= is nested deeper than {_MAX_DEPTH} levels")
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind in (list, tuple):
        return [_json_value(item, depth + 1) for item in value]  # type: ignore[attr-defined]
    if kind is dict:
        copied = {}
        for key, item in value.items():  # type: ignore[attr-defined]
            copied[_exact_str(key, "json= keys")] = _json_value(item, depth + 1)
        return copied
    _refuse(f"json= takes dicts, lists, str, int, float, bool and None, got {kind.__name__}")


def _pairs(value: object, what: str) -> list[list[str]]:
    """`params=` / `data=` as [name, value] string pairs (dict values may be lists)."""
    if value is None:
        return []
    if type(value) is dict:
        items = list(value.items())
    elif type(value) in (list, tuple):
        items = list(value)  # type: ignore[call-overload]
    else:
        _refuse(f"{what} takes a dict or a list of pairs, got {type(value).__name__}")
    pairs: list[list[str]] = []
    for item in items:
        if type(item) not in (list, tuple) or len(item) != 2:
            _refuse(f"{what} items must be (name, value) pairs")
        name, raw = item
        values = raw if type(raw) in (list, tuple) else [raw]
        for one in values:
            if type(one) not in _SCALARS:
                _refuse(f"{what} values must be str, int, float or bool")
            if one is None:
                continue
            text = ("true" if one else "false") if type(one) is bool else str(one)
            pairs.append([_exact_str(name, f"{what} names"), text])
    return pairs


def _headers(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if type(value) is not dict:
        _refuse(f"headers= takes a dict, got {type(value).__name__}")
    result: dict[str, str] = {}
    for name, item in value.items():
        result[_exact_str(name, "header names")] = _exact_str(item, f"header {name!r}")
    return result


def _timeout(value: object) -> float | None:
    if value is None:
        return None
    if type(value) in (list, tuple) and len(value) == 2:  # type: ignore[arg-type]
        # requests' (connect, read) pair: the host applies one bound to the whole call.
        value = max(_timeout(part) or 0.0 for part in value)  # type: ignore[attr-defined]
    if type(value) not in (int, float) or not 0 < value < float("inf"):  # type: ignore[operator]
        _refuse("timeout= takes a positive number of seconds")
    return float(value)  # type: ignore[arg-type]


class Headers(Facade):
    """Response headers: a read-only, case-insensitive mapping (repeated headers joined)."""

    __slots__ = ()

    def __getitem__(self, name: str) -> str:
        return str(self._data[str(name).lower()])

    def get(self, name: str, default: Any = None) -> Any:
        """The header's value, or `default`."""
        return self._data.get(str(name).lower(), default)

    def keys(self) -> list[str]:
        """The header names, lower-cased."""
        return list(self._data)

    def items(self) -> list[tuple[str, str]]:
        """The (name, value) pairs."""
        return list(self._data.items())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)


class Response(Facade):
    """The answer: `status_code`, `ok`, `reason`, `url`, `headers`, `content`, `text`, `json()`."""

    __slots__ = ()

    @property
    def status_code(self) -> int:
        """The HTTP status."""
        return int(self._data["status_code"])

    @property
    def ok(self) -> bool:
        """True unless the status is 4xx or 5xx."""
        return self.status_code < 400

    @property
    def reason(self) -> str:
        """The status's reason phrase."""
        return str(self._data.get("reason", ""))

    @property
    def url(self) -> str:
        """The URL that answered (after same-host redirects)."""
        return str(self._data.get("url", ""))

    @property
    def headers(self) -> Headers:
        """The response headers."""
        joined: dict[str, str] = {}
        for name, value in self._data.get("headers", []):
            key = str(name).lower()
            joined[key] = f"{joined[key]}, {value}" if key in joined else str(value)
        return Headers(joined)

    @property
    def content(self) -> bytes:
        """The body, as bytes."""
        return bytes(self._data.get("content", b""))

    @property
    def encoding(self) -> str:
        """The body's charset, from Content-Type (UTF-8 when none is given)."""
        kind = self.headers.get("content-type") or ""
        for part in kind.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                return value.strip('"')
        return "utf-8"

    @property
    def text(self) -> str:
        """The body, decoded."""
        try:
            return self.content.decode(self.encoding, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; `requests.JSONDecodeError` (a ValueError) if it is not."""
        try:
            return jsonlib.loads(self.text)
        except ValueError:
            # A ValueError too, as requests' own is.
            raise HTTPJSONDecodeError(f"the response from {self.url} is not JSON") from None

    def raise_for_status(self) -> None:
        """Raise `requests.HTTPError` for a 4xx or 5xx status."""
        if self.status_code >= 400:
            kind = "Client" if self.status_code < 500 else "Server"
            error = HTTPStatusError(
                f"{self.status_code} {kind} Error: {self.reason} for url: {self.url}"
            )
            error.response = self  # type: ignore[attr-defined]
            raise error

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


class Requests:
    """The `requests` functions hooks call; each call goes to the host through the channel."""

    __slots__ = ("_channel",)

    _channel: IntegrationChannel

    def __init__(self, channel: IntegrationChannel) -> None:
        object.__setattr__(self, "_channel", channel)

    def __setattr__(self, name: str, value: object) -> None:
        raise TypeError("requests is read-only in hooks")

    def request(self, method: str, url: str, **options: Any) -> Response:
        """Send one request; see the module's functions for the options."""
        verb = _exact_str(method, "method").upper()
        if verb not in METHODS:
            _refuse(f"method {verb} is not supported (use one of {', '.join(METHODS)})")
        for name in _UNSUPPORTED:
            if options.pop(name, None) is not None:
                _refuse(f"{name}= is not supported by symbox's requests")
        if options.pop("verify", True) is not True:
            _refuse("verify= cannot turn TLS verification off in symbox")
        headers = _headers(options.pop("headers", None))
        content = self._body(options, headers)
        auth = options.pop("auth", None)
        if auth is not None:
            if type(auth) not in (list, tuple) or len(auth) != 2:
                _refuse("auth= takes a (user, password) pair")
            user, password = (_exact_str(part, "auth= parts") for part in auth)
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        follow = options.pop("allow_redirects", True)
        params = _pairs(options.pop("params", None), "params=")
        timeout = _timeout(options.pop("timeout", None))
        if options:
            _refuse(f"unknown option {sorted(options)[0]}=")
        args = {
            "method": verb,
            "url": _exact_str(url, "url"),
            "params": params,
            "headers": headers,
            "content": content,
            "timeout": timeout,
            "follow_redirects": follow is True,
        }
        return Response(self._channel.call(HTTP_INTEGRATION, "request", args))

    @staticmethod
    def _body(options: dict[str, Any], headers: dict[str, str]) -> bytes | None:
        data, payload = options.pop("data", None), options.pop("json", None)
        lower = {name.lower() for name in headers}
        content: bytes | None = None
        if data is not None:
            if type(data) is bytes:
                content = data
            elif type(data) is str:
                content = data.encode()
            else:
                content = urlencode([(name, text) for name, text in _pairs(data, "data=")]).encode()
                if "content-type" not in lower:
                    headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif payload is not None:
            content = jsonlib.dumps(_json_value(payload)).encode()
            if "content-type" not in lower:
                headers["Content-Type"] = "application/json"
        if content is not None and len(content) > MAX_REQUEST_BYTES:
            _refuse(f"the request body is {len(content)} bytes; the limit is {MAX_REQUEST_BYTES}")
        return content

    def get(self, url: str, **options: Any) -> Response:
        """GET `url` (params=, headers=, timeout=, auth=, allow_redirects=)."""
        return self.request("GET", url, **options)

    def head(self, url: str, **options: Any) -> Response:
        """HEAD `url`."""
        return self.request("HEAD", url, **options)

    def post(self, url: str, data: Any = None, json: Any = None, **options: Any) -> Response:
        """POST `url` with `data=` (str, bytes or a form) or `json=`."""
        return self.request("POST", url, data=data, json=json, **options)

    def put(self, url: str, data: Any = None, **options: Any) -> Response:
        """PUT `url`."""
        return self.request("PUT", url, data=data, **options)

    def patch(self, url: str, data: Any = None, **options: Any) -> Response:
        """PATCH `url`."""
        return self.request("PATCH", url, data=data, **options)

    def delete(self, url: str, **options: Any) -> Response:
        """DELETE `url`."""
        return self.request("DELETE", url, **options)

    def __repr__(self) -> str:
        return "<sandboxed module 'requests'>"


# What a hook may set on a session; the rest of requests' Session attributes change how
# calls are made (verify, proxies, adapters...), which only the host decides.
_SESSION_ATTRIBUTES = frozenset({"headers", "auth", "params"})


def _merged(base: object, extra: object, what: str) -> object:
    """A session's dict (headers, params) under a call's own, the call's winning."""
    if base is None or base == {}:
        return extra
    if type(base) is not dict:
        _refuse(f"session.{what} must be a dict, got {type(base).__name__}")
    if extra is None:
        return dict(base)
    if type(extra) is not dict:
        _refuse(f"{what}= takes a dict, got {type(extra).__name__}")
    # Header names compare without case, as in requests.
    fold = (lambda name: name.lower() if type(name) is str else name) if what == "headers" else None
    overridden = {fold(name) if fold else name for name in extra}
    kept = {
        name: value
        for name, value in base.items()
        if (fold(name) if fold else name) not in overridden
    }
    return {**kept, **extra}


class Session:
    """`requests.Session()`: headers, auth and params kept across calls; `with` closes it.

    Every call still goes through the host, to allowed hosts only; no cookies are kept.
    """

    __slots__ = ("auth", "headers", "params")

    # Set on the bound subclass `requests_modules` makes: the calls' way to the host.
    _requests: Requests

    auth: object
    headers: object
    params: object

    def __init__(self) -> None:
        object.__setattr__(self, "headers", {})
        object.__setattr__(self, "auth", None)
        object.__setattr__(self, "params", {})

    def __guarded_setattr__(self, name: str, value: object) -> None:
        """`session.headers = {...}` and the like, from hook code."""
        if name not in _SESSION_ATTRIBUTES:
            _refuse(f"session.{name} cannot be set in symbox (only headers, auth, params)")
        object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        self.__guarded_setattr__(name, value)

    def request(self, method: str, url: str, **options: Any) -> Response:
        """Send one request with the session's headers, auth and params under the call's."""
        options["headers"] = _merged(self.headers, options.get("headers"), "headers")
        options["params"] = _merged(self.params, options.get("params"), "params")
        if options.get("auth") is None and self.auth is not None:
            options["auth"] = self.auth
        return self._requests.request(method, url, **options)

    def get(self, url: str, **options: Any) -> Response:
        """GET `url`."""
        return self.request("GET", url, **options)

    def head(self, url: str, **options: Any) -> Response:
        """HEAD `url`."""
        return self.request("HEAD", url, **options)

    def post(self, url: str, data: Any = None, json: Any = None, **options: Any) -> Response:
        """POST `url` with `data=` or `json=`."""
        return self.request("POST", url, data=data, json=json, **options)

    def put(self, url: str, data: Any = None, **options: Any) -> Response:
        """PUT `url`."""
        return self.request("PUT", url, data=data, **options)

    def patch(self, url: str, data: Any = None, **options: Any) -> Response:
        """PATCH `url`."""
        return self.request("PATCH", url, data=data, **options)

    def delete(self, url: str, **options: Any) -> Response:
        """DELETE `url`."""
        return self.request("DELETE", url, **options)

    def close(self) -> None:
        """Nothing to release: connections are the host's."""

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<requests.Session>"


def _session_type(client: Requests) -> type[Session]:
    """`Session` bound to this worker's channel, so hooks construct it with no arguments."""
    return type("Session", (Session,), {"__slots__": (), "_requests": client})


def requests_modules(channel: IntegrationChannel) -> dict[str, object]:
    """`requests` and `requests.exceptions` stand-ins whose calls go through `channel`."""
    client = Requests(channel)
    errors = {
        # As in requests: every error is a RequestException. symbox raises one class for
        # several of requests' (a refusal for a bad URL, a redirect loop or a host not allowed).
        "RequestException": HTTPError,
        "HTTPError": HTTPStatusError,
        "ConnectionError": HTTPConnectionError,
        "SSLError": HTTPConnectionError,
        "ProxyError": HTTPConnectionError,
        "Timeout": HTTPTimeoutError,
        "ConnectTimeout": HTTPTimeoutError,
        "ReadTimeout": HTTPTimeoutError,
        "JSONDecodeError": HTTPJSONDecodeError,
        "TooManyRedirects": HTTPRefusedError,
        "InvalidURL": HTTPRefusedError,
        "MissingSchema": HTTPRefusedError,
        "InvalidSchema": HTTPRefusedError,
        "InvalidHeader": HTTPRefusedError,
        "ChunkedEncodingError": HTTPError,
        "ContentDecodingError": HTTPError,
    }
    exceptions = SafeModule("requests.exceptions", errors)
    functions = {
        name: getattr(client, name)
        for name in ("request", "get", "head", "post", "put", "patch", "delete")
    }
    session = _session_type(client)
    requests = SafeModule(
        "requests",
        {
            **functions,
            **errors,
            "Response": Response,
            "Session": session,
            "session": session,
            "exceptions": exceptions,
        },
    )
    return {"requests": requests, "requests.exceptions": exceptions}
