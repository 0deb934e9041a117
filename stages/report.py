"""report: metrics/report.md and the study's figures, from what evaluate and segment wrote."""
from msrgan.errors import exit_on_user_error
from msrgan.report.document import report
from msrgan.params import load_params, parse_section


def main() -> None:
    raw = load_params()
    report("metrics", "data/processed", "data/sr", parse_section("evaluate", raw.get("evaluate") or {}).examples,
           "data/segmentation", parse_section("segment", raw.get("segment") or {}).examples)


if __name__ == "__main__":
    exit_on_user_error(main)
