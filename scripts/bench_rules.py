#!/usr/bin/env python3
"""Triggers benchmark: a seeded instance per backend; notes added through
the API one after another with no trigger and then with 200 enabled
triggers (each with a department condition that holds and a message
pattern that does not, so every trigger is evaluated in full). Reports the
API request's latency (median, p99) in both cases, the rules job's own
evaluation time per event as the server logs it (median, p99), and the
time from a ticket being created until a rule's change is on it (the
200th trigger matches those tickets), read back through the API. Then the
scheduler: an escalation with a timer on every seeded ticket, of which
`--due` have fallen due; reports how long the pass that queued them took
(as the server logs it) and how long until their jobs had all run.
Last, webhook deliveries: a webhook taking `ticket.created` to a receiver
on loopback (allowed by `FERRODESK_WEBHOOK_ALLOW`), `--webhook-tickets`
tickets created through the API as fast as one client can, and the
deliveries per second the receiver counts (each is the ticket's rules job,
then a delivery job, then a signed POST).

    scripts/bench rules [--tickets 100000] [--notes 400] [--triggers 200]
                        [--backends sqlite,postgres]
"""

import argparse
import http.server
import json
import threading
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request

from bench import BINARY, Server, run, sql, free_port


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


def api(base, key, method, path, body=None):
    request = urllib.request.Request(
        base + path, data=None if body is None else json.dumps(body).encode(), method=method,
        headers={"Authorization": f"key {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"{}")


def add_notes(base, key, ticket_ids, count):
    """Notes on the tickets in turn; each request's latency in ms."""
    latencies = []
    for number in range(count):
        ticket = ticket_ids[number % len(ticket_ids)]
        started = time.perf_counter()
        api(base, key, "POST", f"/api/v2/tickets/{ticket}/messages",
            {"message": f"Rules benchmark note {number}: nothing to see.", "is_note": True})
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def rule_micros(log_path, since):
    """The rules job's evaluation times logged after byte `since`."""
    with open(log_path, errors="replace") as log:
        log.seek(since)
        return [int(match) / 1000 for match in re.findall(r"micros=(\d+)", log.read())]


def trigger_rows(count, department):
    rows = []
    for number in range(count):
        last = number == count - 1
        definition = {
            "events": ["new_ticket", "new_reply", "ticket_updated"],
            "all": [{"field": {"kind": "department"}, "operator": "is", "value": str(department)}]
            + ([{"field": {"kind": "subject"}, "operator": "contains", "value": "rules-bench-hit"}] if last else
               [{"field": {"kind": "message"}, "operator": "matches", "value": rf"order\s+#?{number}\d{{4,}}\b"}]),
            "any": [],
            "actions": [{"type": "add_labels", "labels": ["hit" if last else f"bench-{number}"]}],
        }
        rows.append((f"Bench {number}", number + 1, json.dumps(definition).replace("'", "''")))
    return rows


def bench_backend(backend, arguments, work):
    data_dir = os.path.join(work, backend)
    os.makedirs(data_dir)
    if backend == "sqlite":
        database_url = f"sqlite:{data_dir}/ferrodesk.db"
    else:
        name = f"ferrodesk_rules_{os.getpid()}"
        run(["psql", "-q", arguments.postgres, "-c", f"CREATE DATABASE {name}"], os.environ)
        database_url = arguments.postgres.rsplit("/", 1)[0] + "/" + name
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FERRODESK_")}
    env.update(
        FERRODESK_DATA_DIR=data_dir, FERRODESK_DATABASE_URL=database_url,
        FERRODESK_LISTEN=f"127.0.0.1:{port}", FERRODESK_PUBLIC_URL=f"http://127.0.0.1:{port}",
        RUST_LOG=os.environ.get("BENCH_RUST_LOG", "warn,ferrodesk_app::rules=debug"),
        FERRODESK_WEBHOOK_ALLOW="127.0.0.1/32",
    )
    seeded = run([BINARY, "seed", "--tickets", str(arguments.tickets), "--users", "5000", "--agents", "20", "--articles", "10"], env).stdout
    admin = re.search(r" as (\S+) \(or agent1", seeded).group(1)
    key = run([BINARY, "apikey", "create", "--agent", admin, "--name", "rules-bench"], env).stdout.strip()
    sql(backend, database_url, "UPDATE settings SET value = '{\"requests_per_minute\":1000000}' WHERE key = 'api'")
    department = int(sql(backend, database_url, "SELECT department_id FROM tickets GROUP BY department_id ORDER BY COUNT(*) DESC LIMIT 1")[0][0])
    ticket_ids = [int(row[0]) for row in sql(backend, database_url, f"SELECT id FROM tickets WHERE department_id = {department} ORDER BY id DESC LIMIT 200")]
    # "No trigger" means none: the default triggers (receipts, agents'
    # notifications) are switched off for the whole run.
    sql(backend, database_url, "UPDATE triggers SET is_enabled = FALSE")
    log_path = os.path.join(work, f"{backend}.log")
    server = Server(env, log_path)
    try:
        base = server.base
        add_notes(base, key, ticket_ids, 50)  # warm-up
        without = add_notes(base, key, ticket_ids, arguments.notes)
        now = int(time.time() * 1000)
        values = ", ".join(f"('{name}', {position}, TRUE, '{definition}', {now}, {now})" for name, position, definition in trigger_rows(arguments.triggers, department))
        sql(backend, database_url, f"INSERT INTO triggers (name, position, is_enabled, definition, created_at, updated_at) VALUES {values}")
        time.sleep(1)
        add_notes(base, key, ticket_ids, 50)  # the node reads the triggers
        since = os.path.getsize(log_path)
        with_triggers = add_notes(base, key, ticket_ids, arguments.notes)
        time.sleep(2)
        evaluation = rule_micros(log_path, since)
        lags = []
        for number in range(arguments.hits):
            started = time.perf_counter()
            created = api(base, key, "POST", "/api/v2/tickets", {
                "subject": f"rules-bench-hit {number}", "message": "Please look.",
                "person": {"email": "rules.bench@example.org", "name": "Rules Bench"},
                "department": department, "urgency": 3, "send_receipt": False,
            })
            ticket = created["data"]["id"]
            while "hit" not in api(base, key, "GET", f"/api/v2/tickets/{ticket}")["data"]["labels"]:
                if time.perf_counter() - started > 10:
                    raise RuntimeError(f"the rule never ran on ticket {ticket}")
                time.sleep(0.002)
            lags.append((time.perf_counter() - started) * 1000)
        scheduler = measure_scheduler(backend, database_url, log_path, arguments)
        webhooks = measure_webhooks(backend, database_url, base, key, department, arguments)
        return {
            "webhooks": webhooks,
            "backend": backend,
            "without": without, "with": with_triggers, "evaluation": evaluation, "lags": lags,
            "scheduler": scheduler,
        }
    finally:
        server.stop()


def measure_scheduler(backend, database_url, log_path, arguments):
    """Timers on every ticket, `--due` of them due; the pass's own time
    (logged by the server) and the time until their jobs ran."""
    now = int(time.time() * 1000)
    definition = json.dumps({"clock": "open", "minutes": 60, "actions": [{"type": "add_labels", "labels": ["late"]}]})
    total = int(sql(backend, database_url, "SELECT COUNT(*) FROM tickets")[0][0])
    every = max(1, total // arguments.due)
    # Written straight to the table: the backfill job would do the same in
    # batches; here the pass is what is measured.
    sql(backend, database_url, f"INSERT INTO escalations (name, position, is_enabled, definition, created_at, updated_at) VALUES ('Bench late', 1, TRUE, '{definition}', {now}, {now})")
    escalation = int(sql(backend, database_url, "SELECT MAX(id) FROM escalations")[0][0])
    time.sleep(1)
    since = os.path.getsize(log_path)
    started = time.perf_counter()
    sql(backend, database_url,
        f"INSERT INTO escalation_timers (escalation_id, ticket_id, basis_at, due_at, state) "
        f"SELECT {escalation}, id, created_at, CASE WHEN id % {every} = 0 THEN {now - 1000} ELSE {now + 10 * 86_400_000} END, 'waiting' FROM tickets "
        f"WHERE id % {every} <> 0 OR id <= {every * arguments.due}")
    inserted = time.perf_counter() - started
    started = time.perf_counter()
    if backend == "postgres":
        sql(backend, database_url, "ANALYZE escalation_timers")
    timers = int(sql(backend, database_url, "SELECT COUNT(*) FROM escalation_timers")[0][0])
    due = int(sql(backend, database_url, f"SELECT COUNT(*) FROM escalation_timers WHERE due_at <= {now}")[0][0])
    passes = []
    while time.perf_counter() - started < 120:
        with open(log_path, errors="replace") as log:
            log.seek(since)
            passes = [(int(queued), int(millis)) for queued, millis in re.findall(r"due escalations queued queued=(\d+) millis=(\d+)", log.read())]
        if sum(queued for queued, _ in passes) >= due:
            break
        time.sleep(0.05)
    left = 1
    while time.perf_counter() - started < 300 and left:
        left = int(sql(backend, database_url, "SELECT COUNT(*) FROM jobs WHERE kind = 'escalation' AND status <> 'dead'")[0][0])
        time.sleep(0.05)
    drained = time.perf_counter() - started
    return {"timers": timers, "due": due, "passes": passes, "drained_s": drained, "insert_s": inserted}


class Receiver(http.server.BaseHTTPRequestHandler):
    """Counts the POSTs it gets and answers 204."""
    protocol_version = "HTTP/1.1"
    times = []

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Receiver.times.append(time.perf_counter())
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *arguments):
        pass


def measure_webhooks(backend, database_url, base, key, department, arguments):
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    receiver_port = receiver.server_address[1]
    now = int(time.time() * 1000)
    sql(backend, database_url, "UPDATE triggers SET is_enabled = FALSE")
    sql(backend, database_url, "UPDATE escalations SET is_enabled = FALSE")
    sql(backend, database_url,
        f"INSERT INTO webhooks (name, url, events, secret_sealed, is_enabled, created_at, updated_at) "
        f"VALUES ('Bench receiver', 'http://127.0.0.1:{receiver_port}/in', 'ticket.created', '', TRUE, {now}, {now})")
    time.sleep(1)
    Receiver.times = []
    started = time.perf_counter()
    for number in range(arguments.webhook_tickets):
        api(base, key, "POST", "/api/v2/tickets", {
            "subject": f"webhook-bench {number}", "message": "Hello hooks.",
            "person": {"email": "hooks.bench@example.org", "name": "Hooks Bench"},
            "department": department, "urgency": 3, "send_receipt": False,
        })
    created = time.perf_counter() - started
    while len(Receiver.times) < arguments.webhook_tickets and time.perf_counter() - started < 300:
        time.sleep(0.05)
    receiver.shutdown()
    delivered = len(Receiver.times)
    span = (Receiver.times[-1] - started) if Receiver.times else float("nan")
    return {"tickets": arguments.webhook_tickets, "delivered": delivered, "created_s": created, "span_s": span}


def line(name, values):
    return f"| {name} | {statistics.median(values):.2f} | {percentile(values, 0.99):.2f} | {len(values)} |"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--notes", type=int, default=400)
    parser.add_argument("--triggers", type=int, default=200)
    parser.add_argument("--hits", type=int, default=100)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--webhook-tickets", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default=os.environ.get("FERRODESK_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    arguments = parser.parse_args()
    work = tempfile.mkdtemp(prefix="ferrodesk-rules-bench-")
    report = [f"Command: `scripts/bench rules {' '.join(sys.argv[1:])}`", ""]
    try:
        for backend in arguments.backends.split(","):
            print(f"== {backend}", file=sys.stderr)
            result = bench_backend(backend, arguments, work)
            added = statistics.median(result["with"]) - statistics.median(result["without"])
            report += [
                f"### {backend}, {arguments.tickets:,} tickets, {arguments.triggers} triggers", "",
                "| measure (ms) | median | p99 | samples |", "|---|---|---|---|",
                line("API note, no trigger", result["without"]),
                line(f"API note, {arguments.triggers} triggers", result["with"]),
                line(f"rules job: evaluating {arguments.triggers} triggers per event", result["evaluation"]),
                line("ticket created → a rule's change on it (API round trips included)", result["lags"]),
                "", f"Added to the note's request at the median: {added:.2f} ms.", "",
            ]
            hooks = result["webhooks"]
            report += [
                f"Webhooks: {hooks['tickets']:,} tickets created through the API in {hooks['created_s']:.1f} s; "
                f"{hooks['delivered']:,} deliveries received, the last {hooks['span_s']:.1f} s after the first ticket: "
                f"{hooks['delivered'] / hooks['span_s']:.0f} deliveries per second.", "",
            ]
            scheduler = result["scheduler"]
            passes = ", ".join(f"{queued} queued in {millis} ms" for queued, millis in scheduler["passes"]) or "none logged"
            report += [
                f"Scheduler: {scheduler['timers']:,} timers, {scheduler['due']:,} due; passes: {passes}; "
                f"their jobs all ran {scheduler['drained_s']:.2f} s after the timers were written "
                f"(the scheduler ticks every 10 s, so up to 10 s of that is waiting for the tick).", "",
            ]
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)
    print("\n".join(report))


if __name__ == "__main__":
    main()
