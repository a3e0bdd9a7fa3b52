"""Running a campaign's chunks on worker processes, with live progress and a clean stop.

Workers are forked (they inherit the parsed base scenario and any plug-in already imported); each
runs whole chunks and sends back their :class:`~podquake.chaos.campaign_chunk.ChunkResult`. For the
progress bar, each counts its runs into memory shared with the command's process (examples done,
failing examples, shrink runs), which reads it a few times a second as it waits. On a stop request
(:func:`~podquake.chaos.stopping.stop_campaign`), chunks not started are cancelled and each worker
is sent SIGTERM, which its handler turns into the same request: it finishes its example and returns
its chunk.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import active_children, get_context
from typing import TYPE_CHECKING, Any

from podquake.chaos.campaign_chunk import ChunkResult, Progress, count_run, run_chunk, unneeded_examples
from podquake.chaos.scenario import Scenario
from podquake.chaos.stopping import on_stop_signal, stop_requested

if TYPE_CHECKING:
    from podquake.chaos.campaign import CampaignSettings

__all__ = ["run_pool"]


_SHARED: dict[str, Any] = {"counts": None}  # in a worker: the counts shared with the command's process


def _worker_init(counts: Any) -> None:
    signal.signal(signal.SIGINT, on_stop_signal)
    signal.signal(signal.SIGTERM, on_stop_signal)
    _SHARED["counts"] = counts


def _count_in_shared_memory(kind: str) -> None:
    counts = _SHARED["counts"]
    with counts.get_lock():
        count_run(counts, kind)


def _run_chunk_in_worker(args: tuple[CampaignSettings, int, int, Sequence[Scenario]]) -> ChunkResult:
    if stop_requested():
        return ChunkResult(args[1], interrupted=True)
    return run_chunk(*args, on_run=_count_in_shared_memory)


def run_pool(settings: CampaignSettings, jobs: list[Any], results: dict[int, ChunkResult], progress: Progress | None) -> bool:
    """Run ``jobs`` on worker processes into ``results``, telling ``progress`` as runs end; True if
    stopped early (see :func:`~podquake.chaos.stopping.stop_campaign`)."""
    context = get_context("fork")
    counts = context.Array("q", 3)  # examples done, failing examples, shrink runs: over every worker
    reported = [0, 0, 0, 0]  # and unneeded examples, counted here as chunks come back
    unneeded = 0
    sizes = {job[1]: job[2] for job in jobs}

    def report_progress() -> None:
        with counts.get_lock():
            now = [*counts, unneeded]
        if progress is not None and now != reported:
            progress(now[0] - reported[0], failures=now[1], shrink_runs=now[2], unneeded=now[3])
            reported[:] = now

    workers = min(settings.workers, len(jobs))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init, initargs=(counts,))
    pending = {pool.submit(_run_chunk_in_worker, job) for job in jobs}
    interrupted = False
    try:
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                if future.cancelled():
                    continue
                chunk = future.result()
                results[chunk.index] = chunk
                interrupted = interrupted or chunk.interrupted
                unneeded += unneeded_examples(chunk, sizes[chunk.index])
            report_progress()
            if stop_requested() and not interrupted:
                interrupted = True
                for future in pending:
                    future.cancel()
                for child in active_children():
                    if child.pid is not None:
                        os.kill(child.pid, signal.SIGTERM)  # each stops after its example, sends back its chunk
    except KeyboardInterrupt:  # a second Ctrl-C (or one from outside the command): stop waiting
        interrupted = True
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
        if interrupted:
            for child in active_children():
                child.terminate()
        report_progress()
    return interrupted
