#!/usr/bin/env python3
"""Mail-in benchmark: pipes generated messages through `ferrodesk mail
receive` (the release binary, one process per message, as a mail server
runs it) into a fresh database per backend, and reports the time per
message (median, p90), messages per second, what they became, and the
largest resident memory of any one receive, then the memory for one 30 MB
message.

    scripts/bench mail [--mails 1000] [--backends sqlite,postgres]

A fifth of the messages carry a 40 KB attachment; a third are replies to
earlier tickets by the same sender (threaded by the reference in their
subject). Only the standard library is used here.
"""

import argparse
import base64
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# BENCH_BINARY names another build to measure (an older one, to compare).
BINARY = os.environ.get("BENCH_BINARY") or os.path.join(ROOT, "target", "release", "ferrodesk")


def message(number, sender, subject, attachment):
    boundary = f"b{number}"
    body = f"Hello,\r\n\r\nmessage {number}: the printer on floor {number % 9} jams again.\r\n\r\nBest,\r\n{sender}\r\n"
    headers = (
        f"From: {sender}\r\nTo: help@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <bench-{number}-{random.getrandbits(48):x}@mail.example.net>\r\n"
        "Date: Sat, 05 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    )
    if not attachment:
        return (headers + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body).encode()
    payload = base64.encodebytes(attachment).decode().replace("\n", "\r\n")
    return (
        headers
        + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        + f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
        + f'--{boundary}\r\nContent-Type: application/pdf; name="scan-{number}.pdf"\r\n'
        + f'Content-Disposition: attachment; filename="scan-{number}.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + payload
        + f"--{boundary}--\r\n"
    ).encode()


def environment(backend, data_dir, postgres):
    env = {key: value for key, value in os.environ.items() if not key.startswith("FERRODESK_")}
    if os.environ.get("BENCH_WORKERS"):
        env["FERRODESK_WORKERS"] = os.environ["BENCH_WORKERS"]
    env.update(FERRODESK_DATA_DIR=data_dir, FERRODESK_PUBLIC_URL="https://help.example.org", RUST_LOG=os.environ.get("BENCH_RUST_LOG", "warn"))
    if backend == "postgres":
        # On the same machine TLS protects nothing, and each TLS handshake
        # with the database costs about 90 ms here (the driver leaves
        # Nagle's algorithm on): a process per mail would pay it each time.
        env["FERRODESK_DATABASE_URL"] = postgres + "?sslmode=disable"
    return env


def receive(raw, env):
    """Runs one `ferrodesk mail receive` with `raw` on its standard input;
    answers how it ended and its own peak resident memory (KiB), which
    `getrusage(RUSAGE_CHILDREN)` would mix with every earlier child's."""
    child = subprocess.Popen([BINARY, "mail", "receive"], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdin.write(raw)
    child.stdin.close()
    stdout, stderr = child.stdout.read(), child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr), usage.ru_maxrss


def run_backend(backend, mails, postgres_admin):
    data_dir = tempfile.mkdtemp(prefix=f"ferrodesk-bench-mail-{backend}-")
    database = None
    if backend == "postgres":
        database = f"bench_mail_{os.getpid()}"
        subprocess.run(["psql", postgres_admin, "-qc", f"CREATE DATABASE {database}"], check=True)
        postgres = postgres_admin.rsplit("/", 1)[0] + "/" + database
    else:
        postgres = None
    env = environment(backend, data_dir, postgres)
    subprocess.run([BINARY, "migrate"], env=env, check=True, capture_output=True)
    attachment = os.urandom(40 * 1024)
    tickets = []
    durations = []
    outcomes = {}
    peak_kib = 0
    started = time.perf_counter()
    for number in range(mails):
        sender = f"customer{number % 400}@example.net"
        mine = [reference for (who, reference) in tickets if who == sender]
        if mine and number % 3 == 0:
            subject = f"Re: [{random.choice(mine)}] Printer"
        else:
            subject = f"Printer trouble {number}"
        raw = message(number, sender, subject, attachment if number % 5 == 0 else None)
        before = time.perf_counter()
        done, rss_kib = receive(raw, env)
        peak_kib = max(peak_kib, rss_kib)
        durations.append(time.perf_counter() - before)
        if done.returncode != 0:
            raise RuntimeError(f"exit {done.returncode}: {done.stderr.decode()}")
        said = done.stdout.decode()
        kind = said.split(": ", 1)[-1].split(" ")[0] if ": " in said else said
        outcomes[kind] = outcomes.get(kind, 0) + 1
        if "new ticket" in said:
            tickets.append((sender, said.strip().rstrip(".").split()[-1]))
    elapsed = time.perf_counter() - started
    # One 30 MB message, alone.
    big = message(mails + 1, "big@example.net", "A big scan", os.urandom(22 * 1024 * 1024))
    done = subprocess.run(["/usr/bin/time", "-f", "%M", BINARY, "mail", "receive"], input=big, env=env, capture_output=True)
    big_kib = done.stderr.decode().strip().splitlines()[-1] if done.returncode == 0 else "failed"
    shutil.rmtree(data_dir, ignore_errors=True)
    if database:
        subprocess.run(["psql", postgres_admin, "-qc", f"DROP DATABASE {database}"], check=False)
    durations.sort()
    return {
        "backend": backend,
        "mails": mails,
        "median_ms": round(statistics.median(durations) * 1000, 1),
        "p90_ms": round(durations[int(len(durations) * 0.9)] * 1000, 1),
        "mails_per_second": round(mails / elapsed, 1),
        "outcomes": outcomes,
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "rss_30mb_mail_mib": round(int(big_kib) / 1024, 1) if big_kib.isdigit() else big_kib,
        "big_mail_size_mib": round(len(big) / 1024 / 1024, 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    arguments = parser.parse_args()
    backends = [backend.strip() for backend in arguments.backends.split(",")]
    if len(backends) > 1:
        # One process per backend: a child started by this process counts
        # this process's memory as its own until it runs the helpdesk (the
        # kernel notes the peak at exec), and the 30 MB message leaves this
        # one large.
        for backend in backends:
            subprocess.run([sys.executable, __file__, "--mails", str(arguments.mails), "--backends", backend,
                            "--postgres", arguments.postgres], check=True)
        return
    random.seed(7)
    print(run_backend(backends[0], arguments.mails, arguments.postgres), flush=True)


if __name__ == "__main__":
    main()
