"""Monthly cost before / after, in one run: the booking-platform example and the construct at its defaults
(``CachedSearchApi(stack, "Api")``) synthesized at a git revision and at this checkout (bundling skipped, each in its
own process with its own sources), all four templates priced with this checkout's model
(``cost.Deployment.from_template``): at the design load (50k searches + 1k bookings a day) and idle.

Run: ``python bench/cost_bench.py --before REV`` (e.g. the commit an issue was filed against). Writes
``bench/out/cost_before_after.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"

SYNTH = """
import sys
from pathlib import Path
root, out = Path(sys.argv[1]), sys.argv[2]
sys.path[:0] = [str(root / "src"), str(root / "examples" / "booking_platform")]
import aws_cdk as cdk
from app import build_app
from cached_booking_api import CachedSearchApi
app = cdk.App(outdir=out, context={"aws:cdk:bundling-stacks": []})
build_app(app)
CachedSearchApi(cdk.Stack(app, "Defaults"), "Api")
app.synth()
"""


def checkout(revision: str) -> Path:
    """``src`` and ``examples`` of ``revision``, extracted to a temporary directory."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src", "examples"], capture_output=True,
                             check=True).stdout  # fmt: skip
    target = Path(tempfile.mkdtemp(prefix="cost-bench-"))
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def synthesize(root: Path) -> Path:
    """The example's and the defaults stack's templates of the sources under ``root``."""
    out = Path(tempfile.mkdtemp(prefix="cost-bench-out-"))
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    subprocess.run([sys.executable, "-c", SYNTH, str(root), str(out)], check=True, env=env, cwd=root)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision to compare with (e.g. main)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from cached_booking_api.tools import cost

    outs = {"before": synthesize(checkout(args.before)), "after": synthesize(ROOT)}
    rows = [f"{'template':38}{'alarms (metrics)':>18}{'design load $':>15}{'idle $':>9}"]
    for name, stack in (("example", "BookingPlatform"), ("construct defaults", "Defaults")):
        for side in ("before", "after"):
            deployment = cost.Deployment.from_template(outs[side] / f"{stack}.template.json")
            design = cost.estimate(50_000, 1_000, deployment=deployment).total
            idle = cost.estimate(0, 0, deployment=deployment).total
            label = f"{name}, {side}" + (f" ({args.before})" if side == "before" else "")
            alarms = f"{len(deployment.alarms)} ({deployment.alarm_metrics})"
            rows.append(f"{label:38}{alarms:>18}{design:>15.2f}{idle:>9.2f}")
    rows.append(
        "(goals, issue 10.2: design load <= 25, idle <= 10; this checkout's model and list prices, no free tier)"
    )
    text = "\n".join(rows)
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "cost_before_after.txt").write_text(text + "\n")
    print(json.dumps({"written": str(OUT / "cost_before_after.txt")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
