"""export: the trained generator (params export.model) as a BioImage.IO model package, data/models/bioimageio.zip."""
import json

from msrgan.export.documentation import training_domain
from msrgan.export.package import export
from msrgan.export.sample import pipeline_field
from msrgan.stage import run_stage


def main(seed: int, params) -> None:
    field, source = pipeline_field("data/raw", "data/processed")
    with open("metrics/evaluate.json") as f:
        evaluation = json.load(f)
    out = export(f"data/models/{params.model}.pt", "data/models/bioimageio.zip", field, source,
                 evaluation, training_domain("data/processed"), params.authors, params.license, force=True)
    print(f"export: {out}")


if __name__ == "__main__":
    run_stage("export", main)
