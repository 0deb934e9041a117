"""The `msrgan` command line: a small dispatcher over subcommands, each a module with add_arguments() and run()."""
from __future__ import annotations

import argparse
import sys

from msrgan import reproduction
from msrgan.export import command as export
from msrgan.upscale import command as upscale

SUBCOMMANDS = {"upscale": upscale, "export": export, "check-repro": reproduction}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="msrgan", description="mSRGAN: 4x super-resolution of fluorescence "
                                     "microscopy. The study itself runs as a DVC pipeline (dvc repro).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in SUBCOMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    args = parser.parse_args(argv)
    try:
        return SUBCOMMANDS[args.command].run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
