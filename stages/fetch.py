"""fetch: bring fields of view (4 stains each) and their labels into data/raw/ (see fetch.source)."""
from msrgan.data.fetch import fetch
from msrgan.stage import run_stage

if __name__ == "__main__":  # guarded: worker processes (spawn, DDP) re-import this file
    run_stage("fetch", lambda seed, params: fetch(params, seed, out="data/raw"))
