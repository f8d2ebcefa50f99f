"""The rules behind refusals' audit records and the brake on failing addresses."""

from __future__ import annotations

from symbox.runs.refusals import RefusalLimits, RefusalWindows, client_origin

KEY = ("api", "unknown_token", "192.0.2.1")


def test_a_burst_is_a_few_records_and_the_next_one_counts_the_rest() -> None:
    windows = RefusalWindows(RefusalLimits(audit_per_key=2, audit_window=60))
    assert [windows.audit(KEY, 0.0) for _ in range(5)] == [0, 0, None, None, None]
    other = ("api", "unknown_token", "192.0.2.2")
    assert windows.audit(other, 1.0) == 0
    assert windows.audit(KEY, 59.9) is None
    assert windows.audit(KEY, 60.0) == 4
    assert windows.audit(KEY, 61.0) == 0
    assert windows.audit(KEY, 62.0) is None


def test_records_across_keys_are_bounded_too() -> None:
    windows = RefusalWindows(RefusalLimits(audit_per_key=5, audit_total=3, audit_window=60))
    keys = [("api", "unknown_token", f"192.0.2.{n}") for n in range(5)]
    assert [windows.audit(key, 0.0) for key in keys] == [0, 0, 0, None, None]
    assert windows.audit(keys[4], 60.0) == 1


def test_an_address_waits_once_it_used_up_its_failures() -> None:
    windows = RefusalWindows(RefusalLimits(failed_auths=3, auth_window=60))
    for at in (0.0, 10.0):
        windows.failed("192.0.2.1", at)
    assert windows.retry_after("192.0.2.1", 10.0) is None
    windows.failed("192.0.2.1", 20.0)
    assert windows.retry_after("192.0.2.1", 20.0) == 40.0
    assert windows.retry_after("192.0.2.2", 20.0) is None
    # Past the oldest failure's window one more try is allowed: K tries per window at most.
    assert windows.retry_after("192.0.2.1", 60.0) is None
    windows.failed("192.0.2.1", 60.0)
    assert windows.retry_after("192.0.2.1", 60.0) == 10.0


def test_memory_is_bounded_and_idle_entries_go_first() -> None:
    windows = RefusalWindows(RefusalLimits(failed_auths=2, auth_window=60, max_tracked=2))
    windows.failed("192.0.2.1", 0.0)
    windows.failed("192.0.2.1", 0.0)
    windows.failed("192.0.2.2", 100.0)
    windows.failed("192.0.2.2", 100.0)
    windows.failed("192.0.2.3", 100.0)
    assert windows.retry_after("192.0.2.2", 100.0) == 60.0
    assert windows.retry_after("192.0.2.1", 0.0) is None  # forgotten: it was idle


def test_ipv6_clients_are_limited_by_their_64() -> None:
    assert client_origin("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert client_origin("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_origin("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_origin("::1") == "::1"
    assert client_origin("127.0.0.1") == "127.0.0.1"
    assert client_origin(None) == "unknown"
