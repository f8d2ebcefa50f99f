"""Counters and histograms in Prometheus text format, without a global registry."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable

Labels = tuple[tuple[str, str], ...]

# De-escalation lateness buckets in seconds: the target is well under 0.2 s.
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0, 30.0, 300.0)
# Strategy call buckets in seconds: a local receiver answers in milliseconds, AWS in seconds.
STRATEGY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _labels(labels: Labels, le: str | None = None) -> str:
    pairs = [*labels, ("le", le)] if le is not None else list(labels)
    if not pairs:
        return ""
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in pairs)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Histogram:
    """Cumulative buckets, a sum and a count."""

    def __init__(self, buckets: Iterable[float]) -> None:
        self.buckets = tuple(sorted(buckets))
        self.counts = [0] * (len(self.buckets) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Record one observation."""
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1


class Metrics:
    """The process's metrics; the app gives one instance to whoever counts things."""

    def __init__(self) -> None:
        self._counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self._help: dict[str, str] = {}
        self._histograms: dict[str, dict[Labels, Histogram]] = defaultdict(dict)
        self._gauges: dict[str, dict[Labels, float]] = defaultdict(dict)

    def count(self, name: str, help_text: str, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to the counter ``name`` with ``labels``."""
        self._help.setdefault(name, help_text)
        self._counters[name][tuple(sorted(labels.items()))] += amount

    def observe(
        self, name: str, help_text: str, value: float, buckets: Iterable[float], **labels: str
    ) -> None:
        """Record ``value`` in the histogram ``name`` with ``labels``."""
        self._help.setdefault(name, help_text)
        series = self._histograms[name]
        key = tuple(sorted(labels.items()))
        histogram = series.get(key)
        if histogram is None:
            histogram = series[key] = Histogram(buckets)
        histogram.observe(value)

    def gauge(self, name: str, help_text: str, value: float, **labels: str) -> None:
        """Set the gauge ``name`` with ``labels`` to ``value`` (kept until set again)."""
        self._help.setdefault(name, help_text)
        self._gauges[name][tuple(sorted(labels.items()))] = value

    def gauge_value(self, name: str, **labels: str) -> float | None:
        """Return a gauge's current value (None if never set)."""
        return self._gauges.get(name, {}).get(tuple(sorted(labels.items())))

    def counter_value(self, name: str, **labels: str) -> float:
        """Return a counter's current value (0 if never counted)."""
        return self._counters.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def render(self, gauges: Iterable[tuple[str, str, Labels, float]] = ()) -> str:
        """Return every metric, plus the given gauges, in Prometheus text format."""
        lines: list[str] = []
        for name in sorted(self._counters):
            lines.append(f"# HELP {name} {self._help[name]}")
            lines.append(f"# TYPE {name} counter")
            for labels, value in sorted(self._counters[name].items()):
                lines.append(f"{name}{_labels(labels)} {value:g}")
        for name in sorted(self._histograms):
            lines.append(f"# HELP {name} {self._help[name]}")
            lines.append(f"# TYPE {name} histogram")
            for labels, histogram in sorted(self._histograms[name].items()):
                running = 0
                for bound, count in zip(histogram.buckets, histogram.counts, strict=False):
                    running += count
                    lines.append(f"{name}_bucket{_labels(labels, f'{bound:g}')} {running}")
                lines.append(f"{name}_bucket{_labels(labels, '+Inf')} {histogram.count}")
                lines.append(f"{name}_sum{_labels(labels)} {histogram.total:g}")
                lines.append(f"{name}_count{_labels(labels)} {histogram.count}")
        seen: set[str] = set()
        kept = [
            (name, self._help[name], labels, value)
            for name in sorted(self._gauges)
            for labels, value in sorted(self._gauges[name].items())
        ]
        for name, help_text, labels, value in [*kept, *gauges]:
            if name not in seen:
                seen.add(name)
                lines.append(f"# HELP {name} {help_text}")
                lines.append(f"# TYPE {name} gauge")
            lines.append(f"{name}{_labels(labels)} {value:g}")
        return "\n".join(lines) + "\n"
