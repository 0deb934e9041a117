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


_MAX_WORDS = max(len(name.split()) for name in CLASSES)


def parse_labels(text: str, where: str) -> list[int]:
    """'Nucleus;Golgi apparatus', 'Nucleus Golgi apparatus', '0 3' or '0;3' -> sorted class indices.

    With `;` or `,` between labels, each part is one class; with spaces only, class names are matched greedily
    (longest name first), so multi-word names like 'Golgi apparatus' need no quoting. `where` names the source.
    """
    text = str(text).strip()
    if re.search(r"[;,]", text):
        parts = [p.strip() for p in re.split(r"[;,]", text) if p.strip()]
    else:
        parts = _greedy_names(text.replace("_", " ").split(), where)
    if not parts:
        fail(f"{where}: no labels")
    out = set()
    for part in parts:
        if part.isdigit():
            index = int(part)
            if not 0 <= index < N_CLASSES:
                fail(f"{where}: class index {index} is not among the 13 classes (0-{N_CLASSES - 1})")
        else:
            index = _BY_NAME.get(" ".join(part.replace("_", " ").split()).lower())
            if index is None:
                fail(f"{where}: class '{part}' is not among the 13 classes ({', '.join(CLASSES)})")
        out.add(index)
    return sorted(out)


def _greedy_names(tokens: list[str], where: str) -> list[str]:
    """Space-separated tokens -> labels: digits alone, names as the longest run of tokens that is a class name."""
    parts, i = [], 0
    while i < len(tokens):
        if tokens[i].isdigit():
            parts.append(tokens[i])
            i += 1
            continue
        for j in range(min(len(tokens), i + _MAX_WORDS), i, -1):
            if " ".join(tokens[i:j]).lower() in _BY_NAME:
                parts.append(" ".join(tokens[i:j]))
                i = j
                break
        else:
            fail(f"{where}: class '{tokens[i]}' is not among the 13 classes ({', '.join(CLASSES)})")
    return parts


def format_labels(indices: list[int]) -> str:
    """Class indices as the index.csv writes them: '0;3'."""
    return ";".join(str(i) for i in sorted(indices))
