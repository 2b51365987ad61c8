#!/usr/bin/env python3
"""Print `make demo-large`'s result beside the figure AWS's article reports for the same
architecture on AWS: "more than 600,000 records in both Regions in 1 min 14 s"
(AWS Database Blog, "Use Amazon Aurora Global Database to build resilient multi-Region
applications",
https://aws.amazon.com/blogs/database/use-amazon-aurora-global-database-to-build-resilient-multi-region-applications).

    scripts/demo-large-report.py RUN.json

RUN.json is `deploy run ENV --wait --output json`. The stand-in's time is each Region's
execution from its start to its stop (Step Functions' startDate and stopDate), the longer
of the two, as the article's is: both Regions ran at once.
"""

import json
import os
import platform
import sys

ARTICLE_RECORDS = 600_000
ARTICLE_SECONDS = 74.0
GOAL_SECONDS = 15.0


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    report = json.load(open(sys.argv[1]))
    regions = report["regions"]
    failed = [r for r in regions if r["status"] != "SUCCEEDED"]
    rows = lambda t: t["inserted"] + t["present"] + t["rejected"]
    seconds = max((r["seconds"] for r in regions), default=0.0)
    total = report["total"]
    machine = (f"{os.cpu_count()} cores ({cpu_model()}), {platform.system()} "
               f"{platform.release()}; moto + MariaDB + cargo-lambda, release builds")
    print()
    print(f"{'':<24} {'records':>10} {'seconds':>8} {'records/s':>10}")
    print(f"{'article, on AWS':<24} {'600,000+':>10} {ARTICLE_SECONDS:>8.1f} "
          f"{ARTICLE_RECORDS / ARTICLE_SECONDS:>10,.0f}")
    for r in regions:
        rate = rows(r["totals"]) / r["seconds"] if r["seconds"] else 0.0
        print(f"{'  ' + r['region']:<24} {rows(r['totals']):>10,} {r['seconds']:>8.1f} {rate:>10,.0f}")
    rate = rows(total) / seconds if seconds else 0.0
    print(f"{'this machine, both':<24} {rows(total):>10,} {seconds:>8.1f} {rate:>10,.0f}")
    print()
    print(f"inserted {total['inserted']:,}, already present {total['present']:,} "
          f"(reviews shared by the two sets, or loaded by an earlier run), "
          f"rejected {total['rejected']:,} (malformed lines)")
    print(f"machine: {machine}")
    if seconds:
        print(f"{ARTICLE_SECONDS / seconds:.1f}x the article's pace; the goal is {GOAL_SECONDS:.0f} s "
              f"({'met' if seconds <= GOAL_SECONDS else 'not met'})")
    if failed:
        print(f"not every Region succeeded: {[r['region'] for r in failed]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
