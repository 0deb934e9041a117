"""evaluate: every method upscales the test LR images (data/sr/<method>/), scored against HR (metrics/); the methods
are the study's and the baselines named in params.yaml's baselines and baseline_gans."""
from msrgan.evaluation.evaluate import evaluate
from msrgan.stage import run_stage

if __name__ == "__main__":  # guarded: worker processes (spawn, DDP) re-import this file
    run_stage(("evaluate", "baselines", "baseline_gans"), lambda seed, params, baselines, gans: evaluate(
        params, seed, processed="data/processed", models="data/models", sr_out="data/sr", metrics_dir="metrics",
        baselines=[*baselines.root, *gans.root]))
