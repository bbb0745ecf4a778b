#!/usr/bin/env python3
"""Live-chat benchmark: one node (SQLite, PostgreSQL) and two nodes on
PostgreSQL. 5,000 visitor sockets are open on a node: most idle (a help
center page with the chat loaded), 100 in chats an agent has accepted.
Each of those visitors writes once a second and the agent answers in each
chat once a second; every message's time from being sent to arriving at
the other side is measured (median, p99, max), with messages lost, and the
server's extra resident memory per idle socket.

    scripts/bench chat [--sockets 5000] [--chats 100] [--duration 20]
                       [--backends sqlite,postgres] [--two-nodes yes]

With two nodes the visitors are on one and the agent on the other: every
message crosses PostgreSQL's LISTEN/NOTIFY. The chats are held by the
seeded admin and the seeded Support agents (with 20 agents seeded, five),
up to 20 each (the most Admin → Chat allows), and come from distinct
addresses (the bench sets itself up as a trusted proxy), since one address
may start only ten chats an hour. Each side's messages are spread evenly
over the second, as people's would be.

Only the standard library is used (a small WebSocket client below).
"""

import argparse
import asyncio
import base64
import json
import os
import re
import resource
import sqlite3
import statistics
import struct
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from bench import BINARY, Server, free_port, run, staff_session


class Socket:
    """A minimal WebSocket client: text frames out (masked), text frames
    in, pings answered."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port, path, origin, cookie=None, forwarded=None):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
            "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
            f"Origin: {origin}",
        ]
        if cookie:
            lines.append(f"Cookie: {cookie}")
        if forwarded:
            lines.append(f"X-Forwarded-For: {forwarded}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        status = await reader.readline()
        if b" 101 " not in status:
            raise RuntimeError(f"{path}: {status!r}")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        return cls(reader, writer)

    def _frame(self, opcode, payload):
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        return head + mask + masked

    async def send(self, value):
        self.writer.write(self._frame(0x1, json.dumps(value).encode()))
        await self.writer.drain()

    async def receive(self):
        """The next JSON message; None when the socket closes."""
        while True:
            head = await self.reader.readexactly(2)
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            payload = await self.reader.readexactly(length)
            if opcode == 0x9:
                self.writer.write(self._frame(0xA, payload))
            elif opcode == 0x8:
                return None
            elif opcode == 0x1:
                return json.loads(payload)

    async def receive_kind(self, kind):
        while True:
            message = await self.receive()
            if message is None:
                raise RuntimeError(f"closed while waiting for {kind}")
            if message.get("type") == kind:
                return message

    def close(self):
        self.writer.close()


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


def put_setting(backend, database_url, key, value):
    statement = (
        "INSERT INTO settings (key, value, updated_at) VALUES ('{key}', '{value}', 0) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
    ).format(key=key, value=json.dumps(value).replace("'", "''"))
    if backend == "sqlite":
        with sqlite3.connect(database_url.removeprefix("sqlite:")) as database:
            database.execute(statement)
    else:
        run(["psql", "-q", database_url, "-c", statement], os.environ)


def node_env(data_dir, database_url, port):
    env = {key: value for key, value in os.environ.items() if not key.startswith("FERRODESK_")}
    env.update(
        FERRODESK_DATA_DIR=data_dir, FERRODESK_DATABASE_URL=database_url,
        FERRODESK_LISTEN=f"127.0.0.1:{port}", FERRODESK_PUBLIC_URL=f"http://127.0.0.1:{port}",
        FERRODESK_TRUSTED_PROXIES="127.0.0.1", RUST_LOG="warn",
    )
    return env


def go_online(base, cookie):
    page = urllib.request.urlopen(urllib.request.Request(base + "/agent/chats", headers={"Cookie": cookie})).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "availability": "online"}).encode()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(urllib.request.Request(base + "/agent/chat/availability", data=form, headers={"Cookie": cookie}))
    except urllib.error.HTTPError as answer:
        if answer.code != 303:
            raise


def bench(backend, two_nodes, arguments, work):
    label = f"{backend}{', two nodes' if two_nodes else ''}"
    data_dir = os.path.join(work, label.replace(", ", "-").replace(" ", "-"))
    os.makedirs(data_dir)
    if backend == "sqlite":
        database_url = f"sqlite:{data_dir}/ferrodesk.db"
    else:
        name = f"ferrodesk_chat_{os.getpid()}_{int(two_nodes)}"
        run(["psql", "-q", arguments.postgres, "-c", f"CREATE DATABASE {name}"], os.environ)
        database_url = arguments.postgres.rsplit("/", 1)[0] + "/" + name
    port = free_port()
    env = node_env(data_dir, database_url, port)
    seeded = run([BINARY, "seed", "--tickets", "2000", "--users", "500", "--agents", "20", "--articles", "5"], env).stdout
    admin = re.search(r" as (\S+) \(or agent1", seeded).group(1)
    first_agent = re.search(r"e\.g\. (\S+)\)", seeded).group(1)
    password = re.search(r'with the password "([^"]+)"', seeded).group(1)
    # The seed's agents 1, 5, 9, … have full access to Support.
    agents = [admin] + [first_agent.replace("agent1.", f"agent{n}.", 1) for n in range(1, 21, 4)]
    support_query = "SELECT id FROM departments WHERE name LIKE 'Support %' ORDER BY id LIMIT 1"
    if backend == "sqlite":
        with sqlite3.connect(database_url.removeprefix("sqlite:")) as database:
            support = database.execute(support_query).fetchone()[0]
    else:
        support = int(run(["psql", "-At", database_url, "-c", support_query], env).stdout.strip())
    put_setting(backend, database_url, "chat", {
        "enabled": True, "department_ids": [support], "wait_seconds": 600, "welcome": "Hello",
        "allowed_origins": [], "chats_per_agent": 20, "round_robin_department_ids": [],
        "ack_seconds": 30, "button_label": "Chat", "button_colour": "#1f5fbf", "retention_days": 0,
    })
    servers = [Server(env, os.path.join(work, f"{label}-a.log"))]
    if two_nodes:
        other_port = free_port()
        servers.append(Server(node_env(data_dir, database_url, other_port), os.path.join(work, f"{label}-b.log")))
    try:
        visitor_node = servers[0]
        agent_node = servers[-1]
        cookies = [staff_session(agent_node.base, email, password) for email in agents]
        for cookie in cookies:
            go_online(agent_node.base, cookie)
        result = asyncio.run(measure(visitor_node, agent_node, cookies, arguments))
        result["label"] = label
        return result
    finally:
        for server in servers:
            server.stop()


async def open_idle(port, origin, count, opened):
    sockets = []
    for start in range(0, count, 200):
        batch = await asyncio.gather(*(Socket.open(port, "/chat/socket", origin) for _ in range(min(200, count - start))))
        sockets.extend(batch)
        opened.extend(batch)
    return sockets


async def drain(socket):
    """Reads (and answers pings on) a socket nobody is listening to."""
    try:
        while await socket.receive() is not None:
            pass
    except (asyncio.IncompleteReadError, ConnectionError):
        pass


async def measure(visitor_node, agent_node, cookies, arguments):
    visitor_port = int(visitor_node.base.rsplit(":", 1)[1])
    agent_port = int(agent_node.base.rsplit(":", 1)[1])
    idle_count = arguments.sockets - arguments.chats
    # Two readings of what idle sockets cost: the first time they open
    # (the allocator and pools grow too: an upper bound), and after as many
    # were opened and closed once (the sockets alone, once the process has
    # its working size).
    rss_cold = visitor_node.rss_kib()
    warm = await open_idle(visitor_port, visitor_node.base, idle_count, [])
    warm_readers = [asyncio.create_task(drain(socket)) for socket in warm]
    await asyncio.sleep(3)
    rss_first_open = visitor_node.rss_kib()
    for task in warm_readers:
        task.cancel()
    for socket in warm:
        socket.close()
    await asyncio.sleep(3)
    rss_before = visitor_node.rss_kib()
    idle = await open_idle(visitor_port, visitor_node.base, idle_count, [])
    readers = [asyncio.create_task(drain(socket)) for socket in idle]
    await asyncio.sleep(3)
    rss_idle = visitor_node.rss_kib()

    agents = []
    for cookie in cookies:
        agent = await Socket.open(agent_port, "/agent/chat/socket", agent_node.base, cookie=cookie)
        await agent.receive_kind("chats")
        agents.append(agent)
    visitors = {}
    for index in range(arguments.chats):
        forwarded = f"10.{index // 250}.{index % 250}.{1 + index % 200}"
        visitor = await Socket.open(visitor_port, "/chat/socket", visitor_node.base, forwarded=forwarded)
        await visitor.send({"type": "start", "name": f"Bench Visitor {index}", "email": f"bench{index}@example.org",
                            "message": f"chat {index} starts"})
        await visitor.receive_kind("chat")
        visitors[index] = visitor
    # Chat i goes to agent i mod n: that agent accepts it when it shows
    # in their queue (every agent of Support sees it).
    chat_of = {}
    holder_of = {}
    for number, agent in enumerate(agents):
        mine = {index for index in range(arguments.chats) if index % len(agents) == number}
        while len(mine - holder_of.keys()) > 0:
            message = await agent.receive()
            if message and message.get("type") == "message" and message["body"].startswith("chat "):
                index = int(message["body"].split()[1])
                if index in mine and index not in holder_of:
                    chat_of[index] = message["chat"]
                    holder_of[index] = agent
                    await agent.send({"type": "accept", "chat": message["chat"]})
    for visitor in visitors.values():
        while (await visitor.receive_kind("state")).get("state") != "active":
            pass

    sent = {}
    arrivals = []

    async def listen(socket, side):
        try:
            while True:
                message = await socket.receive()
                if message is None:
                    return
                body = message.get("body") or ""
                if message.get("type") == "message" and body.startswith("bench "):
                    arrivals.append((side, body, time.monotonic()))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return

    listeners = [asyncio.create_task(listen(agent, "agent")) for agent in agents]
    listeners += [asyncio.create_task(listen(visitor, "visitor")) for visitor in visitors.values()]

    async def writes(index, socket, side, command):
        # Once a second, at this chat's own moment within the second.
        phase = (index / arguments.chats) + (0.5 if side == "visitor" else 0)
        started = time.monotonic() + phase
        number = 0
        while number < arguments.duration:
            await asyncio.sleep(max(0, started + number - time.monotonic()))
            body = f"bench {side[0]} {index} {number}"
            # The other side is where it is measured.
            sent[("visitor" if side == "agent" else "agent", body)] = time.monotonic()
            await socket.send(dict(command, body=body))
            number += 1

    await asyncio.gather(
        *(writes(index, socket, "visitor", {"type": "message"}) for index, socket in visitors.items()),
        *(writes(index, holder_of[index], "agent", {"type": "message", "chat": chat_of[index]}) for index in visitors),
    )
    await asyncio.sleep(2)
    peak = visitor_node.rss_kib("VmHWM")
    for task in listeners + readers:
        task.cancel()
    latencies = {"agent": [], "visitor": []}
    for side, body, at in arrivals:
        started = sent.get((side, body))
        if started is not None:
            latencies[side].append((at - started) * 1000)
    every = latencies["agent"] + latencies["visitor"]
    return {
        "sockets": arguments.sockets,
        "chats": arguments.chats,
        "sent": len(sent),
        "delivered": len(every),
        "median_ms": statistics.median(every) if every else float("nan"),
        "p99_ms": percentile(every, 0.99),
        "max_ms": max(every) if every else float("nan"),
        "to_agent_p99_ms": percentile(latencies["agent"], 0.99),
        "to_visitor_p99_ms": percentile(latencies["visitor"], 0.99),
        "idle_kib_per_socket": (rss_idle - rss_before) / idle_count,
        "first_open_kib_per_socket": (rss_first_open - rss_cold) / idle_count,
        "rss_before_mib": rss_before / 1024,
        "peak_mib": peak / 1024,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=5000, help="visitor sockets open on the node")
    parser.add_argument("--chats", type=int, default=100, help="of them, in chats under way")
    parser.add_argument("--duration", type=int, default=20, help="seconds of messages")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--two-nodes", default="yes", help="also two nodes on PostgreSQL (yes/no)")
    parser.add_argument("--postgres", default=os.environ.get("FERRODESK_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    arguments = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 4 * arguments.sockets + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    runs = [(backend, False) for backend in arguments.backends.split(",")]
    if arguments.two_nodes == "yes" and "postgres" in arguments.backends:
        runs.append(("postgres", True))
    with tempfile.TemporaryDirectory(prefix="ferrodesk-chat-") as work:
        for backend, two_nodes in runs:
            result = bench(backend, two_nodes, arguments, work)
            print(
                f"{result['label']}: {result['sockets']} visitor sockets, {result['chats']} chats: "
                f"{result['delivered']} of {result['sent']} messages delivered, median {result['median_ms']:.1f} ms, "
                f"p99 {result['p99_ms']:.1f} ms (to the agent {result['to_agent_p99_ms']:.1f}, to visitors "
                f"{result['to_visitor_p99_ms']:.1f}), max {result['max_ms']:.1f} ms; "
                f"{result['first_open_kib_per_socket']:.1f} KiB per idle socket the first time they open, "
                f"{result['idle_kib_per_socket']:.1f} KiB once warm; RSS {result['rss_before_mib']:.1f} MiB "
                f"before the idle sockets, peak {result['peak_mib']:.1f} MiB",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
