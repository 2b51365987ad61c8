#!/usr/bin/env python3
"""Generate review files (JSON lines, as in the public Amazon review data) for the demo and
the end-to-end tests: one directory per set (one set per Region), some malformed lines in
every file, and some reviews repeated across sets, so a run shows idempotent writes and
counted rejects. The same arguments give the same bytes.

    scripts/generate-reviews.py OUT [--sets 2] [--files 30] [--reviews 1700] [--malformed 3] [--shared 400]

Writes OUT/set-1/part-0001.json ... and OUT/manifest.json with what a correct run must end
with: files, good lines, malformed lines (file and line number) and distinct reviews.
"""

import argparse
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
    args = parser.parse_args()

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
