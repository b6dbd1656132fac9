"""The README's main job: synthesize the booking-platform example (assets bundled for real) and say what it built."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "booking_platform"))

import aws_cdk as cdk  # noqa: E402
from app import build_app  # noqa: E402

OUTDIR = ROOT / "cdk.out"


def main() -> int:
    """Synthesize, then print a summary; non-zero exit if synthesis fails."""
    started = time.perf_counter()
    app = build_app(cdk.App(outdir=str(OUTDIR)))
    assembly = app.synth()
    elapsed = time.perf_counter() - started
    for stack in assembly.stacks:
        template = stack.template
        resources = template["Resources"]
        counts = Counter(r["Type"] for r in resources.values())
        functions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
        ours = [f for f in functions if str(f.get("Handler", "")).startswith("cached_booking_api.")]
        cache = next((r for r in resources.values() if r["Type"].startswith("AWS::ElastiCache::S")), None)
        print(f"Synthesized {stack.stack_name} in {elapsed:.1f} s -> {OUTDIR}/{stack.template_file}")
        print(f"  {len(resources)} resources, {len(counts)} types")
        for resource_type, count in sorted(counts.items()):
            print(f"    {count:3d}  {resource_type}")
        if cache:
            props = cache["Properties"]
            print(f"  cache: {cache['Type'].split('::')[-1]} {props.get('Engine')} (TLS, IAM-authenticated user)")
        for function in ours:
            name, placement = function["Handler"].split(".")[-2], "in" if "VpcConfig" in function else "outside"
            print(f"  function {name}: {function['Runtime']} {function['Architectures'][0]}, "
                  f"{function['MemorySize']} MB, timeout {function['Timeout']} s, {placement} the VPC")  # fmt: skip
        assets = json.loads((OUTDIR / f"{stack.stack_name}.assets.json").read_text())["files"]
        for asset in assets.values():
            folder = OUTDIR / asset["source"]["path"]
            if folder.is_dir() and (folder / "cached_booking_api").is_dir():
                size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
                print(f"  handler asset: {size / 2**20:.1f} MiB unzipped, bundled without Docker ({folder.name})")
        print(f"  alarms: {counts['AWS::CloudWatch::Alarm']}, NAT gateways: {counts['AWS::EC2::NatGateway']}, "
              f"interface endpoints: 0, outputs: {', '.join(template.get('Outputs', {}))}")  # fmt: skip
    print("Deploy with: npx cdk deploy --app 'python examples/booking_platform/app.py'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
