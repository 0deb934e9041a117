"""The Dask cluster a command or a data stage runs its files on: a new `distributed.LocalCluster` of worker
processes on this machine, or an existing cluster's scheduler (dask-jobqueue on SLURM/PBS/LSF, dask-cuda's one
worker per GPU, `dask scheduler` + `dask worker` by hand).

Workers read and write the same paths as the caller: on a cluster of several machines the inputs and outputs must
be on a filesystem every worker sees at the same path (the caller sends absolute paths to a `scheduler`).
`distributed` is imported only when a cluster is asked for, so the default single-process run does not need it.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from tqdm import tqdm

from msrgan.threads import thread_map
from msrgan.errors import UserError, fail

if TYPE_CHECKING:
    from distributed import Client

Item = TypeVar("Item")
Result = TypeVar("Result")

CONNECT_TIMEOUT = 10.0   # seconds to reach a --scheduler before giving up with one line


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity, e.g. a SLURM allocation), else os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not Linux
        return os.cpu_count() or 1


def dask_setup(worker) -> None:
    """Run by each worker of dask_client's LocalCluster as it starts (this module is its preload): Ctrl-C, which the
    terminal sends to every process of the command, is left to the calling process, which shuts the cluster down;
    the workers would otherwise each print a KeyboardInterrupt traceback. (Called in the worker's main thread.)"""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def uses_cluster(workers: int, scheduler: str) -> bool:
    """True when the work goes to Dask workers: more than one local worker process, or a scheduler's cluster."""
    return workers > 1 or bool(scheduler)


def check_cluster_options(workers: int, scheduler: str, workers_name: str = "--workers",
                          scheduler_name: str = "--scheduler") -> None:
    """UserError (one line naming the option) for a number of workers below 1, or workers given with a scheduler
    (whose cluster has workers of its own)."""
    if workers < 1:
        fail(f"{workers_name}: at least 1 (1: in this process, more: a local Dask cluster), got {workers}")
    if scheduler and workers != 1:
        fail(f"{workers_name}: the cluster at {scheduler_name} has its own workers; leave {workers_name} at 1")


def scheduler_address(scheduler: str) -> str:
    """The address `scheduler` names: itself, or the `address` in a scheduler file (the JSON that `dask scheduler
    --scheduler-file`, dask-mpi or a jobqueue cluster's `scheduler.write_scheduler_file` writes)."""
    path = Path(scheduler).expanduser()
    if "://" not in scheduler and path.is_file():
        try:
            return str(json.loads(path.read_text())["address"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            fail(f"--scheduler: {path} is not a Dask scheduler file with an address ({type(exc).__name__})")
    return scheduler


def probe(address: str, timeout: float | None = None, name: str = "--scheduler") -> None:
    """Connect once to the scheduler at `address`; UserError naming `name` for an address that is malformed or not
    answered within `timeout` seconds. (A failed distributed.Client prints a traceback when it is collected, so the
    address is tried before a Client is made.)"""
    from distributed.comm import connect
    from distributed.security import Security

    async def attempt() -> None:
        comm = await connect(address, timeout=timeout or CONNECT_TIMEOUT, **Security().get_connection_args("client"))
        await comm.close()

    try:
        asyncio.run(attempt())
    except (OSError, ValueError, TypeError, asyncio.TimeoutError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(f"{name}: no Dask scheduler at {address!r} ({reason})")


@contextlib.contextmanager
def dask_client(workers: int = 1, scheduler: str = "", threads: int | None = None,
                scheduler_name: str = "--scheduler") -> Iterator[Client]:
    """A distributed.Client for the duration of the block: connected to `scheduler` (an address such as
    tcp://host:8786, or a scheduler file) when given, else to a new LocalCluster of `workers` processes on the
    loopback interface, with `threads` threads each (default: this machine's CPUs shared between them), no
    dashboard, and quiet logs. The cluster is shut down on leaving the block. UserError for an unreachable or
    malformed scheduler address (naming `scheduler_name`)."""
    from distributed import Client, LocalCluster

    if scheduler:
        address = scheduler_address(scheduler)
        probe(address, name=scheduler_name)
        with Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False) as client:
            yield client
        return
    threads = threads or max(1, cpu_count() // workers)
    with LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=logging.CRITICAL, preload=[__name__]) as cluster, \
            Client(cluster, set_as_default=False) as client:
        yield client


def cluster_map(work: Callable[[Item], Result], items: Sequence[Item], desc: str, workers: int = 1,
                scheduler: str = "", threads: int | None = None, unit: str = "FOV",
                scheduler_name: str = "--scheduler") -> list[Result]:
    """[work(item) for item in items], in input order, with a progress bar: on `threads` threads of this process
    (msrgan.threads.thread_map) when `workers` is 1 and no `scheduler` is given, else as one Dask task per item
    on dask_client(workers, scheduler). Each item's result does not depend on where it ran, so the outputs are
    those of the single-process run. The first failure (in input order, among the items finished when it is seen)
    cancels the rest and is raised as it was raised on the worker (a UserError stays one line); a worker that died
    on an item (killed for memory, say) is a UserError naming the item's position. `scheduler_name` names the
    scheduler option in messages."""
    if not uses_cluster(workers, scheduler):
        return thread_map(work, items, desc, threads)
    if not items:
        return []
    from distributed import KilledWorker, as_completed

    with dask_client(workers, scheduler, scheduler_name=scheduler_name) as client:
        workers_now = len(client.scheduler_info(n_workers=-1)["workers"])
        print(f"{desc}: {len(items)} {unit}(s) on {workers_now} Dask worker(s) at {client.scheduler.address}")
        futures = client.map(work, list(items), pure=False)
        where = {future.key: i for i, future in enumerate(futures)}
        results: list = [None] * len(futures)
        with tqdm(total=len(futures), desc=desc, unit=unit, disable=None) as bar:
            for future in as_completed(futures, loop=client.loop):
                if future.status != "finished":
                    first = next((f for f in futures if f.status == "error"), future)
                    try:
                        first.result()          # raises the worker's exception (before the cancel, which drops it)
                    except KilledWorker:
                        client.cancel(futures)
                        fail(f"{desc}: a Dask worker died on {unit} {where[first.key] + 1} of {len(futures)} "
                             f"(out of memory?)")
                    except BaseException:
                        client.cancel(futures)
                        raise
                    client.cancel(futures)
                    raise UserError(f"{desc}: {unit} {where[future.key] + 1} of {len(futures)} was {future.status}")
                results[where[future.key]] = future.result()
                bar.update()
        return results
