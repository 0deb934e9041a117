"""report: metrics/report.md and the study's figures, from what evaluate and segment wrote."""
from msrgan.report.document import report
from msrgan.stage import run_stage

if __name__ == "__main__":
    run_stage(("evaluate", "segment"), lambda seed, evaluate, segment: report(
        "metrics", "data/processed", "data/sr", evaluate.examples, "data/segmentation", segment.examples))
