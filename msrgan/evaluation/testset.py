"""The held-out test split of data/processed/ as evaluate and segment read it."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from msrgan.errors import fail
from msrgan.train.dataset import read_index


@dataclass(frozen=True)
class TestImage:
    id: str
    hr: Path
    lr: Path
    nuclei_mask: Path | None   # true label images at HR size, where the data has them
    cell_mask: Path | None
    lr_acquired: Path | None = None   # an independent LR acquisition of the same tile (prepare's test/lr_acquired)


def load_test_split(processed: str | Path) -> list[TestImage]:
    """Test rows of `processed`/index.csv, sorted by id, with every file checked to exist."""
    processed = Path(processed)
    index = processed / "index.csv"
    table = read_index(processed)
    rows = table[table["split"] == "test"].sort_values("id")
    if rows.empty:
        fail(f"{index}: no rows with split 'test' (raise prepare.split.test or add images)")
    out = []
    for row in rows.to_dict("records"):
        def mask(column: str) -> Path | None:
            rel = str(row.get(column, "") or "").strip()
            return processed / rel if rel else None
        item = TestImage(id=row["id"], hr=processed / "test" / "hr" / f"{row['id']}.png",
                         lr=processed / "test" / "lr" / f"{row['id']}.png",
                         nuclei_mask=mask("nuclei_mask"), cell_mask=mask("cell_mask"))
        acquired = processed / "test" / "lr_acquired" / f"{row['id']}.png"
        if acquired.is_file():
            item = replace(item, lr_acquired=acquired)
        for path in (item.hr, item.lr, item.nuclei_mask, item.cell_mask):
            if path is not None and not path.is_file():
                fail(f"{path}: listed in {index} for test image '{item.id}' but missing")
        out.append(item)
    return out
