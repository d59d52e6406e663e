"""``nnott-data`` / ``python -m nnott.data``: list, describe and fetch datasets.

nnott-data list                      # names, sizes, whether present on this machine
nnott-data info fashion-mnist        # description, classes, license, where found
nnott-data fetch mnist [--data-dir DIR]   # download, or repair a damaged copy

``list`` and ``info`` check the files they find (pinned checksum, else structure) and
report a damaged copy as corrupt; ``fetch`` downloads the missing and damaged files again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nnott.backend._version import __version__
from nnott.cli import format_table, make_parser, run_main, user_path
from nnott.data import dataset, sources
from nnott.data.registry import get_spec

PROG = "nnott-data"


def _megabytes(size: int) -> str:
    return "bundled" if size == 0 else f"{size / 1e6:.1f} MB"


def _list(args: argparse.Namespace) -> None:
    if args.data_dir is not None:  # once, before the per-dataset lookups check it again
        sources.check_data_dir(
            args.data_dir, hint=f"`{PROG} fetch NAME --data-dir {args.data_dir}` creates it"
        )
    rows = []
    for name in dataset.available():
        about = dataset.info(name, data_dir=args.data_dir, verify=True)
        shape = "x".join(str(side) for side in about.image_shape)
        where = str(about.location) if about.location else "not present (downloads on use)"
        if about.corrupt:
            where = f"CORRUPT {where} (see: {PROG} info {name})"
        rows.append(
            [name, shape, about.train_size, about.test_size, _megabytes(about.download_size), where]
        )
    print(format_table(rows, ["dataset", "image", "train", "test", "download", "location"]))


def _fetch_command(name: str, data_dir: Path | None) -> str:
    """The ``nnott-data fetch`` command line that repairs ``name`` where it was found."""
    return f"{PROG} fetch {name}" + (f" --data-dir {data_dir}" if data_dir is not None else "")


def _info(args: argparse.Namespace) -> None:
    about = dataset.info(args.name, data_dir=args.data_dir, verify=True)
    shape = "x".join(str(side) for side in about.image_shape)
    print(f"{about.name}: {about.description}")
    print(f"  images    {shape} (C x H x W), {about.train_size:,} train, {about.test_size:,} test")
    print(f"  classes   {', '.join(about.classes)}")
    print(f"  license   {about.license}")
    print(f"  source    {about.url}")
    print(f"  download  {_megabytes(about.download_size)}")
    print(f"  location  {about.location or 'not on this machine'}")
    for number, problem in enumerate(about.problems or ()):
        print(f"  {'corrupt' if number == 0 else '':8}  {problem}")
    if about.corrupt:
        print(f"  repair    {_fetch_command(args.name, args.data_dir)} (downloads a fresh copy)")
    if about.location is None:
        spec = get_spec(args.name)
        print("  searched  " + "\n            ".join(sources.searched_places(spec, args.data_dir)))


def _fetch(args: argparse.Namespace) -> None:
    report = dataset.fetch(args.name, data_dir=args.data_dir)
    if report.replaced:
        print(f"{PROG}: replaced the damaged {', '.join(report.replaced)}", file=sys.stderr)
    data = report.dataset
    print(
        f"{data.name}: {len(data.train_labels):,} training and {len(data.test_labels):,} test "
        f"images ready in {report.location}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(PROG, "List, describe and fetch nnott's datasets.", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_dir_help = (
        "look in DIR/NAME and DIR first (DIR must be a directory); "
        "fetch downloads into DIR/NAME, creating it"
    )
    listing = commands.add_parser("list", help="the known datasets and whether they are here")
    listing.add_argument("--data-dir", type=user_path, metavar="DIR", help=data_dir_help)
    listing.set_defaults(action=_list)
    for command, action, text in (
        ("info", _info, "describe one dataset"),
        ("fetch", _fetch, "download a dataset (with a progress bar) and check it"),
    ):
        sub = commands.add_parser(command, help=text)
        sub.add_argument(
            "name",
            choices=dataset.available(),
            metavar="NAME",
            help=f"one of: {', '.join(dataset.available())}",
        )
        sub.add_argument("--data-dir", type=user_path, metavar="DIR", help=data_dir_help)
        sub.set_defaults(action=action)
    return parser


def _main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.action(args)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``nnott-data``; user errors end as one line on stderr, exit 2."""
    return run_main(_main, argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
