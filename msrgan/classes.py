"""The 13 protein localisation classes of CYTO2017, in index order, and parsing of label strings."""
from __future__ import annotations

import re

from msrgan.errors import fail

CLASSES = (
    "Nucleus", "Nucleoli", "Nuclear membrane", "Golgi apparatus", "Endoplasmic reticulum", "Vesicles",
    "Plasma membrane", "Mitochondria", "Cytosol", "Microtubules", "Centrosome", "Actin filaments",
    "Intermediate filaments",
)
N_CLASSES = len(CLASSES)
_BY_NAME = {name.lower(): i for i, name in enumerate(CLASSES)}


def parse_labels(text: str, where: str) -> list[int]:
    """'Nucleus;Golgi apparatus', '0 3' or '0;3' -> sorted class indices. `where` names the source for errors."""
    text = str(text).strip()
    parts = [p.strip() for p in (text.split(";") if ";" in text else re.split(r"[\s,]+", text)) if p.strip()]
    if not parts:
        fail(f"{where}: no labels")
    if ";" not in text and not all(p.isdigit() for p in parts):
        parts = [text]  # a single class name that contains spaces, e.g. 'Golgi apparatus'
    out = set()
    for part in parts:
        if part.isdigit():
            index = int(part)
            if not 0 <= index < N_CLASSES:
                fail(f"{where}: class index {index} is not among the 13 classes (0-{N_CLASSES - 1})")
        else:
            index = _BY_NAME.get(part.lower())
            if index is None:
                fail(f"{where}: class '{part}' is not among the 13 classes ({', '.join(CLASSES)})")
        out.add(index)
    return sorted(out)


def format_labels(indices: list[int]) -> str:
    """Class indices as the index.csv writes them: '0;3'."""
    return ";".join(str(i) for i in sorted(indices))
