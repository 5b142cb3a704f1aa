"""Benchmark of face verification: our pipeline per stage and end to end at concurrency 1, 2 and 4,
OpenCV's implementation (FaceDetectorYN + FaceRecognizerSF) on the same images in the same run as the
peer figure, and the API's event-loop lag while verifications run through it.

    python bench/face_pipeline.py [--rounds N] [--api-seconds S]

Images: the public test photos of face_recognition 1.3.0 (fetched once, see tests/face_samples.py),
as stored (0.7–3.3 megapixels) and as 640×480 camera frames cut around the face.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import logging
import os
import platform
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# OpenCV 5 warns once per network that its new engine ignores target hints; the peer runs on the CPU anyway.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench.harness import run_async, scratch_database, servers  # noqa: E402

CONCURRENCY = (1, 2, 4)
STAGES = ("decode", "detect", "align", "embed")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def image_sets() -> dict[str, list[bytes]]:
    from tests.face_samples import PHOTOS, jpeg, photo, pipeline

    stored = [photo(name) for name in PHOTOS if name.endswith(".jpg")]
    frames = []
    for data in stored:
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        face = pipeline().detector.detect(rgb)[0]
        cx, cy = (face.box[:2] + face.box[2:] / 2).astype(int)
        scale = 200 / face.width  # a face about 200 px wide, as at a kiosk
        small = Image.fromarray(rgb).resize((int(rgb.shape[1] * scale), int(rgb.shape[0] * scale)))
        cx, cy = int(cx * scale), int(cy * scale)
        left, top = max(0, min(cx - 320, small.width - 640)), max(0, min(cy - 240, small.height - 480))
        frames.append(jpeg(np.asarray(small.crop((left, top, left + 640, top + 480))), 90))
    return {"stored photos": stored, "640×480 frames": frames}


def ours(images: list[bytes], concurrency: int, rounds: int) -> dict[str, list[float]]:
    """Per-stage and end-to-end milliseconds of our pipeline, and images per second."""
    from tests.face_samples import pipeline

    analyse = pipeline().analyse
    work = images * rounds

    def one(data: bytes) -> dict[str, float]:
        started = time.perf_counter()
        analysis = analyse(data, require_frontal=False)
        return analysis.timings_ms | {"total": (time.perf_counter() - started) * 1000}

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, images))  # warm-up
        started = time.perf_counter()
        results = list(pool.map(one, work))
        wall = time.perf_counter() - started
    timings = {stage: [r[stage] for r in results if stage in r] for stage in (*STAGES, "total")}
    return timings | {"per_second": [len(work) / wall]}


_local = threading.local()


def opencv(images: list[bytes], concurrency: int, rounds: int, sface_path: str) -> dict[str, list[float]]:
    """The same work through OpenCV: imdecode, FaceDetectorYN at the same detection size, alignCrop,
    feature. One detector and recogniser per thread (OpenCV's are not thread-safe)."""
    import cv2

    from ml_models import models

    cv2.setNumThreads(1)
    yunet = str(models.source_path(models.YUNET))

    def one(data: bytes) -> dict[str, float]:
        if not hasattr(_local, "detector"):
            _local.detector = cv2.FaceDetectorYN.create(yunet, "", (320, 320), 0.7, 0.3, 5000)
            _local.recogniser = cv2.FaceRecognizerSF.create(sface_path, "")
        clock = time.perf_counter
        t0 = clock()
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        t1 = clock()
        factor = max(1, -(-max(bgr.shape[:2]) // 640))
        small = cv2.resize(bgr, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA)
        _local.detector.setInputSize((small.shape[1], small.shape[0]))
        _, faces = _local.detector.detect(small)
        t2 = clock()
        face = faces[0].copy()
        face[:14] *= factor
        crop = _local.recogniser.alignCrop(bgr, face)
        t3 = clock()
        _local.recogniser.feature(crop)
        t4 = clock()
        return {"decode": (t1 - t0) * 1000, "detect": (t2 - t1) * 1000, "align": (t3 - t2) * 1000,
                "embed": (t4 - t3) * 1000, "total": (t4 - t0) * 1000}

    work = images * rounds
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, images))
        started = time.perf_counter()
        results = list(pool.map(one, work))
        wall = time.perf_counter() - started
    timings = {stage: [r[stage] for r in results] for stage in (*STAGES, "total")}
    return timings | {"per_second": [len(work) / wall]}


def pipeline_table(name: str, results: dict[tuple[str, int], dict[str, list[float]]]) -> str:
    lines = [f"### {name}", "",
             "| implementation | concurrency | decode p50 | detect p50 | align p50 | embed p50 | end to end p50 / p95 ms "
             "| images/s | ours ÷ OpenCV (p50) | ours ÷ OpenCV (images/s) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for concurrency in CONCURRENCY:
        mine, peer = results[("ours", concurrency)], results[("opencv", concurrency)]
        for label, r in (("Tongban (onnxruntime)", mine), ("OpenCV 5 (peer)", peer)):
            stages = " | ".join(f"{percentile(r[s], 50):.1f}" for s in STAGES)
            ratio = ""
            if r is mine:
                ratio = (f"{percentile(mine['total'], 50) / percentile(peer['total'], 50):.2f} | "
                         f"{mine['per_second'][0] / peer['per_second'][0]:.2f}")
            else:
                ratio = " | "
            lines.append(f"| {label} | {concurrency} | {stages} | {percentile(r['total'], 50):.1f} / "
                         f"{percentile(r['total'], 95):.1f} | {r['per_second'][0]:.0f} | {ratio} |")
    return "\n".join(lines)


# -- the API under face load ------------------------------------------------------------------------

async def api_under_load(admin_url: str, redis_url: str, seconds: float, concurrency: int) -> str:
    """Verifications through the app in this process, while a probe measures the event loop's lag.

    Baseline in the same run: the same probe while the loop is idle, and while the same analysis is
    (wrongly) run on the loop itself.
    """
    import httpx

    from backend.actors import Actor
    from backend.config import load_settings
    from backend.container import Services
    from backend.identity.schemas import CitizenRegistration, StaffCreate
    from backend.migrate import apply_migrations
    from mobile_api.app import create_app
    from tests.face_samples import model_dir, photo

    logging.disable(logging.INFO)  # one access-log line per request would be measured too
    database_url = await scratch_database(admin_url, "tongban_bench_face")
    await apply_migrations(database_url)
    settings = load_settings({}, database_url=database_url, redis_url=redis_url, redis_prefix=f"bench-face-{os.getpid()}:",
                             code_resend_seconds=0, face_model_dir=str(model_dir()), log_level="WARNING",
                             face_attempts_per_citizen_hour=1_000_000, face_attempts_per_device_hour=1_000_000,
                             face_attempts_per_session_hour=1_000_000, face_attempts_per_address_hour=1_000_000,
                             db_pool_max=8)
    services = await Services.start(settings)
    await services.face.start()
    try:
        system = Actor.system()
        await services.identity.create_staff(StaffCreate(username="bench.window", display_name="bench",
                                                         password="bench-password-0123", role="receiving_officer",
                                                         division_code="330000"), system)
        phone = "13912340000"
        await services.identity.request_code(phone, "bench", Actor(kind="anonymous"))
        body = await services.db.pool.fetchval("SELECT body FROM sms_outbox ORDER BY id DESC LIMIT 1")
        tokens = await services.identity.register_citizen(CitizenRegistration(
            phone=phone, code=re.search(r"\d{6}", body)[0], resident_id="330106195803150014", name="压测",
            home_division="330106"), Actor(kind="anonymous"))
        staff = await services.identity.sign_in_staff("bench.window", "bench-password-0123", "bench", system)
        transport = httpx.ASGITransport(app=create_app(services=services))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as client:
            me = (await client.get("/me", headers={"Authorization": f"Bearer {tokens.access_token}"})).json()
            enrolled = await client.put(f"/staff/citizens/{me['id']}/face-enrolment",
                                        files={"photo": ("p.jpg", photo("obama3.jpg"), "image/jpeg")},
                                        data={"consent": "true"},
                                        headers={"Authorization": f"Bearer {staff.access_token}"})
            assert enrolled.status_code == 200, enrolled.text
            headers = {"Authorization": f"Bearer {tokens.access_token}"}
            query = photo("obama.jpg")

            async def probe(stop: asyncio.Event, lags: list[float]) -> None:
                while not stop.is_set():
                    started = time.perf_counter()
                    await asyncio.sleep(0.001)
                    lags.append((time.perf_counter() - started) * 1000 - 1.0)

            async def measure(load) -> tuple[list[float], list[float], int]:
                stop, lags, latencies, statuses = asyncio.Event(), [], [], []
                probe_task = asyncio.create_task(probe(stop, lags))
                await load(latencies, statuses)
                stop.set()
                await probe_task
                return lags, latencies, statuses

            async def idle(latencies, statuses) -> None:
                await asyncio.sleep(min(seconds, 3))

            async def through_api(latencies, statuses) -> None:
                deadline = time.perf_counter() + seconds

                async def worker(index: int) -> None:
                    while time.perf_counter() < deadline:
                        started = time.perf_counter()
                        response = await client.post("/face/verifications",
                                                     files={"photo": ("p.jpg", query, "image/jpeg")},
                                                     headers=headers | {"X-Device-ID": f"bench-{index}"})
                        latencies.append((time.perf_counter() - started) * 1000)
                        statuses.append(response.status_code)

                await asyncio.gather(*(worker(i) for i in range(concurrency)))

            async def on_the_loop(latencies, statuses) -> None:
                pipeline = services.face.engine.pipeline()
                deadline = time.perf_counter() + min(seconds, 3)
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    pipeline.analyse(query)  # what the pool exists to prevent
                    latencies.append((time.perf_counter() - started) * 1000)
                    await asyncio.sleep(0)

            # Warm up: the database pool opens its connections, caches fill.
            await asyncio.gather(*(client.post("/face/verifications", files={"photo": ("p.jpg", query, "image/jpeg")},
                                               headers=headers | {"X-Device-ID": f"warm-{i}"}) for i in range(8)))
            gc.collect()  # as the server does after start-up (mobile_api/app.py)
            gc.freeze()
            rows = []
            for name, load in (("idle loop (baseline)", idle),
                               (f"{concurrency} clients verifying through the API (pool)", through_api),
                               ("analysis run on the event loop (what the pool prevents)", on_the_loop)):
                started = time.perf_counter()
                lags, latencies, statuses = await measure(load)
                wall = time.perf_counter() - started
                ok = sum(1 for s in statuses if s == 200)
                rows.append(f"| {name} | {percentile(lags, 50):.2f} | {percentile(lags, 99):.2f} | {max(lags):.2f} | "
                            + (f"{percentile(latencies, 50):.1f} / {percentile(latencies, 95):.1f} | "
                               f"{ok / wall:.0f} ({len(statuses) - ok} not 200) |" if statuses else " | |"))
    finally:
        await services.close()
    return "\n".join(["### API event-loop lag under face load", "",
                      "| situation | loop lag p50 ms | p99 ms | max ms | verification p50 / p95 ms | verifications/s |",
                      "|---|---:|---:|---:|---:|---:|", *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10, help="passes over the image set per concurrency level")
    parser.add_argument("--api-seconds", type=float, default=8.0)
    parser.add_argument("--api-concurrency", type=int, default=4)
    args = parser.parse_args()

    sets = image_sets()
    with tempfile.TemporaryDirectory() as scratch:
        from tests.face_samples import opencv_sface_file

        sface = str(opencv_sface_file(Path(scratch)))
        tables = []
        for name, images in sets.items():
            results = {}
            for concurrency in CONCURRENCY:
                results[("ours", concurrency)] = ours(images, concurrency, args.rounds)
                results[("opencv", concurrency)] = opencv(images, concurrency, args.rounds, sface)
            tables.append(pipeline_table(f"{name} ({len(images)} images × {args.rounds} rounds per level)", results))
    with servers() as (admin_url, redis_url):
        tables.append(run_async(api_under_load(admin_url, redis_url, args.api_seconds, args.api_concurrency)))
    import cv2
    import onnxruntime

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"onnxruntime {onnxruntime.__version__}, OpenCV {cv2.__version__}; one onnxruntime thread per "
          f"inference, spinning off; OpenCV setNumThreads(1); a thread pool of the given concurrency each")
    print()
    print("\n\n".join(tables))
    print()
    print("stage medians are per image; `images/s` is the throughput of the whole pool at that concurrency")


if __name__ == "__main__":
    main()
