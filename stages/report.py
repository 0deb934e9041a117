"""report: metrics/report.md and the per-image distribution figures, from the metrics files alone."""
from msrgan.errors import exit_on_user_error
from msrgan.evaluation.report import report

if __name__ == "__main__":
    exit_on_user_error(lambda: report("metrics"))
