"""evaluate: every method upscales the test LR images (data/sr/<method>/), scored against HR (metrics/)."""
from msrgan.evaluation.evaluate import evaluate
from msrgan.stage import run_stage

if __name__ == "__main__":  # guarded: worker processes (spawn, DDP) re-import this file
    run_stage("evaluate", lambda seed, params: evaluate(params, seed, processed="data/processed", models="data/models",
                                                        sr_out="data/sr", metrics_dir="metrics"))
