"""Running the face pipeline off the event loop, on a bounded pool, refusing work beyond its queue.

Threads rather than processes: onnxruntime, Pillow's decoders and NumPy's array operations release
the GIL, so inference threads leave the event loop free (the benchmark measures its lag), and the
models are loaded once per server process instead of once per pool process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from backend.errors import FaceUnavailable, ServiceBusy
from ml_models.models import ModelError
from ml_models.pipeline import FacePipeline, shared_pipeline

log = logging.getLogger("tongban.face")
T = TypeVar("T")


# Inference threads yield the CPU to the event loop (and to PostgreSQL on the same machine) whenever
# both want it: the loop's work is short and latency-bound, inference is long and throughput-bound.
INFERENCE_NICENESS = 10


def _lower_priority() -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), INFERENCE_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not permitted: run at normal priority
        pass


class FaceEngine:
    """A pool of `workers` inference threads and room for `queue` waiting requests."""

    def __init__(self, model_dir: Path, *, workers: int = 0, onnx_threads: int = 1, queue: int = 0) -> None:
        self.model_dir = model_dir
        self.workers = workers or os.cpu_count() or 1
        self.onnx_threads = onnx_threads
        self.capacity = self.workers + (queue or 2 * self.workers)
        self.in_flight = 0
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="face",
                                            initializer=_lower_priority)

    def pipeline(self) -> FacePipeline:
        """This process's loaded pipeline (loads it on first use; call from a pool thread)."""
        return shared_pipeline(self.model_dir, self.onnx_threads)

    async def start(self) -> None:
        """Load the models now, so a missing or altered file stops the start-up with its name."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self.pipeline)

    async def run(self, work: Callable[[FacePipeline], T]) -> T:
        """Run `work(pipeline)` on a pool thread; `ServiceBusy` at once when the pool is full.

        A slot is freed when the work finishes in its thread, not when the caller stops waiting, so
        cancelled requests cannot let more work pile up than the pool was sized for.
        """
        if self.in_flight >= self.capacity:
            raise ServiceBusy("face verification is busy; retry in a moment", retry_after=1)
        loop = asyncio.get_running_loop()
        self.in_flight += 1

        def release(_: object) -> None:
            try:
                loop.call_soon_threadsafe(self._release)
            except RuntimeError:  # the loop has closed; nobody is counting any more
                pass

        try:
            future = self._executor.submit(lambda: work(self.pipeline()))
        except RuntimeError:  # the executor was shut down
            self.in_flight -= 1
            raise FaceUnavailable("face verification is shutting down") from None
        future.add_done_callback(release)
        try:
            return await asyncio.wrap_future(future)
        except ModelError as exc:
            log.error("face models unavailable: %s", exc)
            raise FaceUnavailable("face verification is unavailable: its models could not be loaded") from None

    def _release(self) -> None:
        self.in_flight -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
