"""Resident memory across many Engine lifetimes (issue 9: an Engine used to leak ~1 MB of C rulesets).

Usage::

    python bench/engine_lifecycle.py [--engines 200]

Builds and drops ``--engines`` engines three ways - dropped without ``close()``, closed, and used as
a context manager - in this process, and prints the resident-memory growth of each from after one
warm-up engine. A figure, not a test: the regression test is tests/test_resources.py.
"""

from __future__ import annotations

import argparse
import gc
import os

from ivig_cds import Engine


def rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", type=int, default=200)
    n = parser.parse_args().engines
    Engine(entry_points=False).close()
    for mode in ("dropped", "close()", "with"):
        gc.collect()
        base = rss_mib()
        for _ in range(n):
            engine = Engine(entry_points=False)
            if mode == "close()":
                engine.close()
            elif mode == "with":
                with engine:
                    pass
            del engine
        gc.collect()
        grown = rss_mib() - base
        print(f"{mode:8} {n} engines: RSS {grown:+.1f} MiB ({grown * 1024 / n:+.1f} KiB per engine)")


if __name__ == "__main__":
    main()
