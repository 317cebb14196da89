#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests of e2e/migrate.py's driver logic that need no VM: a fake
source answers its QMP commands.  Run by make check (scripts/check.sh)
as python3 -m unittest discover -s e2e -p 'test_*.py'.  Standard library
only."""

import os
import sys
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import migrate  # noqa: E402


class FakeQMP:
    """Answers query-migrate from a list of replies (the last repeated),
    everything else with {}."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.queries = 0
        self.commands = []

    def cmd(self, name, **kw):
        self.commands.append(name)
        if name != "query-migrate":
            return {}
        self.queries += 1
        if len(self.replies) > 1:
            return self.replies.pop(0)
        return dict(self.replies[0])


def fake_source(replies):
    return types.SimpleNamespace(qmp=FakeQMP(replies),
                                 proc=types.SimpleNamespace(pid=os.getpid()))


def driver_args(**kw):
    a = dict(migrate_timeout=20, warm_syncs=0, downtime_ms=10000, bandwidth_mb=64,
             hold_bandwidth_mb=8, warm_downtime_ms=1, cache_mb=128)
    a.update(kw)
    return types.SimpleNamespace(**a)


def completed(total_ms, downtime_ms):
    return {"status": "completed", "total-time": total_ms, "downtime": downtime_ms,
            "ram": {"dirty-sync-count": 7}}


class CompletedTimes(unittest.TestCase):
    """QEMU 7.2's migration thread sets the state to completed in
    migration_completion() and only then, in migration_iteration_finish(),
    has migration_calculate_complete() compute total-time and downtime: a
    query-migrate in between reads completed with both 0.  The driver
    must ask again rather than report a migration of no time."""

    def run_migrate(self, replies):
        case = migrate.Case("a", "a", "qemu", "qemu", False)
        src = fake_source(replies)
        info = migrate.migrate(case, src, "/nonexistent.sock", driver_args())
        return info, src.qmp

    def test_completed_with_zero_times_is_asked_again(self):
        info, qmp = self.run_migrate([{"status": "active", "ram": {"dirty-sync-count": 1}},
                                      completed(0, 0), completed(0, 0),
                                      completed(18708, 517)])
        self.assertEqual(info.get("status"), "completed")
        self.assertEqual(info.get("total-time"), 18708)
        self.assertEqual(info.get("downtime"), 517)
        self.assertEqual(qmp.queries, 4)

    def test_completed_with_times_is_not_asked_again(self):
        info, qmp = self.run_migrate([completed(1200, 30), completed(999, 9)])
        self.assertEqual(info.get("total-time"), 1200)
        self.assertEqual(qmp.queries, 1)

    def test_times_that_never_come_end_the_wait(self):
        saved = migrate.COMPLETE_TIMES_WAIT_S
        migrate.COMPLETE_TIMES_WAIT_S = 0.3
        try:
            info, qmp = self.run_migrate([completed(0, 0)])
        finally:
            migrate.COMPLETE_TIMES_WAIT_S = saved
        self.assertEqual(info.get("status"), "completed")
        self.assertEqual(info.get("total-time"), 0)
        self.assertGreater(qmp.queries, 1)

    def test_failed_is_returned_at_once(self):
        info, qmp = self.run_migrate([{"status": "failed", "total-time": 0}])
        self.assertEqual(info.get("status"), "failed")
        self.assertEqual(qmp.queries, 1)


if __name__ == "__main__":
    unittest.main()
