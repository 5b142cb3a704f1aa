"""The full presentation-attack battery: every attack of `tests/face_attacks.py` over many challenges,
both source photos and several seeds, and honest bursts under three lightings; each burst judged by
the whole liveness check at the shipped settings, per capture kind. Prints the APCER/BPCER-style table
published in docs/face-verification.md, and the time a burst takes against one photo's analysis
measured in the same run.

    python bench/face_attacks.py [--seeds N]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


async def run(seeds: int) -> None:
    from tests.face_attacks import ATTACKS, CAPTURE_KINDS, LIGHTING, SOURCES, Judge, challenge, honest, share
    from tests.face_attacks import reference_embedding
    from tests.face_samples import photo, pipeline

    judge = Judge.shipped()
    reference = reference_embedding()
    try:
        started = time.perf_counter()
        for _ in range(10):
            pipeline().analyse(photo("obama.jpg"))
        one_photo = (time.perf_counter() - started) / 10
        burst_seconds: list[float] = []

        async def judged(actions: list[str], frames: list[bytes]):  # type: ignore[no-untyped-def]
            begun = time.perf_counter()
            verdict = await judge(reference, actions, frames)
            burst_seconds.append(time.perf_counter() - begun)
            return verdict

        print(f"{seeds} challenges × {len(SOURCES)} source photos per attack; reference {len(reference)}-d, "
              "shipped settings\n")
        print("| attack | bursts | " + " | ".join(f"passed, {kind}" for kind in CAPTURE_KINDS) + " | refused with |")
        print("|---|---:|" + "---:|" * len(CAPTURE_KINDS) + "---|")
        for name, build in ATTACKS.items():
            passed = collections.Counter()
            reasons: collections.Counter[str] = collections.Counter()
            total = 0
            for seed in range(seeds):
                actions = challenge(seed)
                for source in SOURCES:
                    verdict = await judged(actions, build(source, actions, seed))
                    total += 1
                    passed.update(kind for kind, ok in verdict.by_capture.items() if ok)
                    reasons.update(set(verdict.codes))
            common = ", ".join(f"`{code}` {count}" for code, count in reasons.most_common(3))
            print(f"| {name} | {total} | " + " | ".join(share(passed[k], total) for k in CAPTURE_KINDS)
                  + f" | {common or '–'} |", flush=True)
        print("\n| honest bursts | bursts | " + " | ".join(f"refused, {kind}" for kind in CAPTURE_KINDS)
              + " | refused with |")
        print("|---|---:|" + "---:|" * len(CAPTURE_KINDS) + "---|")
        for lighting in LIGHTING:
            refused = collections.Counter()
            reasons = collections.Counter()
            total = 0
            for seed in range(seeds):
                actions = challenge(100 + seed)
                for source in SOURCES:
                    verdict = await judged(actions, honest(source, actions, 100 + seed, lighting))
                    total += 1
                    refused.update(kind for kind, ok in verdict.by_capture.items() if not ok)
                    reasons.update(set(verdict.codes))
            common = ", ".join(f"`{code}` {count}" for code, count in reasons.most_common(3))
            # An honest person injects nothing: the "attested, injected" column does not apply to them.
            print(f"| {lighting} | {total} | " + " | ".join(
                "n/a" if k == "attested, injected" else share(refused[k], total) for k in CAPTURE_KINDS)
                + f" | {common or '–'} |", flush=True)
        burst_seconds.sort()
        median = burst_seconds[len(burst_seconds) // 2]
        print(f"\njudging a burst: median {median * 1000:.0f} ms over {len(burst_seconds)} bursts; one photo's "
              f"analysis {one_photo * 1000:.0f} ms; ratio {median / one_photo:.1f} (bursts have 9 frames)")
    finally:
        judge.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6, help="challenges per attack and lighting")
    asyncio.run(run(parser.parse_args().seeds))


if __name__ == "__main__":
    main()
