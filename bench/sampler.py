"""A small sampling profiler (py-spy is not available): where each thread's wall time goes.

A daemon thread reads ``sys._current_frames()`` every ``interval`` seconds and counts, per
thread, the functions on the stack (inclusive) and at its top (self). Waiting shows up as
time in a waiting function (``select``, ``wait``, ``get``...), which is the point: it tells
apart "busy in Python" from "waiting for something".
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from types import FrameType


def _label(frame: FrameType) -> str:
    code = frame.f_code
    name = code.co_filename
    for marker in ("site-packages/", "/symbox/", "/lib/python3"):
        if marker in name:
            name = name.split(marker, 1)[1]
            break
    return f"{name}:{code.co_name}"


class StackSampler:
    """Samples every thread's stack until stopped; ``report`` summarises the samples."""

    def __init__(self, interval: float = 0.002) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self.samples: Counter[str] = Counter()
        self.inclusive: Counter[tuple[str, str]] = Counter()
        self.leaf: Counter[tuple[str, str]] = Counter()
        self.folded: Counter[str] = Counter()

    def start(self) -> None:
        """Start sampling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling and wait for the sampling thread."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        own = threading.get_ident()
        while not self._stop.wait(self._interval):
            names = {thread.ident: thread.name for thread in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident == own:
                    continue
                thread = names.get(ident, str(ident))
                if thread.startswith("AnyIO worker"):
                    thread = "AnyIO worker"
                stack: list[str] = []
                current: FrameType | None = frame
                while current is not None:
                    stack.append(_label(current))
                    current = current.f_back
                self.samples[thread] += 1
                self.leaf[(thread, stack[0])] += 1
                for label in set(stack):
                    self.inclusive[(thread, label)] += 1
                self.folded[";".join([thread, *reversed(stack)])] += 1

    def report(self, path: Path, top: int = 40) -> None:
        """Write per-thread inclusive and self tables, then folded stacks, to ``path``."""
        lines = [f"sampling every {self._interval * 1000:.1f} ms at {time.ctime()}"]
        for thread, total in self.samples.most_common():
            lines.append(f"\n== thread {thread}: {total} samples")
            lines.append("-- inclusive (function on the stack)")
            rows = [(n, label) for (t, label), n in self.inclusive.items() if t == thread]
            for count, label in sorted(rows, reverse=True)[:top]:
                lines.append(f"{100 * count / total:6.1f}%  {label}")
            lines.append("-- self (function at the top)")
            rows = [(n, label) for (t, label), n in self.leaf.items() if t == thread]
            for count, label in sorted(rows, reverse=True)[: top // 2]:
                lines.append(f"{100 * count / total:6.1f}%  {label}")
        lines.append("\n== folded stacks")
        lines.extend(f"{stack} {count}" for stack, count in self.folded.most_common())
        path.write_text("\n".join(lines) + "\n")


def thread_cpu_seconds() -> dict[int, tuple[str, float]]:
    """Each live thread of this process by its native id: its name and CPU seconds so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds: dict[int, tuple[str, float]] = {}
    for thread in threading.enumerate():
        if thread.native_id is None:
            continue
        try:
            with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[thread.native_id] = (thread.name, (int(fields[11]) + int(fields[12])) / ticks)
    return seconds


def thread_cpu_report(since: Mapping[int, tuple[str, float]] | None = None) -> str:
    """One entry per live thread: its name and CPU seconds so far, or since ``since``."""
    before = since or {}
    parts = []
    for native_id, (name, seconds) in thread_cpu_seconds().items():
        spent = seconds - before.get(native_id, (name, 0.0))[1]
        parts.append(f"{name}={spent:.2f}s")
    return "thread CPU: " + ", ".join(parts)
