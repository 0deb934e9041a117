"""The held-out test split of data/processed/ as evaluate and segment read it."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from msrgan.classes import parse_labels
from msrgan.data.processed import ACQUIRED, INDEX, image_path, read_index
from msrgan.errors import fail


@dataclass(frozen=True)
class TestImage:
    id: str
    hr: Path
    lr: Path
    nuclei_mask: Path | None   # true label images at HR size, where the data has them
    cell_mask: Path | None
    lr_acquired: Path | None = None   # an independent LR acquisition of the same tile (prepare's test/lr_acquired)
    labels: tuple[int, ...] = ()      # class indices (msrgan.classes.CLASSES) of its FOV


def load_test_split(processed: str | Path) -> list[TestImage]:
    """Test rows of `processed`/index.csv, sorted by id, with every file checked to exist."""
    processed = Path(processed)
    index = processed / INDEX
    rows = sorted(read_index(processed, "test"), key=lambda row: row["id"])
    if not rows:
        fail(f"{index}: no rows with split 'test' (raise prepare.split.test or add images)")
    out = []
    for row in rows:
        def mask(column: str) -> Path | None:
            rel = row.get(column, "").strip()
            return processed / rel if rel else None
        item = TestImage(id=row["id"], hr=image_path(processed, "test", "hr", row["id"]),
                         lr=image_path(processed, "test", "lr", row["id"]),
                         nuclei_mask=mask("nuclei_mask"), cell_mask=mask("cell_mask"),
                         labels=tuple(parse_labels(str(row["labels"]), f"{index}: {row['id']}")))
        acquired = image_path(processed, "test", ACQUIRED, row["id"])
        if acquired.is_file():
            item = replace(item, lr_acquired=acquired)
        for path in (item.hr, item.lr, item.nuclei_mask, item.cell_mask):
            if path is not None and not path.is_file():
                fail(f"{path}: listed in {index} for test image '{item.id}' but missing")
        out.append(item)
    return out
