"""export: the trained generator (params export.model) as a BioImage.IO model package, data/models/bioimageio.zip."""
from msrgan.export.command import export_package
from msrgan.stage import run_stage


def main(seed: int, params) -> None:
    out = export_package(f"data/models/{params.model}.pt", "data/models/bioimageio.zip", authors=params.authors,
                         license=params.license, force=True)
    print(f"export: {out}")


if __name__ == "__main__":
    run_stage("export", main)
