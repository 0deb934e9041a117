"""The training data path: crops of whole fields aligned and seeded by their key, the same batches with or without
DataLoader workers, restarts at any iteration, paper mode's whole tiles exactly as in memory."""
import json

import numpy as np
import pytest
import torch

from msrgan.errors import UserError
from msrgan.imageio import write_png
from msrgan.params import parse_section
from msrgan.train.dataset import (Batches, PairFiles, batch_indices, load_split, training_batch,
                                  training_split)
from tests.train_data import make_processed


def make_fields(root, n=6, size=64, scale=4, signal_corner=False):
    """Whole-field pairs (tiles mode's train split) whose LR pixel is the top-left HR pixel of its block, so an
    aligned crop shows as lr == hr[::scale, ::scale]."""
    rng = np.random.default_rng(1)
    rows = []
    for k in range(n):
        hr = rng.integers(0, 256, (size, size + 8 * k, 3), dtype=np.uint8)
        if signal_corner:   # signal only in the top-left 24 x 24 px: everything else is dark
            hr[:] = 0
            hr[:24, :24] = 200
        write_png(root / "train" / "hr" / f"f{k}.png", hr)
        write_png(root / "train" / "lr" / f"f{k}.png", np.ascontiguousarray(hr[::scale, ::scale]))
        rows.append(f"f{k},train,{k % 13},f{k},,")
    (root / "index.csv").write_text("id,split,labels,fov,nuclei_mask,cell_mask\n" + "\n".join(rows) + "\n")
    return root


def test_crops_of_whole_fields_are_aligned_and_a_function_of_their_key(tmp_path):
    files = PairFiles(make_fields(tmp_path), "train", lr_size=4, seed=3)
    assert files.scale == 4 and files.hr_size == 16
    hr, lr, labels = files[(2, 7, 0, 1)]
    assert hr.shape == (1, 3, 16, 16) and lr.shape == (1, 3, 4, 4) and hr.dtype == torch.uint8
    assert torch.equal(hr[..., ::4, ::4], lr) and labels[0, 2] == 1
    again = files[(2, 7, 0, 1)]
    assert torch.equal(again[0], hr)                                   # same key, same crop
    assert not torch.equal(files[(2, 8, 0, 1)][0], hr)                 # another iteration, another crop


def test_crops_are_drawn_where_the_field_has_signal(tmp_path):
    files = PairFiles(make_fields(tmp_path, signal_corner=True), "train", lr_size=4, min_foreground=0.5, seed=0)
    anywhere = PairFiles(tmp_path, "train", lr_size=4, seed=0)
    lit = [files[(k % 6, k, 0, 0)][0].float().mean() > 100 for k in range(30)]
    blind = [anywhere[(k % 6, k, 0, 0)][0].float().mean() > 100 for k in range(30)]
    # a crop lands half on the lit corner about 1 time in 12: at most CROP_TRIES draws make that 1 in 2
    assert sum(lit) >= 12 and sum(blind) <= 6


def test_workers_and_restarts_give_the_same_batches(tmp_path):
    files = PairFiles(make_fields(tmp_path), "train", lr_size=4, seed=5)
    inline = Batches(files, 4, 5, 0, 1, workers=0, iterations=8)
    first = [inline(it) for it in range(8)]
    pooled = Batches(files, 4, 5, 0, 1, workers=2, iterations=8)
    for it in (0, 1, 2, 6, 7, 3):                                      # 6 and 3: out of sequence, it restarts there
        hr, lr, labels = pooled(it)
        assert torch.equal(hr, first[it][0]) and torch.equal(lr, first[it][1]) and torch.equal(labels, first[it][2])


def test_paper_mode_batches_are_the_in_memory_tiles(tmp_path):
    """Whole tiles stream exactly as the split held in memory gives them: the same uint8 batches."""
    processed = make_processed(tmp_path / "p", counts=(10, 2, 2))
    params = parse_section("train_srresnet", {"batch_size": 4, "iterations": 5})
    batches = training_split(processed, params, seed=2)
    memory = load_split(processed, "train")
    for it in range(5):
        hr, lr, labels = batches(it)
        idx = batch_indices(len(memory), 4, it, 2)
        assert torch.equal(hr, memory.hr[idx]) and torch.equal(lr, memory.lr[idx])
        assert torch.equal(labels, memory.labels[idx])
    hr, lr, _ = training_batch(batches, params, 3, 2)
    assert hr.dtype == torch.float32 and hr.shape == (4, 3, 32, 32) and lr.shape == (4, 3, 8, 8)


def test_tiles_mode_trains_on_tile_sized_crops_and_vgg_reads_no_lr(tmp_path):
    processed = make_fields(tmp_path)
    (processed / "domain.json").write_text(json.dumps({"mode": "tiles", "hr_size": 32, "scale": 4,
                                                       "tile_min_foreground": 0.0}))
    batches = training_split(processed, parse_section("train_vgg", {"batch_size": 3}), seed=0, with_lr=False)
    hr, lr, labels = batches(0)
    assert hr.shape == (3, 3, 32, 32) and lr is None and labels.shape == (3, 13)
    cropped = training_split(processed, parse_section("train_srresnet", {"crop": 2}), seed=0)
    assert cropped(0)[1].shape[-1] == 2 and cropped.hr_size == 8       # an explicit crop wins


def test_bad_training_files_fail_before_training_in_one_line(tmp_path):
    make_fields(tmp_path, size=16)
    with pytest.raises(UserError, match=r"f0.png: 16x16 px is smaller than the training crop \(8 LR px, 32 HR px"):
        PairFiles(tmp_path, "train", lr_size=8)
    with pytest.raises(UserError, match="f1.png: size 24x16 differs from the other images 16x16"):
        PairFiles(tmp_path, "train")                                     # whole images are batched: one size
    write_png(tmp_path / "train" / "lr" / "f2.png", np.zeros((3, 5, 3), np.uint8))
    with pytest.raises(UserError, match=r"lr/f2.png: size 5x3 is not its HR 32x16 / 4"):
        PairFiles(tmp_path, "train", lr_size=2)


def test_an_error_in_a_worker_comes_back_as_one_line(tmp_path):
    files = PairFiles(make_fields(tmp_path), "train", lr_size=4)
    (tmp_path / "train" / "hr" / "f3.png").write_bytes(b"not a png any more")   # broken after the start
    batches = Batches(files, 6, 0, 0, 1, workers=1, iterations=1)           # one batch: every field
    with pytest.raises(UserError) as caught:
        batches(0)
    assert "f3.png" in str(caught.value) and len(str(caught.value).splitlines()) == 1, str(caught.value)


def test_checkpoints_follow_the_degradation_but_not_the_number_of_workers(tmp_path):
    from msrgan.train.checkpoint import run_hash
    from msrgan.train.dataset import fingerprint

    processed = make_fields(tmp_path)
    (processed / "domain.json").write_text('{"degradation": "microscope", "microscope": {"photons": 200}}')
    before = fingerprint(processed)
    (processed / "domain.json").write_text('{"degradation": "microscope", "microscope": {"photons": 100}}')
    assert fingerprint(processed) != before                              # new LR fields, the same index.csv
    one, two = (parse_section("train_srresnet", {"workers": n}) for n in (0, 2))
    assert run_hash("msrgan.train.srresnet", params=one) == run_hash("msrgan.train.srresnet", params=two)
    assert run_hash("msrgan.train.srresnet", params=one) != run_hash(
        "msrgan.train.srresnet", params=parse_section("train_srresnet", {"crops_per_field": 2}))


def test_starting_the_loader_leaves_the_global_rng_alone(tmp_path):
    """The global RNG drives dropout per iteration: a loader (re)started at a resume point must not move it."""
    files = PairFiles(make_fields(tmp_path), "train", lr_size=4)
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    Batches(files, 2, 0, 0, 1, workers=0, iterations=4)(2)
    assert torch.equal(torch.rand(1), expected)


def test_several_crops_per_field_read_fill_the_batch_and_the_first_is_the_single_crop(tmp_path):
    make_fields(tmp_path)
    single = PairFiles(tmp_path, "train", lr_size=4, seed=1)
    four = PairFiles(tmp_path, "train", lr_size=4, seed=1, crops=4)
    hr, lr, labels = four[(3, 2, 0, 0)]
    assert hr.shape == (4, 3, 16, 16) and lr.shape == (4, 3, 4, 4) and labels.shape == (4, 13)
    assert torch.equal(hr[0], single[(3, 2, 0, 0)][0][0])            # the same stream: first crop as with 1
    assert torch.equal(hr[:, :, ::4, ::4], lr) and len({h.sum().item() for h in hr}) > 1
    batch = Batches(four, 8, 1, 0, 1, workers=0, iterations=2)(1)
    assert batch[0].shape == (8, 3, 16, 16)                            # 2 fields read, 4 crops each
    with pytest.raises(UserError, match="train_srresnet.crops_per_field: 3 does not divide batch_size 16"):
        parse_section("train_srresnet", {"crops_per_field": 3})
