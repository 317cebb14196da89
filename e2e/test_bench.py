#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests of e2e/bench.py's option parsing that need no VM.  Run by
make check (scripts/check.sh) with e2e/test_migrate.py.  Standard
library only."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


class SplitMode(unittest.TestCase):
    def test_plain_modes(self):
        for md in bench.MODES:
            self.assertEqual(bench.split_mode(md), (md, None))

    def test_clear_bitmap_shift(self):
        self.assertEqual(bench.split_mode("offload-clear@12"), ("offload-clear", 12))
        self.assertEqual(bench.split_mode("qemu@6"), ("qemu", 6))
        self.assertEqual(bench.split_mode("offload@31"), ("offload", 31))

    def test_refused(self):
        for md in ("", "offload-noclear", "qemu@", "qemu@5", "qemu@32", "qemu@x", "qemu@-7",
                   "qemu@12@12"):
            with self.assertRaises(ValueError, msg=md):
                bench.split_mode(md)


if __name__ == "__main__":
    unittest.main()
