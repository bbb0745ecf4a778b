#!/usr/bin/env python3
"""Live-update fan-out benchmark: a seeded instance per backend, 500 open
`/agent/events` streams (the admin's and seeded agents' sessions, round
robin), and tickets created through the API at 50 per second. Reports the
time from each create request being sent to its event arriving on each
stream that may see it (median, p99, max), events lost, and the server's
extra resident memory for the open streams.

    scripts/bench live [--streams 500] [--rate 50] [--duration 20]
                       [--tickets 10000] [--backends sqlite,postgres]

Only the standard library is used here (asyncio sockets for the streams).
"""

import argparse
import asyncio
import json
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

from bench import BINARY, Server, free_port, run, staff_session


async def open_stream(host, port, cookie, ready, arrivals, index):
    """One event stream: records when each ticket event arrives."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET /agent/events HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n"
        "Accept: text/event-stream\r\nSec-Fetch-Site: same-origin\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"stream {index}: {status!r}")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    ready.append(index)
    data = None
    while True:
        line = await reader.readline()
        if not line:
            return
        line = line.strip()
        # The body is chunked: chunk sizes are lines of their own.
        if line.startswith(b"data:"):
            data = line[5:].strip()
        elif line == b"" and data is not None:
            try:
                subject = json.loads(data).get("subject", "")
            except ValueError:
                subject = ""
            if subject.startswith("live-bench-"):
                arrivals.append((subject, index, time.monotonic()))
            data = None


def create_tickets(base, key, rate, duration, department, sent):
    """Tickets through the API at `rate` per second, each request's start
    time kept by subject."""
    interval = 1.0 / rate
    started = time.monotonic()
    number = 0
    while time.monotonic() - started < duration:
        due = started + number * interval
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        subject = f"live-bench-{number}"
        body = json.dumps({
            "subject": subject, "message": "Created by the live-update benchmark.",
            "person": {"email": "live.bench@example.org", "name": "Live Bench"},
            "department": department, "urgency": 3, "send_receipt": False,
        }).encode()
        request = urllib.request.Request(
            base + "/api/v2/tickets", data=body, method="POST",
            headers={"Authorization": f"key {key}", "Content-Type": "application/json"},
        )
        sent[subject] = time.monotonic()
        urllib.request.urlopen(request, timeout=30).read()
        number += 1


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


def bench_backend(backend, arguments, work):
    data_dir = os.path.join(work, backend)
    os.makedirs(data_dir)
    if backend == "sqlite":
        database_url = f"sqlite:{data_dir}/ferrodesk.db"
    else:
        name = f"ferrodesk_live_{os.getpid()}"
        run(["psql", "-q", arguments.postgres, "-c", f"CREATE DATABASE {name}"], os.environ)
        database_url = arguments.postgres.rsplit("/", 1)[0] + "/" + name
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FERRODESK_")}
    env.update(
        FERRODESK_DATA_DIR=data_dir, FERRODESK_DATABASE_URL=database_url,
        FERRODESK_LISTEN=f"127.0.0.1:{port}", FERRODESK_PUBLIC_URL=f"http://127.0.0.1:{port}",
        RUST_LOG="warn",
    )
    seeded = run([BINARY, "seed", "--tickets", str(arguments.tickets), "--users", "2000", "--agents", "20", "--articles", "10"], env).stdout
    admin = re.search(r" as (\S+) \(or agent1", seeded).group(1)
    first_agent = re.search(r"e\.g\. (\S+)\)", seeded).group(1)
    password = re.search(r'with the password "([^"]+)"', seeded).group(1)
    key = run([BINARY, "apikey", "create", "--agent", admin, "--name", "live-bench"], env).stdout.strip()
    lift = "UPDATE settings SET value = '{\"requests_per_minute\":1000000}' WHERE key = 'api'"
    if backend == "sqlite":
        with sqlite3.connect(database_url.removeprefix("sqlite:")) as database:
            database.execute(lift)
            department = database.execute("SELECT id FROM departments ORDER BY id LIMIT 1").fetchone()[0]
    else:
        run(["psql", "-q", database_url, "-c", lift], env)
        department = int(run(["psql", "-At", database_url, "-c", "SELECT id FROM departments ORDER BY id LIMIT 1"], env).stdout.strip())
    server = Server(env, os.path.join(work, f"{backend}.log"))
    try:
        base = server.base
        cookies = [staff_session(base, admin, password)]
        # Agents of different departments: their streams check each event.
        cookies += [staff_session(base, first_agent.replace("agent1.", f"agent{n}.", 1), password) for n in range(1, 10)]
        # Warm up: a few pages, so the baseline memory is a working server's.
        for _ in range(20):
            urllib.request.urlopen(urllib.request.Request(base + "/agent/tickets", headers={"Cookie": cookies[0]})).read()
        time.sleep(1)
        before_kib = server.rss_kib()
        result = asyncio.run(measure(base, port, cookies, key, department, arguments, server))
        result["rss_before_mib"] = before_kib / 1024
        # Against the server after as many streams were opened and closed.
        result["extra_mib"] = (result["rss_open_kib"] - result["rss_closed_kib"]) / 1024
        result["backend"] = backend
        return result
    finally:
        server.stop()


async def open_and_close(port, cookies, count):
    """Streams opened and closed again: the database pool and the
    allocator reach their working size before the baseline is taken."""
    ready = []
    tasks = [
        asyncio.create_task(open_stream("127.0.0.1", port, cookies[index % len(cookies)], ready, [], index))
        for index in range(count)
    ]
    while len(ready) < count:
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(2)


async def measure(base, port, cookies, key, department, arguments, server):
    await open_and_close(port, cookies, arguments.streams)
    rss_closed_kib = server.rss_kib()
    ready, arrivals, sent = [], [], {}
    tasks = [
        asyncio.create_task(open_stream("127.0.0.1", port, cookies[index % len(cookies)], ready, arrivals, index))
        for index in range(arguments.streams)
    ]
    while len(ready) < arguments.streams:
        await asyncio.sleep(0.05)
        failed = [task for task in tasks if task.done()]
        if failed:
            failed[0].result()
    await asyncio.sleep(2)
    rss_open_kib = server.rss_kib()
    admin_streams = {index for index in range(arguments.streams) if index % len(cookies) == 0}
    creator = threading.Thread(
        target=create_tickets, args=(base, key, arguments.rate, arguments.duration, department, sent), daemon=True,
    )
    creator.start()
    while creator.is_alive():
        await asyncio.sleep(0.1)
    await asyncio.sleep(2)
    peak_kib = server.rss_kib("VmHWM")
    for task in tasks:
        task.cancel()
    latencies = [(at - sent[subject]) * 1000 for subject, _, at in arrivals if subject in sent]
    admin_got = sum(1 for subject, index, _ in arrivals if index in admin_streams and subject in sent)
    return {
        "streams": arguments.streams,
        "created": len(sent),
        "deliveries": len(latencies),
        "admin_expected": len(sent) * len(admin_streams),
        "admin_got": admin_got,
        "median_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies) if latencies else float("nan"),
        "rss_open_kib": rss_open_kib,
        "rss_closed_kib": rss_closed_kib,
        "peak_mib": peak_kib / 1024,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--rate", type=int, default=50, help="tickets created per second")
    parser.add_argument("--duration", type=int, default=20, help="seconds of ticket creation")
    parser.add_argument("--tickets", type=int, default=10_000, help="tickets seeded first")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default=os.environ.get("FERRODESK_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ferrodesk-live-") as work:
        for backend in arguments.backends.split(","):
            result = bench_backend(backend, arguments, work)
            print(
                f"{result['backend']}: {result['streams']} streams, {result['created']} tickets at {arguments.rate}/s: "
                f"{result['deliveries']} deliveries, median {result['median_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
                f"max {result['max_ms']:.1f} ms; admin streams got {result['admin_got']} of {result['admin_expected']}; "
                f"RSS {result['rss_before_mib']:.1f} MiB at first, {result['rss_closed_kib'] / 1024:.1f} MiB after {result['streams']} streams came and went, "
                f"+{result['extra_mib']:.1f} MiB with {result['streams']} open, "
                f"peak {result['peak_mib']:.1f} MiB",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
