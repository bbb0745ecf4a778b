#!/usr/bin/env python3
"""Ferrodesk's load harness: seeds a fresh database per backend with
`ferrodesk seed`, starts the release binary on it, and measures each
scenario with wrk, reporting requests per second, p50 and p99 latency,
errors, the server's memory, and every figure as a ratio to a static page of
the same size served by the same stack (`/bench/baseline`), all in one run.

    scripts/bench [--tickets 1000000] [--backends sqlite,postgres] ...

Needs: wrk (Debian package), a release build (the wrapper makes one), and
for PostgreSQL a server reachable at --postgres (a database is created and
dropped). Only the standard library is used here.

`--database-url URL` measures an already seeded database instead (one
backend, the one the URL names; nothing is seeded or dropped): seeding a
million tickets takes half an hour, comparing two builds on the same data
takes minutes. The database must have been seeded by `ferrodesk seed`.
"""

import argparse
import datetime
import http.cookiejar
import json
import os
import platform
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# BENCH_BINARY names another build to measure (an older one, to compare).
BINARY = os.environ.get("BENCH_BINARY") or os.path.join(ROOT, "target", "release", "ferrodesk")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(command, env, **kwargs):
    return subprocess.run(command, env=env, check=True, capture_output=True, text=True, **kwargs)


class Server:
    def __init__(self, env, log_path):
        self.env = env
        self.log = open(log_path, "w")
        self.process = subprocess.Popen([BINARY, "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = env["FERRODESK_PUBLIC_URL"]
        for _ in range(300):
            try:
                urllib.request.urlopen(self.base + "/readyz", timeout=1).read()
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        raise RuntimeError("the server did not become ready; see " + log_path)

    def rss_kib(self, field="VmRSS"):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def parse_duration_ms(text):
    number = float(re.match(r"[\d.]+", text).group(0))
    if text.endswith("us"):
        return number / 1000
    if text.endswith("ms"):
        return number
    if text.endswith("m"):
        return number * 60_000
    return number * 1000  # seconds


def wrk(url, duration, connections, headers=(), script=None):
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", script]
    command.append(url)
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = parse_duration_ms(re.search(r"\s50%\s+(\S+)", output).group(1))
    p99 = parse_duration_ms(re.search(r"\s99%\s+(\S+)", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors:
        errors += sum(int(count) for count in socket_errors.groups())
    total = int(re.search(r"(\d+) requests in", output).group(1))
    return {"rps": rps, "p50": p50, "p99": p99, "errors": errors, "requests": total}


def sql(backend, url, query):
    if backend == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:")) as database:
            return database.execute(query).fetchall()
    output = subprocess.run(["psql", "-At", "-F", "\t", url, "-c", query], check=True, capture_output=True, text=True).stdout
    return [tuple(line.split("\t")) for line in output.splitlines() if line]


def staff_session(base, email, password):
    jar = http.cookiejar.CookieJar()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    page = opener.open(base + "/agent/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token}).encode()
    try:
        opener.open(base + "/agent/login", data=form)
    except urllib.error.HTTPError as answer:
        if answer.code != 303:
            raise
    cookie = next(cookie for cookie in jar if cookie.name.endswith("ferrodesk-staff"))
    return f"{cookie.name}={cookie.value}"


def login_flood(base, stop, counter):
    """Wrong passwords for made-up accounts from ever new addresses: every
    attempt costs the server a password hash."""
    while not stop.is_set():
        address = f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"
        try:
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            request = urllib.request.Request(base + "/agent/login", headers={"X-Forwarded-For": address})
            page = opener.open(request, timeout=10).read().decode()
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            form = urllib.parse.urlencode(
                {"email": f"nobody{random.randrange(10**9)}@example.org", "password": "wrong password " + address, "csrf_token": token}
            ).encode()
            request = urllib.request.Request(base + "/agent/login", data=form, headers={"X-Forwarded-For": address})
            opener.open(request, timeout=10)
        except urllib.error.HTTPError:
            pass  # 401 is the point
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
        counter[0] += 1


def bench_backend(backend, arguments, work):
    data_dir = os.path.join(work, backend)
    os.makedirs(data_dir)
    if arguments.database_url:
        database_url = arguments.database_url
    elif backend == "sqlite":
        database_url = f"sqlite:{data_dir}/ferrodesk.db"
    else:
        name = f"ferrodesk_bench_{os.getpid()}"
        run(["psql", "-q", arguments.postgres, "-c", f"CREATE DATABASE {name}"], os.environ)
        database_url = arguments.postgres.rsplit("/", 1)[0] + "/" + name
    port = free_port()
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("FERRODESK_"):
            del env[key]
    env.update(
        FERRODESK_DATA_DIR=data_dir,
        FERRODESK_DATABASE_URL=database_url,
        FERRODESK_LISTEN=f"127.0.0.1:{port}",
        FERRODESK_PUBLIC_URL=f"http://127.0.0.1:{port}",
        FERRODESK_TRUSTED_PROXIES="127.0.0.1/32",
        RUST_LOG="warn",
    )
    result = {"backend": backend}
    try:
        if arguments.database_url:
            # What `ferrodesk seed` makes (its first administrator and the
            # agents' shared password); a fresh server, same data.
            result["seed_seconds"] = 0.0
            result["seed_summary"] = f"An existing seeded database ({database_url.rsplit('/', 1)[-1]})."
            admin = "admin.1@seed.example.org"
            password = "seeded agents share this passphrase"
        else:
            started = time.monotonic()
            seeded = run(
                [BINARY, "seed", "--tickets", str(arguments.tickets), "--users", str(arguments.users),
                 "--agents", str(arguments.agents), "--articles", str(arguments.articles)],
                env,
            ).stdout
            result["seed_seconds"] = time.monotonic() - started
            result["seed_summary"] = seeded.splitlines()[0]
            admin = re.search(r" as (\S+) \(or agent1", seeded).group(1)
            password = re.search(r'with the password "([^"]+)"', seeded).group(1)
        key = run([BINARY, "apikey", "create", "--agent", admin, "--name", "bench"], env).stdout.strip()
        lift = "UPDATE settings SET value = '{\"requests_per_minute\":1000000}' WHERE key = 'api'"
        if backend == "sqlite":
            with sqlite3.connect(database_url.removeprefix("sqlite:")) as database:
                database.execute(lift)
        else:
            run(["psql", "-q", database_url, "-c", lift], env)

        # The baseline has the home page's size.
        server = Server(env, os.path.join(work, f"{backend}-probe.log"))
        base = server.base
        home_bytes = len(urllib.request.urlopen(base + "/").read())
        server.stop()
        env["FERRODESK_BENCH_BASELINE_BYTES"] = str(home_bytes)
        server = Server(env, os.path.join(work, f"{backend}.log"))

        cookie = staff_session(base, admin, password)
        auth = f"Authorization: key {key}"
        slug = sql(backend, database_url, "SELECT slug FROM articles WHERE status = 'published' ORDER BY id LIMIT 1")[0][0]
        twenty = sql(
            backend, database_url,
            "SELECT t.reference FROM tickets t JOIN ticket_messages m ON m.ticket_id = t.id "
            "GROUP BY t.id, t.reference HAVING COUNT(*) = 20 LIMIT 1",
        )[0][0]
        visible = sql(backend, database_url, "SELECT COUNT(*) FROM tickets WHERE status NOT IN ('spam', 'deleted')")[0][0]
        deep_row = sql(
            backend, database_url,
            "SELECT updated_at, id FROM tickets WHERE status NOT IN ('spam', 'deleted') "
            f"ORDER BY updated_at DESC, id DESC LIMIT 1 OFFSET {max(int(int(visible) * 0.95) - 1, 0)}",
        )[0]
        deep_cursor = f"{deep_row[0]}.{deep_row[1]}"
        deep_oldest_row = sql(
            backend, database_url,
            "SELECT updated_at, id FROM tickets WHERE status NOT IN ('spam', 'deleted') "
            f"ORDER BY updated_at, id LIMIT 1 OFFSET {max(int(int(visible) * 0.95) - 1, 0)}",
        )[0]
        deep_oldest_cursor = f"{deep_oldest_row[0]}.{deep_oldest_row[1]}"
        # Sorted by subject (texts are sorted lower-cased), 95 % of the way down.
        deep_subject_row = sql(
            backend, database_url,
            "SELECT id, lower(subject) FROM tickets WHERE status NOT IN ('spam', 'deleted') "
            f"ORDER BY lower(subject), id LIMIT 1 OFFSET {max(int(int(visible) * 0.95) - 1, 0)}",
        )[0]
        deep_subject_cursor = urllib.parse.quote(f"{deep_subject_row[0]}.{deep_subject_row[1]}", safe="")
        department = sql(backend, database_url, "SELECT id FROM departments ORDER BY id LIMIT 1")[0][0]
        # A seeded subject ends in "#<1000 + id>", a word no other ticket has.
        middle = sql(backend, database_url, f"SELECT id FROM tickets ORDER BY id LIMIT 1 OFFSET {int(visible) // 2}")[0][0]
        rare_word = str(1000 + int(middle))
        create_script = os.path.join(work, "create_ticket.lua")
        with open(create_script, "w") as lua:
            body = json.dumps({
                "subject": "Benchmark ticket", "message": "Created by the load harness.",
                "person": {"email": "bench.requester@example.org", "name": "Bench Requester"},
                "department": int(department), "urgency": 3, "labels": ["bench"],
            })
            lua.write('wrk.method = "POST"\n')
            lua.write(f"wrk.body = {json.dumps(body)}\n")
            lua.write('wrk.headers["Content-Type"] = "application/json"\n')

        scenarios = [
            ("Static baseline (same size as home)", base + "/bench/baseline", [], None),
            ("Help-center home, anonymous", base + "/", [], None),
            ("KB article page, anonymous", base + f"/kb/articles/{slug}", [], None),
            ("KB search", base + "/search?q=password+reset", [], None),
            ("Agent ticket list, first page", base + "/agent/tickets?view=all&status=any", [f"Cookie: {cookie}"], None),
            ("Agent ticket list, deep page (95 %)", base + f"/agent/tickets?view=all&status=any&after={deep_cursor}", [f"Cookie: {cookie}"], None),
            ("Agent ticket list, oldest first", base + "/agent/tickets?view=all&status=any&order=oldest", [f"Cookie: {cookie}"], None),
            ("Agent ticket list, oldest first, deep page (95 %)", base + f"/agent/tickets?view=all&status=any&order=oldest&after={deep_oldest_cursor}", [f"Cookie: {cookie}"], None),
            ("Agent ticket list, by subject A-Z", base + "/agent/tickets?view=all&status=any&sort=subject&order=asc", [f"Cookie: {cookie}"], None),
            ("Agent ticket list, by subject, deep page (95 %)", base + f"/agent/tickets?view=all&status=any&sort=subject&order=asc&after={deep_subject_cursor}", [f"Cookie: {cookie}"], None),
            ("Agent ticket list, by requester (no index)", base + "/agent/tickets?view=all&status=any&sort=requester&order=asc", [f"Cookie: {cookie}"], None),
            ("Agent ticket page, 20 messages", base + f"/agent/tickets/{twenty}", [f"Cookie: {cookie}"], None),
            ("API: list tickets", base + "/api/v2/tickets?count=25", [auth], None),
            ("API: create ticket", base + "/api/v2/tickets", [auth], create_script),
            # Ticket search (#21): a word in most tickets, a word in one
            # (the number in a seeded subject), filters alone, a phrase.
            ("Agent search, a common word", base + "/agent/search?q=error", [f"Cookie: {cookie}"], None),
            ("Agent search, a rare word", base + f"/agent/search?q={rare_word}", [f"Cookie: {cookie}"], None),
            ("Agent search, filters only", base + "/agent/search?q=status%3Aopen+agent%3Anone+urgency%3A%3E5", [f"Cookie: {cookie}"], None),
            ("Agent search, a phrase", base + "/agent/search?q=%22known+issue%22", [f"Cookie: {cookie}"], None),
        ]
        if arguments.only:
            # The baseline stays: every figure is a ratio to it.
            scenarios = scenarios[:1] + [s for s in scenarios[1:] if arguments.only.lower() in s[0].lower()]
        rows = []
        peak = server.rss_kib()
        for label, url, headers, script in scenarios:
            wrk(url, 2, arguments.connections, headers, script)  # warm-up
            measured = wrk(url, arguments.duration, arguments.connections, headers, script)
            measured["label"] = label
            measured["rss_mib"] = server.rss_kib() / 1024
            # Private memory alone: SQLite's mapped database pages count in
            # VmRSS but belong to the page cache.
            measured["anon_mib"] = server.rss_kib("RssAnon") / 1024
            peak = max(peak, server.rss_kib("VmHWM"))
            rows.append(measured)
            print(f"  {backend}: {label}: {measured['rps']:.0f} req/s, p99 {measured['p99']:.1f} ms, errors {measured['errors']}", file=sys.stderr)

        # The login flood, with the article page measured meanwhile.
        if arguments.only and arguments.only.lower() not in "kb article page during a login flood":
            result["rows"] = rows
            result["peak_rss_mib"] = peak / 1024
            result["home_bytes"] = home_bytes
            server.stop()
            result["server_errors"] = count_errors(os.path.join(work, f"{backend}.log"))
            return result
        stop = threading.Event()
        counter = [0]
        flooders = [threading.Thread(target=login_flood, args=(base, stop, counter), daemon=True) for _ in range(arguments.flood_threads)]
        for flooder in flooders:
            flooder.start()
        time.sleep(2)
        counted_from = counter[0]
        flood_started = time.monotonic()
        during = wrk(base + f"/kb/articles/{slug}", arguments.duration, arguments.connections)
        flood_rate = (counter[0] - counted_from) / (time.monotonic() - flood_started)
        stop.set()
        for flooder in flooders:
            flooder.join(timeout=15)
        during["label"] = f"KB article page during a login flood ({flood_rate:.0f} wrong logins/s from random addresses)"
        during["rss_mib"] = server.rss_kib() / 1024
        during["anon_mib"] = server.rss_kib("RssAnon") / 1024
        rows.append(during)
        peak = max(peak, server.rss_kib("VmHWM"))
        result["rows"] = rows
        result["peak_rss_mib"] = peak / 1024
        result["home_bytes"] = home_bytes
        server.stop()
        result["server_errors"] = count_errors(os.path.join(work, f"{backend}.log"))
    finally:
        if backend == "postgres" and not arguments.database_url:
            subprocess.run(["psql", "-q", arguments.postgres, "-c", f"DROP DATABASE IF EXISTS ferrodesk_bench_{os.getpid()} WITH (FORCE)"])
    return result


def count_errors(log_path):
    with open(log_path) as log:
        return sum(1 for line in log if "ERROR" in line)


def table(result):
    rows = result["rows"]
    baseline = rows[0]["rps"]
    lines = [
        f"### {result['backend']}",
        "",
        f"Seed: {result['seed_summary']} ({result['seed_seconds']:.0f} s with the release build). "
        f"Home page {result['home_bytes']} bytes. Peak server RSS {result['peak_rss_mib']:.0f} MiB. "
        f"Errors in the server log: {result['server_errors']}.",
        "",
        "| scenario | req/s | × baseline | p50 ms | p99 ms | errors | RSS MiB | private MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['label']} | {row['rps']:.0f} | {row['rps'] / baseline:.2f} | {row['p50']:.2f} | {row['p99']:.2f} | {row['errors']} | {row['rss_mib']:.0f} | {row['anon_mib']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--flood-threads", type=int, default=8)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default=os.environ.get("FERRODESK_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--only", default="", help="measure only the scenarios whose name holds this text (the baseline always)")
    parser.add_argument("--database-url", default="", help="measure this already seeded database (one backend; nothing seeded or dropped)")
    parser.add_argument("--output", default=os.path.join(ROOT, "target", "bench", "results.md"))
    arguments = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    work = tempfile.mkdtemp(prefix="ferrodesk-bench-")
    header = [
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node()}: "
        f"{os.cpu_count()} cores, {platform.machine()}, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // 2**30} GiB, "
        f"Linux {platform.release()}.",
        "",
        "Command: `scripts/bench " + " ".join(sys.argv[1:]) + "`" if len(sys.argv) > 1 else "Command: `scripts/bench`",
        "",
        f"wrk with 2 threads and {arguments.connections} connections, {arguments.duration} s per scenario after a 2 s warm-up, "
        "on the same machine as the server.",
        "",
    ]
    sections = []
    if arguments.database_url:
        arguments.backends = "sqlite" if arguments.database_url.startswith("sqlite:") else "postgres"
    try:
        for backend in arguments.backends.split(","):
            print(f"== {backend}", file=sys.stderr)
            sections.append(table(bench_backend(backend, arguments, work)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = "\n".join(header) + "\n" + "\n".join(sections)
    os.makedirs(os.path.dirname(arguments.output), exist_ok=True)
    with open(arguments.output, "w") as output:
        output.write(report)
    print(report)


if __name__ == "__main__":
    main()
