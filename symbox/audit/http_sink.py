"""The ``http`` and ``datadog`` audit destinations: gzipped JSON arrays over HTTPS."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from symbox.audit.delivery import (
    DeliveryError,
    Item,
    RemoteSink,
    RetryTiming,
    first_chunk,
    stand_in,
)
from symbox.metrics import Metrics
from symbox.store.reader import OutboxRecord

# Datadog's intake limits: 1,000 logs and 5 MB (uncompressed) a request, 1 MB a log.
DATADOG_MAX_RECORDS = 1000
DATADOG_MAX_BYTES = 5_000_000
DATADOG_MAX_RECORD = 1_000_000
DEFAULT_MAX_RECORDS = 500
DEFAULT_SERVICE = "symbox"
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
# Statuses worth retrying soon; any other failure is retried too (nothing is ever dropped),
# but is the receiver's configuration to fix, so it is logged as such.
_TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})
_RETRY_AFTER_MAX = 300.0


def datadog_url(site: str) -> str:
    """Datadog's logs intake for a site such as ``datadoghq.com`` or ``datadoghq.eu``."""
    return f"https://http-intake.logs.{site}/api/v2/logs"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: the backoff is a fine approximation
    return min(max(seconds, 0.0), _RETRY_AFTER_MAX)


class HttpSink(RemoteSink):
    """POSTs records as one gzipped JSON array per request, retrying 429, 5xx and timeouts."""

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.AsyncClient,
        metrics: Metrics,
        *,
        headers: Mapping[str, str] | None = None,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_record: int | None = None,
        timeout: float = 10.0,
        timing: RetryTiming | None = None,
        rng: random.Random | None = None,
        compress: bool = True,
        auth: Callable[[], Awaitable[Mapping[str, str]]] | None = None,
    ) -> None:
        super().__init__(name, metrics, timing=timing, rng=rng)
        self._url = url
        # Headers read per request (a key kept in Secrets Manager, cached by its reader).
        self._auth = auth
        self._client = client
        self._compress = compress
        self._headers = {**(headers or {}), "Content-Type": "application/json"}
        if compress:
            self._headers["Content-Encoding"] = "gzip"
        self._max_records = max_records
        self._max_bytes = max_bytes
        self._max_record = max_record
        self._timeout = timeout

    def entry(self, record: OutboxRecord) -> str:
        """The JSON object sent for ``record``: the sealed line itself, byte for byte."""
        return record.line

    def prepare(self, record: OutboxRecord) -> Item:
        """The record's JSON, or a stand-in when it is over the per-record limit."""
        data = self.entry(record).encode("utf-8")
        if self._max_record is not None and len(data) > self._max_record:
            data = stand_in(record, len(data), self._max_record).encode("utf-8")
        # The comma between array items counts too.
        return Item(record, data, record.id, len(data) + 1)

    def body(self, chunk: list[Item]) -> bytes:
        """The request body for ``chunk``: a JSON array of its items."""
        return b"[" + b",".join(item.data for item in chunk) + b"]"

    async def send(self, pending: list[Item]) -> tuple[list[Item], DeliveryError | None]:
        """POST the longest prefix of ``pending`` that fits one request."""
        chunk = first_chunk(pending, self._max_records, self._max_bytes)
        body = self.body(chunk)
        if self._compress:
            # Level 1: audit JSON still shrinks about tenfold, at under half the CPU of level 6.
            body = gzip.compress(body, 1)
        headers = self._headers
        if self._auth is not None:
            try:
                headers = {**headers, **await self._auth()}
            except Exception as error:
                # The reader's message names where the key is kept, never the key.
                return pending, DeliveryError(f"reading the credentials: {error}")
        try:
            response = await self._client.post(
                self._url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.TimeoutException:
            return pending, DeliveryError(f"no answer within {self._timeout:g} s")
        except httpx.HTTPError as error:
            # The exception's text may hold the URL, and a URL may hold a token.
            return pending, DeliveryError(f"{type(error).__name__} reaching the destination")
        status = response.status_code
        if 200 <= status < 300:
            return pending[len(chunk) :], None
        if status == 413 and len(chunk) > 1:
            # The receiver's limit is below ours: send smaller requests from now on.
            self._max_records = max(1, len(chunk) // 2)
        kind = "" if status in _TRANSIENT else " (check the destination's settings)"
        return pending, DeliveryError(f"HTTP {status}{kind}", retry_after=_retry_after(response))


class DatadogSink(HttpSink):
    """Datadog's logs intake: each record with ``ddsource``, ``ddtags`` and ``service``."""

    def __init__(
        self,
        name: str,
        url: str,
        api_key: str,
        client: httpx.AsyncClient,
        metrics: Metrics,
        *,
        source: str = "symbox",
        service: str = DEFAULT_SERVICE,
        tags: str | None = None,
        timeout: float = 10.0,
        timing: RetryTiming | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            name,
            url,
            client,
            metrics,
            headers={"DD-API-KEY": api_key},
            max_records=DATADOG_MAX_RECORDS,
            max_bytes=DATADOG_MAX_BYTES,
            max_record=DATADOG_MAX_RECORD,
            timeout=timeout,
            timing=timing,
            rng=rng,
        )
        self._service = service
        self._extra: dict[str, Any] = {"ddsource": source}
        if tags:
            self._extra["ddtags"] = tags
        # Appended to each record's JSON as is: decoding and encoding every record again
        # would cost more than everything else the destination does.
        extra = json.dumps(self._extra, ensure_ascii=False, separators=(",", ":"))
        self._suffix = "," + extra[1:-1]

    def entry(self, record: OutboxRecord) -> str:
        """The record with Datadog's reserved attributes added (the chain is the file's)."""
        if self._service == DEFAULT_SERVICE:
            return record.line[:-1] + self._suffix + "}"
        # Records carry service "symbox"; another name means replacing that key.
        document = json.loads(record.line)
        document.update(self._extra, service=self._service)
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
