"""merge: one RGB PNG per field of view in data/merged/ (R microtubules, G protein, B nucleus)."""
from msrgan.data.merge import merge
from msrgan.stage import run_stage

if __name__ == "__main__":  # guarded: worker processes (spawn, DDP) re-import this file
    run_stage("merge", lambda seed, params: merge(params, raw="data/raw", out="data/merged"))
