#!/usr/bin/env python3
"""Generate review files (JSON lines, as in the public Amazon review data) for the demo and
the end-to-end tests: one directory per set (one set per Region), some malformed lines in
every file, and some reviews repeated across sets, so a run shows idempotent writes and
counted rejects. The same arguments give the same bytes.

    scripts/generate-reviews.py OUT [--sets 2] [--files 30] [--reviews 1700] [--malformed 3] [--shared 400]
    scripts/generate-reviews.py OUT --edge-files

Writes OUT/set-1/part-0001.json ... and OUT/manifest.json with what a correct run must end
with: files, good lines, malformed lines (file and line number) and distinct reviews.
With --edge-files, OUT/edge/ holds files from the real world that must not fail for a bad
line or be misread (see edge_files()), and OUT/manifest.json says, per file, what a correct
run ends with: its outcome, its good reviews and its rejected line numbers.
"""

import argparse
import bz2
import gzip
import json
import random
from pathlib import Path

WORDS = ("book story author plot characters ending chapter read recommend slow gripping "
         "classic series sequel prose dialogue twist library gift favourite pages").split()
MALFORMED = (
    ("{this is not json", "not JSON"),
    ('["an", "array"]', "not a JSON object"),
    ('{"asin": "B000000000", "overall": 5.0, "unixReviewTime": 1}', "missing reviewerID"),
)


def review(rng: random.Random, reviewer: str, asin: str, when: int) -> dict:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 90)))
    return {
        "overall": float(rng.randint(1, 5)),
        "verified": rng.random() < 0.8,
        "reviewTime": "01 01, 2020",
        "reviewerID": reviewer,
        "asin": asin,
        "reviewerName": f"Reader {reviewer[-4:]} ✓",
        "reviewText": text,
        "summary": " ".join(text.split()[:5]),
        "unixReviewTime": when,
        **({"vote": f"{rng.randint(1, 2000):,}"} if rng.random() < 0.3 else {}),
    }


def edge_files(out: Path) -> None:
    """One file per way real files broke ingestion, and what a correct run ends with."""
    rng = random.Random(11)
    edge = out / "edge"
    edge.mkdir(parents=True, exist_ok=True)

    def good(i: int, reviewer: str | None = None) -> dict:
        return review(rng, reviewer or f"E{i:06d}", f"BE{i:08d}", 1_600_000_000 + i)

    files = []

    def add(name: str, lines: list, rejected: dict, outcome: str = "completed",
            encode=lambda text: text.encode("utf-8"), reason: str | None = None) -> None:
        """`lines`: reviews (dicts) and raw lines (str); `rejected`: line number -> why."""
        text = "\n".join(l if isinstance(l, str) else json.dumps(l, ensure_ascii=False)
                         for l in lines) + "\n"
        (edge / name).write_bytes(encode(text))
        landing = [l for n, l in enumerate(lines, start=1)
                   if isinstance(l, dict) and n not in rejected and outcome == "completed"]
        files.append({
            "file": name,
            "outcome": outcome,
            "lines": len(lines),
            "reviews": len(landing),
            "identities": sorted([r["reviewerID"], r["asin"], r["unixReviewTime"]] for r in landing),
            "rejected_lines": sorted(rejected) if outcome == "completed" else [],
            **({"reason": reason} if reason else {}),
        })

    # A rejection reason quoting a long value, and JSON columns the database would refuse.
    lines = [good(i) for i in range(20)]
    lines[3:3] = [dict(good(100), reviewTime="9" * 1100),
                  dict(good(101), image=json.loads("[" * 40 + "]" * 40))]
    lines[8:8] = ['{"reviewerID":"E000102","asin":"B","unixReviewTime":1,"style":{"n":1e400}}',
                  '{"reviewerID":"E000103","asin":"B","unixReviewTime":1,"style":{"s":"\\ud800"}}']
    add("long-reason-and-bad-json.json", lines,
        {4: "invalid reviewTime", 5: "invalid image", 9: "invalid style", 10: "invalid style"})
    # Reviewer IDs that differ only by trailing spaces: three reviews, not one.
    add("trailing-spaces.json", [good(200, "S1"), good(201, "S1"), good(202, "S1")], {})
    for i, spaces in enumerate(("", " ", "  ")):
        files[-1]["identities"][i][0] = "S1" + spaces
    text = (edge / "trailing-spaces.json").read_text().splitlines()
    (edge / "trailing-spaces.json").write_text("\n".join(
        json.dumps(dict(json.loads(line), reviewerID="S1" + spaces, asin="BS", unixReviewTime=7),
                   ensure_ascii=False)
        for line, spaces in zip(text, ("", " ", "  "))) + "\n")
    files[-1]["identities"] = sorted([["S1" + sp, "BS", 7] for sp in ("", " ", "  ")])
    # gzip with zero padding after the stream, as some tools write it.
    add("padded.json.gz", [good(300 + i) for i in range(30)], {},
        encode=lambda t: gzip.compress(t.encode()) + bytes(512))
    # Not JSON lines: refused with a reason, nothing written, moved to failed/.
    add("compressed.json.bz2", [good(400 + i) for i in range(5)], {}, outcome="failed",
        encode=lambda t: bz2.compress(t.encode()), reason="bzip2")
    # A review whose row, escaped as SQL, is past the server's packet: one reject.
    add("row-past-the-packet.json", [good(501), dict(good(500), reviewText='"' * (9 << 20)), good(502)],
        {2: "row"})
    manifest = {"edge_files": files}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(files)} edge files in {edge}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sets", type=int, default=2)
    parser.add_argument("--files", type=int, default=30, help="files per set")
    parser.add_argument("--reviews", type=int, default=1700, help="good lines per file")
    parser.add_argument("--malformed", type=int, default=3, help="malformed lines per file")
    parser.add_argument("--shared", type=int, default=400,
                        help="reviews of set 1 repeated in each later set")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--edge-files", action="store_true",
                        help="write the edge files (OUT/edge/) instead of the sets")
    args = parser.parse_args()
    if args.edge_files:
        edge_files(args.out)
        return

    rng = random.Random(args.seed)
    identities = set()
    first_set_reviews = []
    good = 0
    malformed = []
    for s in range(1, args.sets + 1):
        set_dir = args.out / f"set-{s}"
        set_dir.mkdir(parents=True, exist_ok=True)
        shared = rng.sample(first_set_reviews, min(args.shared, len(first_set_reviews))) if s > 1 else []
        for f in range(1, args.files + 1):
            name = f"part-{f:04d}.json"
            lines = []
            for n in range(args.reviews):
                if shared and n < -(-args.shared // args.files):
                    r = shared.pop()
                else:
                    r = review(rng, f"A{s:02d}{f:04d}{n:05d}", f"B{rng.randint(0, 99999):09d}",
                               1_500_000_000 + n)
                    if s == 1:
                        first_set_reviews.append(r)
                identities.add((r["reviewerID"], r["asin"], r["unixReviewTime"]))
                lines.append(json.dumps(r, ensure_ascii=False))
            for m in range(args.malformed):
                at = rng.randint(0, len(lines))
                text, reason = MALFORMED[m % len(MALFORMED)]
                lines.insert(at, text)
            for number, line in enumerate(lines, start=1):
                if any(line == text for text, _ in MALFORMED):
                    reason = next(r for t, r in MALFORMED if t == line)
                    malformed.append({"set": s, "file": name, "line": number, "reason": reason})
            good += len(lines) - args.malformed
            (set_dir / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    manifest = {
        "sets": args.sets,
        "files": args.sets * args.files,
        "good_lines": good,
        "malformed_lines": len(malformed),
        "distinct_reviews": len(identities),
        "malformed": malformed,
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{manifest['files']} files, {good} good lines ({len(identities)} distinct reviews), "
          f"{len(malformed)} malformed lines in {args.out}")


if __name__ == "__main__":
    main()
