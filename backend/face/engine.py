"""Running the face pipeline off the event loop, on a bounded pool, refusing work beyond its queue.

Threads rather than processes: onnxruntime, Pillow's decoders and NumPy's array operations release
the GIL, so inference threads leave the event loop free (the benchmark measures its lag), and the
models are loaded once per server process instead of once per pool process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from backend.errors import FaceUnavailable, ServiceBusy
from backend.face.reasons import with_reasons
from ml_models.models import MODELS, ModelError
from ml_models.pipeline import FacePipeline, shared_pipeline

log = logging.getLogger("tongban.face")
T = TypeVar("T")


# Inference threads yield the CPU to the event loop (and to PostgreSQL on the same machine) whenever
# both want it: the loop's work is short and latency-bound, inference is long and throughput-bound.
INFERENCE_NICENESS = 10
# Images allowed to wait per inference thread before the pool answers 503: about half a second of work.
IMAGES_WAITING_PER_THREAD = 16


def _lower_priority() -> None:
    # Only Linux gives each thread its own nice value (PRIO_PROCESS with a thread id); elsewhere the
    # same call would lower the whole server, event loop included.
    if sys.platform != "linux":
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), INFERENCE_NICENESS)
    except OSError:  # not permitted: run at normal priority
        pass


class FaceEngine:
    """A pool of `workers` inference threads; `capacity` counts images, running or waiting.

    Capacity is in images rather than requests because a liveness burst of sixteen frames holds a
    thread sixteen times as long as one photo.
    """

    def __init__(self, model_dir: Path, *, workers: int = 0, onnx_threads: int = 1, queue: int = 0) -> None:
        self.model_dir = model_dir
        self.loaded: FacePipeline | None = None
        self.workers = workers or os.cpu_count() or 1
        self.onnx_threads = onnx_threads
        self.capacity = self.workers + (queue or IMAGES_WAITING_PER_THREAD * self.workers)
        self.in_flight = 0
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="face",
                                            initializer=_lower_priority)

    def pipeline(self) -> FacePipeline:
        """This process's loaded pipeline (loads it on first use; call from a pool thread). Once loaded
        it is kept: the model folder is not looked up again, whatever becomes of the working directory."""
        if self.loaded is None:
            self.loaded = shared_pipeline(self.model_dir, self.onnx_threads)
        return self.loaded

    def models_report(self) -> str | None:
        """For readiness: which models are loaded (each checked against its recorded content digest when
        it was read), or None before they are."""
        if self.loaded is None:
            return None
        return "loaded, content digests as recorded: " + ", ".join(
            f"{spec.name} {spec.converted_digest[:16]}" for spec in MODELS)

    async def start(self) -> None:
        """Load the models now, so a missing or altered file stops the start-up with its name."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self.pipeline)

    @contextlib.asynccontextmanager
    async def reserve(self, images: int = 1) -> AsyncIterator[PoolSlot]:
        """Hold room for `images` on the pool, or raise `ServiceBusy` at once, before anything is
        spent: callers reserve first, then count an attempt or use up a challenge, so a busy pool
        changes nothing. A burst larger than the whole pool still runs on an idle one."""
        units = max(1, min(images, self.capacity))
        if self.in_flight + units > self.capacity:
            raise with_reasons(ServiceBusy("face verification is busy; retry in a moment", retry_after=1),
                               "service-busy")
        self.in_flight += units
        slot = PoolSlot(self, units)
        try:
            yield slot
        finally:
            if not slot.submitted:
                self._release(units)

    async def run(self, work: Callable[[FacePipeline], T], images: int = 1) -> T:
        """Reserve room and run `work(pipeline)` on a pool thread."""
        async with self.reserve(images) as slot:
            return await slot.run(work)

    def _release(self, units: int) -> None:
        self.in_flight -= units

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class PoolSlot:
    """Room reserved on the pool for one piece of work."""

    def __init__(self, engine: FaceEngine, units: int) -> None:
        self.engine, self.units, self.submitted = engine, units, False

    async def run(self, work: Callable[[FacePipeline], T]) -> T:
        """Run `work(pipeline)` on a pool thread, once.

        The room is freed when the work finishes in its thread, not when the caller stops waiting, so
        cancelled requests cannot let more work pile up than the pool was sized for.
        """
        if self.submitted:
            raise RuntimeError("a pool slot runs one piece of work")
        engine, loop = self.engine, asyncio.get_running_loop()

        def release(_: object) -> None:
            try:
                loop.call_soon_threadsafe(engine._release, self.units)
            except RuntimeError:  # the loop has closed; nobody is counting any more
                pass

        try:
            future = engine._executor.submit(lambda: work(engine.pipeline()))
        except RuntimeError:  # the executor was shut down
            raise FaceUnavailable("face verification is shutting down") from None
        self.submitted = True
        future.add_done_callback(release)
        try:
            return await asyncio.wrap_future(future)
        except ModelError as exc:
            log.error("face models unavailable: %s", exc)
            raise FaceUnavailable("face verification is unavailable: its models could not be loaded") from None
