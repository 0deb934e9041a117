"""The report says what the tests say and how the run was made: its sentences come from the verdicts, its methods
paragraph from the settings evaluate recorded."""
from __future__ import annotations

from msrgan.report.document import how_the_numbers_are_made
from msrgan.report.summary import in_short, summary_paragraph
from msrgan.report.verdicts import index


def paired(method, baseline, metric, better=False, worse=False, r=0.0):
    return {"method": method, "baseline": baseline, "metric": metric, "better": better, "worse": worse,
            "rank_biserial": r, "median_diff": r, "ci_low": r - 0.1, "ci_high": r + 0.1, "p_holm": 0.5}


SEG = ("nuclei_dice", "nuclei_f1", "cells_dice", "cells_f1")


def verdicts(seg_vs_srresnet: dict):
    """mSRGAN: better than bicubic on everything, worse than SRResNet on PSNR/SSIM; segmentation vs SRResNet as
    given (metric -> 'better'/'worse'/'n.s.')."""
    image = [paired("msrgan", "bicubic", m, better=True, r=0.9) for m in ("psnr", "ssim")]
    image += [paired("msrgan", "srresnet", m, worse=True, r=-0.8) for m in ("psnr", "ssim")]
    seg = [paired("msrgan", "bicubic", m, better=True, r=0.7) for m in SEG]
    seg += [paired("msrgan", "srresnet", m, better=v == "better", worse=v == "worse",
                 r={"better": 0.6, "worse": -0.6, "n.s.": 0.1}[v]) for m, v in seg_vs_srresnet.items()]
    return index(image), index(seg)


def test_the_segmentation_sentence_claims_nothing_the_tests_do_not_say():
    """The committed report said 'it makes segmentation better than bicubic or SRResNet' while every segmentation
    test against SRResNet was n.s.: the sentence must say 'not significantly different' there."""
    eval_tests, seg_tests = verdicts({m: "n.s." for m in SEG})
    text = in_short(eval_tests, seg_tests)
    assert "better than bicubic or SRResNet" not in text
    assert "its segmentation is better than Bicubic on" in text
    assert "its segmentation is not significantly different from SRResNet on any segmentation score" in text
    assert "better than Bicubic on PSNR and SSIM" in text and "worse than SRResNet on PSNR and SSIM" in text


def test_a_mixed_verdict_is_reported_as_mixed():
    eval_tests, seg_tests = verdicts({"nuclei_dice": "better", "nuclei_f1": "n.s.", "cells_dice": "worse",
                                      "cells_f1": "n.s."})
    text = in_short(eval_tests, seg_tests)
    assert "better than SRResNet on nuclei dice but worse on cells dice" in text


def test_the_summary_cites_every_dice_comparison_by_its_verdict():
    eval_tests, seg_tests = verdicts({m: "n.s." for m in SEG})
    segment = {m: {"nuclei_dice": 0.8, "cells_dice": 0.9} for m in ("bicubic", "srresnet", "msrgan")}
    segment["reference"] = {"nuclei": "truth"}
    text = summary_paragraph({}, eval_tests, segment, seg_tests, 48)
    assert "nuclei Dice 0.800, significantly higher than bicubic's (0.800) and not significantly different from " \
           "SRResNet's (0.800)" in text


def test_the_methods_paragraph_follows_a_non_default_run():
    settings = {"nrmse_percentiles": [1, 99], "frc_threshold": 0.5, "perceptual_blocks": [3, 5],
                "judge_blocks": [1, 2, 3], "kid_subsets": 50, "kid_subset_size": 10,
                "domain": {"degradation": "microscope", "scale": 4, "microscope": {"psf_sigma": 1.5}}}
    text = "\n".join(how_the_numbers_are_made(settings, 0.01, 0.6))
    for needle in ("1/99 percentiles", "below 1/2", "block 3, 5 feature maps", "stage 1-3 feature maps",
                   "50 random subsets of 10 images", "microscope's expected acquisition", "1.5 HR px",
                   "at the 0.01 level", "IoU > 0.6"):
        assert needle in text, needle
    assert "OpenCV bicubic" not in text and "0.1/99.9" not in text
    default = "\n".join(how_the_numbers_are_made({}, 0.05, 0.5))
    assert "OpenCV bicubic" in default and "below 1/7" in default
