#!/usr/bin/env python3
"""Reports benchmark: a seeded instance per backend (a million tickets by
default). The seeded agents' groups are given the reports permission, so
agent1 reads the dashboard through a department's visibility and the
admin through everyone's. Each reads `/agent/reports` for the last 30
days, 90 days and 12 months, in wall-clock time and in a calendar's
working time, `--rounds` times; the page's whole time (every tile is on
it) is reported as median and worst, with the store's read as the server
logs it. Then both read a set of reports made with the builder
(`BUILT_REPORTS`) the same way. Last, the admin exports every ticket as CSV
(`/agent/tickets.csv?status=any`): rows, seconds, and the server's
resident memory before and at its peak, to show the export streams.

    scripts/bench reports [--tickets 1000000] [--rounds 5]
                          [--backends sqlite,postgres] [--no-export]
                          [--seeded DIR] [--seeded-postgres NAME]
"""

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

from bench import BINARY, Server, run, sql, free_port, staff_session


def timed_get(base, cookie, path):
    request = urllib.request.Request(base + path, headers={"Cookie": cookie})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as answer:
        body = answer.read()
        status = answer.status
    return (time.perf_counter() - started) * 1000, status, body


def store_reads(log_path, since, what="dashboard read"):
    with open(log_path, errors="replace") as log:
        log.seek(since)
        return [int(match) for match in re.findall(what + r"[^\n]*millis=(\d+)", log.read())]


# Reports made with the builder: (name, query string).
BUILT_REPORTS = (
    ("tickets by department, 30 days", "dataset=tickets&period=30d&group=department"),
    ("tickets by department, 12 months", "dataset=tickets&period=365d&group=department"),
    ("tickets by week and channel, 90 days", "dataset=tickets&period=90d&group=week&then=channel&chart=stacked"),
    ("median first response by team, last month, working time", "dataset=tickets&period=last_month&group=team&measure=median&of=first_response&calendar={calendar}"),
    ("p90 resolution by agent, 90 days", "dataset=tickets&period=90d&group=agent&measure=p90&of=resolution"),
    ("replies and notes by agent, 30 days", "dataset=messages&period=30d&group=agent"),
    ("ticket changes by property, 30 days", "dataset=changes&period=30d&group=change"),
)


def subprocess_password():
    """The seed's password, as the seed command prints it."""
    source = open(os.path.join(os.path.dirname(__file__), "..", "crates", "app", "src", "seed.rs")).read()
    return re.search(r'SEED_PASSWORD: &str = "([^"]+)"', source).group(1)


def bench_backend(backend, arguments, work):
    data_dir = os.path.join(work, backend)
    if arguments.seeded and backend == "sqlite":
        # A data directory seeded before (its database is changed: the
        # grants and the calendar below are added once).
        data_dir = arguments.seeded
    else:
        os.makedirs(data_dir)
    reuse = (backend == "sqlite" and arguments.seeded) or (backend == "postgres" and arguments.seeded_postgres)
    if backend == "sqlite":
        database_url = f"sqlite:{data_dir}/ferrodesk.db"
    else:
        name = arguments.seeded_postgres or f"ferrodesk_reports_{os.getpid()}"
        if not arguments.seeded_postgres:
            run(["psql", "-q", arguments.postgres, "-c", f"CREATE DATABASE {name}"], os.environ)
        database_url = arguments.postgres.rsplit("/", 1)[0] + "/" + name
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FERRODESK_")}
    env.update(
        FERRODESK_DATA_DIR=data_dir, FERRODESK_DATABASE_URL=database_url,
        FERRODESK_LISTEN=f"127.0.0.1:{port}", FERRODESK_PUBLIC_URL=f"http://127.0.0.1:{port}",
        RUST_LOG="warn,ferrodesk_app::reports=debug",
    )
    started = time.monotonic()
    if reuse:
        first = sql(backend, database_url, "SELECT email FROM people WHERE is_admin ORDER BY id LIMIT 1")[0][0]
        agent1 = sql(backend, database_url, "SELECT email FROM people WHERE is_agent AND NOT is_admin ORDER BY id LIMIT 1")[0][0]
        from_app = subprocess_password()
        seeded = f' as {first} (or agent1…, e.g. {agent1}) with the password "{from_app}".'
    else:
        seeded = run([BINARY, "seed", "--tickets", str(arguments.tickets), "--users", "50000", "--agents", "20", "--articles", "10"], env).stdout
    seed_seconds = time.monotonic() - started
    admin = re.search(r" as (\S+) \(or agent1", seeded).group(1)
    agent = re.search(r"\(or agent1…, e\.g\. (\S+)\)", seeded).group(1)
    password = re.search(r'with the password "([^"]+)"', seeded).group(1)
    sql(backend, database_url,
        "INSERT INTO permission_group_grants (group_id, permission) "
        "SELECT id, 'reports.view' FROM permission_groups WHERE built_in IS NULL ON CONFLICT DO NOTHING")
    now = int(time.time() * 1000)
    hours = '["09:00-17:00","09:00-17:00","09:00-17:00","09:00-17:00","09:00-17:00","",""]'
    sql(backend, database_url,
        "INSERT INTO business_calendars (name, name_normalized, time_zone, weekly_hours, holidays, created_at, updated_at) "
        f"VALUES ('Office', 'office', 'Europe/Vienna', '{hours}', '', {now}, {now}) ON CONFLICT DO NOTHING")
    calendar = sql(backend, database_url, "SELECT id FROM business_calendars")[0][0]
    log_path = os.path.join(work, f"{backend}.log")
    server = Server(env, log_path)
    rows = []
    built = []
    export = None
    try:
        base = server.base
        for who, email in (("admin", admin), ("agent1", agent)):
            cookie = staff_session(base, email, password)
            for period in ("30d", "90d", "365d"):
                for basis, query in (("wall", ""), ("working", f"&calendar={calendar}")):
                    path = f"/agent/reports?period={period}{query}"
                    timed_get(base, cookie, path)  # warm-up
                    since = os.path.getsize(log_path)
                    times = []
                    for _ in range(arguments.rounds):
                        millis, status, _ = timed_get(base, cookie, path)
                        assert status == 200, status
                        times.append(millis)
                    time.sleep(0.2)
                    reads = store_reads(log_path, since)
                    rows.append((who, period, basis, statistics.median(times), max(times),
                                 statistics.median(reads) if reads else float("nan")))
                    print(f"  {backend} {who} {period} {basis}: median {rows[-1][3]:.0f} ms, worst {rows[-1][4]:.0f} ms", file=sys.stderr)
        for who, email in (("admin", admin), ("agent1", agent)):
            cookie = staff_session(base, email, password)
            for report, query in BUILT_REPORTS:
                path = "/agent/reports/builder?" + query.format(calendar=calendar)
                timed_get(base, cookie, path)  # warm-up
                since = os.path.getsize(log_path)
                times = []
                for _ in range(arguments.rounds):
                    millis, status, _ = timed_get(base, cookie, path)
                    assert status == 200, (status, path)
                    times.append(millis)
                time.sleep(0.2)
                reads = store_reads(log_path, since, "report read")
                built.append((who, report, statistics.median(times), max(times),
                              statistics.median(reads) if reads else float("nan")))
                print(f"  {backend} {who} {report}: median {built[-1][2]:.0f} ms, worst {built[-1][3]:.0f} ms", file=sys.stderr)
        if arguments.export:
            cookie = staff_session(base, admin, password)
            # Anonymous memory (the heap): SQLite maps the database file,
            # which counts in VmRSS as the export reads it.
            before = server.rss_kib("RssAnon")
            peak = [before]
            done = threading.Event()

            def watch():
                while not done.is_set():
                    peak[0] = max(peak[0], server.rss_kib("RssAnon"))
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            millis, status, body = timed_get(base, cookie, "/agent/tickets.csv?status=any")
            done.set()
            watcher.join()
            assert status == 200, status
            export = (body.count(b"\r\n") - 1, millis / 1000, before, peak[0], len(body))
    finally:
        server.stop()
        if backend == "postgres" and not arguments.seeded_postgres and not os.environ.get("BENCH_KEEP"):
            run(["psql", "-q", arguments.postgres, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], os.environ)
    return {"backend": backend, "seed_seconds": seed_seconds, "rows": rows, "built": built, "export": export}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default=os.environ.get("FERRODESK_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--no-export", dest="export", action="store_false")
    parser.add_argument("--seeded", help="a SQLite data directory seeded before, used instead of seeding")
    parser.add_argument("--seeded-postgres", dest="seeded_postgres", help="a PostgreSQL database seeded before (its name), used instead of seeding and kept")
    arguments = parser.parse_args()
    work = tempfile.mkdtemp(prefix="ferrodesk-reports-bench-")
    try:
        for backend in arguments.backends.split(","):
            result = bench_backend(backend, arguments, work)
            print(f"\n### {backend}, {arguments.tickets:,} tickets (seeded in {result['seed_seconds']:.0f} s)\n")
            print("| reader | period | time | page median | page worst | store read (median) |")
            print("|---|---|---|---:|---:|---:|")
            for who, period, basis, median, worst, read in result["rows"]:
                print(f"| {who} | {period} | {basis} | {median:.0f} ms | {worst:.0f} ms | {read:.0f} ms |")
            print("\n| reader | built report | page median | page worst | store read (median) |")
            print("|---|---|---:|---:|---:|")
            for who, name, median, worst, read in result["built"]:
                print(f"| {who} | {name} | {median:.0f} ms | {worst:.0f} ms | {read:.0f} ms |")
            if result["export"]:
                rows, seconds, before, peak, size = result["export"]
                print(f"\nCSV export of every ticket: {rows:,} rows, {size / 1e6:.0f} MB in {seconds:.1f} s "
                      f"({rows / seconds:,.0f} rows/s); the server's anonymous memory {before / 1024:.0f} MiB before, {peak / 1024:.0f} MiB at most.")
    finally:
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
