"""`python -m bench` (`make bench`): quick by default, `--full` adds N=100k; prints the table, writes results.json."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bench.plan import FULL, QUICK, SECTIONS, tiny
from bench.report import table
from bench.run import run, write_results


def main() -> int:
    """Parse arguments, run, print and save."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--full", action="store_true", help="N up to 100k users (several minutes)")
    parser.add_argument("--tiny", type=int, metavar="N", help="a seconds-long smoke run with N users")
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).parent / "results.json")
    parser.add_argument(
        "--profile", type=Path, metavar="FILE", help="run the bridge under pyinstrument; text report to FILE"
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="work in DIR (logs, config, SQLite) and keep it"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        metavar="SECTION",
        help=f"measure only this section (repeatable; one of {', '.join(SECTIONS)}); "
        "the results document then holds only these",
    )
    args = parser.parse_args()
    plan = tiny(args.tiny) if args.tiny else FULL if args.full else QUICK

    def progress(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(
        run(
            plan,
            progress=progress,
            sections=args.only or SECTIONS,
            profile_to=args.profile,
            workdir=args.keep,
        )
    )
    write_results(results, args.output)
    print(table(results))
    print(f"\nresults written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
