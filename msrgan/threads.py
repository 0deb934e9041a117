"""Per-FOV work on a few threads, for the data stages: TIFF/PNG codecs, lookups and OpenCV release the GIL, and
nothing needs pickling, so threads beat processes here."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tqdm import tqdm

Item = TypeVar("Item")
Result = TypeVar("Result")


def thread_map(work: Callable[[Item], Result], items: Sequence[Item], desc: str, workers: int | None = None
               ) -> list[Result]:
    """[work(item) for item in items] on `workers` threads (default: up to 4, no more than the CPUs or items), in
    input order, with a progress bar. The first exception cancels every job not yet started and is raised."""
    workers = workers or max(1, min(4, os.cpu_count() or 1, len(items)))
    with ThreadPoolExecutor(workers) as pool:
        jobs = [pool.submit(work, item) for item in items]
        try:
            return [job.result() for job in tqdm(jobs, desc=desc, unit="FOV", disable=None)]
        except BaseException:
            for job in jobs:
                job.cancel()
            raise
