"""``python -m benchmarks --mode quick|full|smoke [--only NAME,...] [--out FILE]``.

``--sizes 256MiB,1GiB`` runs the sized scenarios (memory_flat, shaped_copy) on those objects
instead of the mode's; ``--link 40,20`` gives shaped_copy another link (MB/s each way, ms).

Prints one JSON document on stdout, a short table on stderr, and writes the document to
``benchmarks/results/latest.json`` (smoke mode, a self-test on tiny sizes, writes only ``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.context import MODES
from benchmarks.runner import run_all, table, write
from benchmarks.stats import parse_link, parse_sizes


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run, report; exit status 0 even when goals are missed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--mode", choices=MODES, default="quick")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument(
        "--stock-moto",
        action="store_true",
        help="run moto unchanged (ranged GETs then read the whole object: very slow)",
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=None,
        help="object sizes instead of the mode's, e.g. 256MiB,1GiB (memory_flat: every size, "
        "the first two the flatness pair; shaped_copy: the first)",
    )
    parser.add_argument(
        "--link",
        type=parse_link,
        default=None,
        help="shaped_copy's link instead of its default: MB/s each way and one-way latency "
        "in ms, e.g. 40,20",
    )
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()] or None
    document = run_all(
        args.mode, only, stock_moto=args.stock_moto, sizes=args.sizes, link=args.link
    )
    write(document, args.out)
    print(table(document), file=sys.stderr)
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
