"""`python -m msrgan export MODEL.pt --out DIR_OR_ZIP`: a generator file as a BioImage.IO model package.

An expected problem (a foreign or damaged file, an existing output without --force, an unwritable output, missing
pipeline data) is one `error:` line and exit status 2, with nothing written.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from msrgan.errors import UserError, fail
from msrgan.export.documentation import evaluation_table, training_domain
from msrgan.export.package import check_output, export
from msrgan.export.sample import file_field, pipeline_field
from msrgan.params import Export

HELP = "write a generator as a BioImage.IO model package (Fiji/deepImageJ, napari, ilastik, QuPath)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Export()
    parser.add_argument("model", metavar="MODEL", help="generator file (data/models/generator.pt or srresnet.pt)")
    parser.add_argument("--out", required=True, help="the package: a .zip file, or else a folder")
    parser.add_argument("--force", action="store_true", help="replace an existing --out")
    parser.add_argument("--sample", help="image to make the test tensors and cover from (channels 0-2 as "
                                         "microtubules, protein, nucleus); default: the pipeline's first test field")
    parser.add_argument("--raw", default="data/raw", help="the pipeline's raw folder (default data/raw)")
    parser.add_argument("--processed", default="data/processed",
                        help="the pipeline's processed folder (default data/processed)")
    parser.add_argument("--metrics", default="metrics/evaluate.json",
                        help="evaluation shown in the documentation (default metrics/evaluate.json; skipped "
                             "when missing)")
    parser.add_argument("--author", action="append", dest="authors", metavar="NAME",
                        help=f"author (repeat for several; default: {', '.join(defaults.authors)})")
    parser.add_argument("--license", default=defaults.license, help=f"SPDX id (default {defaults.license})")


def export_package(model: str | Path, out: str | Path, *, sample: str | None = None, raw="data/raw",
                   processed="data/processed", metrics="metrics/evaluate.json", authors: list[str] | None = None,
                   license: str | None = None, force: bool = False) -> Path:
    """The routine `msrgan export` and the export stage share: check `out` before any work, take the test field
    from `sample` (else the pipeline's first test field in `raw`/`processed`), the evaluation from `metrics`
    (skipped when missing), write the package and return its path. Every expected problem (an existing `out`
    without `force`, invalid metrics JSON or a value that is no number, a foreign model file, missing data) is a
    UserError, raised before anything is written."""
    check_output(Path(out), force)   # before any work
    field, source = file_field(sample) if sample else pipeline_field(raw, processed)
    evaluation = {}
    if Path(metrics).is_file():
        try:
            evaluation = json.loads(Path(metrics).read_text())
        except json.JSONDecodeError as exc:
            fail(f"{metrics}: not valid JSON ({exc.msg})")
        evaluation_table(evaluation, str(metrics))   # a value that is no number: one line now, not later
    defaults = Export()
    return export(model, out, field, source, evaluation, training_domain(processed), authors or defaults.authors,
                  license or defaults.license, force)


def run(args: argparse.Namespace) -> int:
    try:
        out = export_package(args.model, args.out, sample=args.sample, raw=args.raw, processed=args.processed,
                             metrics=args.metrics, authors=args.authors, license=args.license, force=args.force)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"export: {out} (BioImage.IO model package, bioimageio.core's model test passed)")
    return 0
