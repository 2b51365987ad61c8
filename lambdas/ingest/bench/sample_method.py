"""The ingestion loop of AWS's published sample, for `make bench-lambdas` (reviews-bench
--sample-python): aws-samples/multi-region-active-active-apps-with-globaldb,
lambda/bookreview_db_processing. Per line: json.loads, nine fields; every 501 rows one PyMySQL
`executemany` (which sends them as one multi-row INSERT) and a COMMIT, on one connection.
Reads a local file instead of S3.

usage: sample_method.py FILE HOST PORT USER PASSWORD DATABASE
"""

import json
import sys
import time

import pymysql

path, host, port, user, password, database = sys.argv[1:7]
conn = pymysql.connect(
    host=host, port=int(port), user=user, password=password, database=database, charset="utf8mb4"
)
sql = (
    "insert into sample_reviews(reviewer_id, asin, reviewer_name, review_text, summary, overall, "
    "verified, unix_review_time, review_time) values(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
started = time.monotonic()
rows = []
count = 0
with conn.cursor() as cur, open(path, encoding="utf-8") as lines:
    for line in lines:
        d = json.loads(line)
        rows.append(
            [d["reviewerID"], d["asin"], d["reviewerName"], d["reviewText"], d["summary"],
             d["overall"], d["verified"], d["unixReviewTime"], d["reviewTime"]]
        )
        count += 1
        if len(rows) > 500:
            cur.executemany(sql, rows)
            conn.commit()
            rows = []
    if rows:
        cur.executemany(sql, rows)
        conn.commit()
conn.close()
print(f"{count} {time.monotonic() - started:.6f}")
