#!/usr/bin/env python3
"""Pack one Lambda binary as a reproducible `bootstrap` zip: fixed timestamp, fixed mode,
no extra fields, so the same binary always gives the same zip bytes (and the same sha256 key in
the assets bucket). Usage: lambdas-zip.py BINARY ZIP [EXTRA_FILE...]
LAMBDA_ZIP_LEVEL (default 9) trades size for time: the stand-in's 80 MB debug binaries zip in
1 s at level 1 against 12 s at level 9."""
import os
import sys
import zipfile

LEVEL = int(os.environ.get("LAMBDA_ZIP_LEVEL", "9"))


def add(z, name, path, mode):
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.create_system = 3  # Unix, so the mode below counts
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(path, "rb") as f:
        z.writestr(info, f.read(), compresslevel=LEVEL)


def main():
    binary, out, *extra = sys.argv[1:]
    with zipfile.ZipFile(out, "w") as z:
        add(z, "bootstrap", binary, 0o755)
        for path in sorted(extra):
            add(z, path.rsplit("/", 1)[-1], path, 0o644)


if __name__ == "__main__":
    main()
