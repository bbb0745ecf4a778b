#!/usr/bin/env python3
"""Mail-in benchmark through IMAP: a real Dovecot on loopback holds N
generated messages; a release `ferrodesk serve` on a fresh database gets an
IMAP account through the admin pages and fetches, stores and processes them
as it does in production (its own fetch loop and job workers). Reports
messages per second from the account's creation until the last message is
processed, what they became, and the server's peak resident memory.

    scripts/bench mail --imap [--mails 10000] [--backends sqlite,postgres]

A fifth of the messages carry a 40 KB attachment; a third are replies.
The run has two rounds: first the new requests are delivered and fetched;
then, with the tickets' references read back, the replies ("Re: [REF] …"
from the ticket's requester, threaded by the reference in the subject).
The figure is all messages over the time of both rounds. The admin's flood
limits are raised first (as a busy desk would), so no message is refused.
"""

import argparse
import http.cookiejar
import os
import pwd
import random
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from bench import free_port, sql
from bench_mail import BINARY, environment, message

DOVECOT = "/usr/sbin/dovecot"
IMAP_USER = "helpdesk"
IMAP_PASSWORD = "bench-imap-password"
ADMIN = ("admin@example.org", "correct horse battery staple 42")


class Dovecot:
    """Dovecot in the foreground with one user whose Maildir we fill."""

    def __init__(self):
        self.directory = tempfile.mkdtemp(prefix="ferrodesk-bench-imap-")
        # Dovecot's own users (auth, login) must reach the users file.
        os.chmod(self.directory, 0o755)
        for folder in ["run", "state", "home", "mail"]:
            os.makedirs(os.path.join(self.directory, folder))
        self.port = free_port()
        root = os.getuid() == 0
        self.owner = (65534, 65534) if root else (os.getuid(), os.getgid())
        name = pwd.getpwuid(os.getuid()).pw_name
        users = "" if root else f"default_login_user = {name}\ndefault_internal_user = {name}\n"
        d = self.directory
        with open(os.path.join(d, "users"), "w") as file:
            file.write(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}::::::\n")
        config = (
            f"base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n"
            "protocols = imap\nlisten = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n"
            f"auth_mechanisms = plain login\nmail_location = maildir:{d}/mail/%u\n{users}"
            f"passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/users\n}}\n"
            f"userdb {{\n  driver = static\n  args = uid={self.owner[0]} gid={self.owner[1]} home={d}/home/%u\n}}\n"
            f"service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {self.port}\n  }}\n"
            "  inet_listener imaps {\n    port = 0\n  }\n}\n"
            "service stats {\n  unix_listener stats-reader {\n    mode = 0666\n  }\n"
            "  unix_listener stats-writer {\n    mode = 0666\n  }\n}\n"
        )
        with open(os.path.join(d, "dovecot.conf"), "w") as file:
            file.write(config)
        self.maildir = os.path.join(d, "mail", IMAP_USER)
        for part in ["cur", "new", "tmp"]:
            os.makedirs(os.path.join(self.maildir, part))
        for path in [os.path.join(d, "mail"), os.path.join(d, "home"), self.maildir] + [
            os.path.join(self.maildir, part) for part in ["cur", "new", "tmp"]
        ]:
            os.chown(path, *self.owner)
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", os.path.join(d, "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot did not start")

    def deliver(self, number, raw):
        name = f"{time.time_ns()}.{os.getpid()}_{number}.bench"
        temporary = os.path.join(self.maildir, "tmp", name)
        with open(temporary, "wb") as file:
            file.write(raw)
        os.chown(temporary, *self.owner)
        os.rename(temporary, os.path.join(self.maildir, "new", name))

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=20)
        shutil.rmtree(self.directory, ignore_errors=True)


def session(base):
    """An admin's browser: a cookie jar that does not follow redirects."""
    jar = http.cookiejar.CookieJar()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def post(opener, base, page, action, fields):
    html = opener.open(base + page).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    data = urllib.parse.urlencode(dict(fields, csrf_token=token)).encode()
    try:
        opener.open(base + action, data=data)
    except urllib.error.HTTPError as answer:
        if answer.code != 303:
            raise RuntimeError(f"{action}: {answer.code} {answer.read()[:400]!r}")


def database_url(backend, env):
    if backend == "sqlite":
        return "sqlite:" + os.path.join(env["FERRODESK_DATA_DIR"], "ferrodesk.db")
    return env["FERRODESK_DATABASE_URL"]


def rows(backend, env, query):
    return sql(backend, database_url(backend, env), query)


def count(backend, env, query):
    return int(rows(backend, env, query)[0][0])


def wait_processed(backend, env, expected):
    deadline = time.time() + 3600
    while time.time() < deadline:
        if count(backend, env, "SELECT COUNT(*) FROM inbound_mails WHERE state <> 'pending'") >= expected:
            return
        time.sleep(0.05)
    raise RuntimeError("the messages were not processed within an hour")


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def run_backend(backend, mails, postgres_admin):
    data_dir = tempfile.mkdtemp(prefix=f"ferrodesk-bench-imap-{backend}-")
    database = None
    postgres = None
    if backend == "postgres":
        database = f"bench_imap_{os.getpid()}"
        subprocess.run(["psql", postgres_admin, "-qc", f"CREATE DATABASE {database}"], check=True)
        postgres = postgres_admin.rsplit("/", 1)[0] + "/" + database
    env = environment(backend, data_dir, postgres)
    port = free_port()
    # Receipts and notifications go to a real SMTP server that keeps
    # nothing (Debian's aiosmtpd), as they would to a mail relay.
    smtp_port = free_port()
    smtp = subprocess.Popen(
        ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}", "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    env.update(
        FERRODESK_LISTEN=f"127.0.0.1:{port}",
        FERRODESK_PUBLIC_URL=f"http://127.0.0.1:{port}",
        FERRODESK_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}?security=none&from=help@example.org",
    )
    subprocess.run([BINARY, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run(
        [BINARY, "admin", "create", "--email", ADMIN[0], "--name", "Ada Admin"],
        input=ADMIN[1] + "\n", text=True, env=env, check=True, capture_output=True,
    )
    dovecot = Dovecot()
    attachment = os.urandom(40 * 1024)
    replies = mails // 3
    requests = mails - replies
    for number in range(requests):
        sender = f"customer{number % 400}@example.net"
        dovecot.deliver(number, message(number, sender, f"Printer trouble {number}", attachment if number % 5 == 0 else None))
    log_path = os.path.join(data_dir, "serve.log")
    log = open(log_path, "w")
    server = subprocess.Popen([BINARY, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = env["FERRODESK_PUBLIC_URL"]
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1).read()
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        admin = session(base)
        post(admin, base, "/agent/login", "/agent/login", {"email": ADMIN[0], "password": ADMIN[1]})
        post(admin, base, "/admin/email/accounts", "/admin/email/limits", {
            "auto_replies": "5", "per_sender": "10000", "per_account": "1000000", "kept_days": "30",
        })
        started = time.perf_counter()
        post(admin, base, "/admin/email/accounts/new", "/admin/email/accounts/new", {
            "address": "help@example.org", "transport": "imap", "imap_host": "127.0.0.1",
            "imap_port": str(dovecot.port), "imap_security": "none", "imap_user": IMAP_USER,
            "imap_password": IMAP_PASSWORD, "imap_folder": "INBOX", "poll_seconds": "30",
            "after_fetch": "seen", "is_enabled": "true",
        })
        wait_processed(backend, env, requests)
        first_round = time.perf_counter() - started
        opened = [row for row in rows(backend, env, "SELECT reference, subject FROM tickets ORDER BY id")]
        for number in range(replies):
            reference, subject = opened[number % len(opened)]
            asker = int(subject.rsplit(" ", 1)[-1]) % 400
            raw = message(requests + number, f"customer{asker}@example.net", f"Re: [{reference}] {subject}", None)
            dovecot.deliver(requests + number, raw)
        second_started = time.perf_counter()
        second_started_at_store = second_started
        # The account was fetched a moment ago; the next visit comes with
        # its poll interval, which is not the helpdesk's speed: count from
        # the first reply stored.
        while count(backend, env, "SELECT COUNT(*) FROM inbound_mails") <= requests:
            time.sleep(0.05)
            second_started_at_store = time.perf_counter()
        wait_processed(backend, env, mails)
        second_round = time.perf_counter() - second_started_at_store
        waited_for_poll = second_started_at_store - second_started
        elapsed = first_round + second_round
        tickets = count(backend, env, "SELECT COUNT(*) FROM tickets")
        threaded = count(backend, env, "SELECT COUNT(*) FROM inbound_mails WHERE reason = 'reply'")
        rejected = count(backend, env, "SELECT COUNT(*) FROM inbound_mails WHERE state = 'rejected'")
        peak = peak_rss_kib(server.pid)
        sent = count(backend, env, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'")
        # Received mail goes ahead of outgoing mail: how long the receipts
        # and notifications queued meanwhile take to be sent afterwards.
        unsent = "SELECT COUNT(*) FROM outbox WHERE status <> 'sent'"
        drain_deadline = time.time() + 900
        while count(backend, env, unsent) > 0 and time.time() < drain_deadline:
            time.sleep(0.2)
        outbox_drained_s = round(time.perf_counter() - second_started_at_store - second_round, 1)
        outbox_total = count(backend, env, "SELECT COUNT(*) FROM outbox")
        outbox_left = count(backend, env, unsent)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        dovecot.stop()
        smtp.terminate()
    if os.environ.get("BENCH_KEEP"):
        print("kept", data_dir)
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    if database:
        subprocess.run(["psql", postgres_admin, "-qc", f"DROP DATABASE {database}"], check=False)
    return {
        "backend": backend,
        "mails": mails,
        "seconds": round(elapsed, 1),
        "requests_round_s": round(first_round, 1),
        "replies_round_s": round(second_round, 1),
        "waited_for_next_poll_s": round(waited_for_poll, 1),
        "mails_per_second": round(mails / elapsed, 1),
        "tickets": tickets,
        "threaded_replies": threaded,
        "rejected": rejected,
        "receipts_sent": sent,
        "outbox": outbox_total,
        "outbox_sent_after_s": outbox_drained_s,
        "outbox_left": outbox_left,
        "peak_rss_mib": round(peak / 1024, 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=10000)
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    arguments = parser.parse_args()
    random.seed(7)
    for backend in arguments.backends.split(","):
        print(run_backend(backend.strip(), arguments.mails, arguments.postgres), flush=True)


if __name__ == "__main__":
    main()
