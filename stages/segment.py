"""segment: the segmentation study on HR and SR images and its statistics."""
from msrgan.segmentation.study import segment_study
from msrgan.stage import run_stage

if __name__ == "__main__":  # guarded: worker processes (spawn, DDP) re-import this file
    run_stage("segment", lambda seed, params: segment_study(params, seed, processed="data/processed", sr_dir="data/sr",
                                                            metrics_dir="metrics", labels_out="data/segmentation"))
