#!/usr/bin/env python3
"""Time to block across a live fleet, for docs/BENCHMARKS.md.

On this machine: s3s-fs as the chain's store (behind a proxy that counts requests and
bytes), nats-server for push notices, `cisgate ingest` as the head office's builder, and
NODES store nodes (SERVE of them `serve --pull-from`, the rest `pull --watch`), every one
polling every INTERVAL seconds (with jitter) and listening for notices.

Three deltas of BANS new bans each land in the builder's inbox by rename at t0:
  1. with push (NATS up);
  2. without push (NATS stopped: the nodes poll);
  3. with push again, after NATS is back.
For every node, the time from t0 until its index answers `blocked` for the new bans is
read from the moment it switched (its PULLED record, written right after the switch), and
checked: afterwards every node's index is opened and must answer blocked for every ban,
and the `serve` nodes are asked through outCheck as a till would (their time is also
measured that way, by polling outCheck every 20 ms). Reported: p50, p99 and max per run,
the bytes each node moved for the delta, and the idle cost per node (requests and bytes
per minute while nothing changes, counted at the proxy).

Usage: benches/live_fleet.py [--nodes 100] [--serve 10] [--interval 10] [--codes 1000000]
       [--bans 1000] [--work DIR]
Needs s3s-fs and nats-server (.ci/tools installs both) and a release build (made here).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cisgate")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, limit=30):
    end = time.time() + limit
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


class CountingProxy:
    """Passes HTTP/1.1 to the store, counting requests (client side) and bytes (both)."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.requests = 0
        self.bytes_down = 0
        self.bytes_up = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.sock.accept()
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self.pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self.pipe, args=(server, client, False), daemon=True).start()

    def pipe(self, src, dst, up):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    if up:
                        self.bytes_up += len(data)
                        self.requests += sum(
                            data.count(m) for m in (b"GET /", b"PUT /", b"HEAD /", b"POST /", b"DELETE /")
                        )
                    else:
                        self.bytes_down += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def snapshot(self):
        with self.lock:
            return self.requests, self.bytes_down, self.bytes_up


def percentile(values, q):
    values = sorted(values)
    k = max(1, min(len(values), int(-(-len(values) * q // 1))))
    return values[k - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--serve", type=int, default=10)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--codes", type=int, default=1_000_000)
    ap.add_argument("--bans", type=int, default=1000)
    ap.add_argument("--idle", type=float, default=60.0, help="seconds of idle measurement")
    ap.add_argument("--work")
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    work = args.work or tempfile.mkdtemp(prefix="live-fleet-")
    os.makedirs(os.path.join(work, "s3", "fleet"), exist_ok=True)
    procs = []

    def spawn(cmd, **kw):
        p = subprocess.Popen(cmd, **kw)
        procs.append(p)
        return p

    def cleanup(*_):
        for p in procs:
            try:
                p.kill()
            except OSError:
                pass
        sys.exit(1)

    signal.signal(signal.SIGINT, cleanup)
    s3s = shutil.which("s3s-fs") or os.path.expanduser("~/.cargo/bin/s3s-fs")
    nats_bin = shutil.which("nats-server") or "/usr/sbin/nats-server"
    s3_port, nats_port = free_port(), free_port()
    spawn([s3s, "--host", "127.0.0.1", "--port", str(s3_port), "--access-key", "bench",
           "--secret-key", "bench-secret", os.path.join(work, "s3")],
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(s3_port)
    proxy = CountingProxy(s3_port)
    nats_cmd = [nats_bin, "-a", "127.0.0.1", "-p", str(nats_port)]
    nats = spawn(nats_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(nats_port)
    nats_url = f"nats://127.0.0.1:{nats_port}"
    env = dict(os.environ, AWS_ENDPOINT_URL=f"http://127.0.0.1:{proxy.port}",
               AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench-secret",
               AWS_REGION="us-east-1")

    def cisgate(*a, **kw):
        return subprocess.run([BIN, *a], env=env, check=True, capture_output=True, text=True, **kw)

    p = lambda *x: os.path.join(work, *x)
    cisgate("keygen", "--secret-key", p("pub.key"), "--public-key", p("pub.pub"))
    cisgate("gen", "--out", p("lists"), "--codes", str(args.codes), "--gtins",
            str(max(500, args.codes // 500)), "--seed", "7")
    inbox = p("inbox")
    os.makedirs(inbox, exist_ok=True)
    ingest_log = open(p("ingest.log"), "w")
    spawn([BIN, "ingest", "--inbox", inbox, "--index", p("builder"), "--to", "s3://fleet/chain",
           "--secret-key", p("pub.key"), "--nats", nats_url], env=env,
          stdout=ingest_log, stderr=subprocess.STDOUT)
    shutil.copytree(p("lists"), os.path.join(inbox, ".snapshot"))
    os.rename(os.path.join(inbox, ".snapshot"), os.path.join(inbox, "snapshot"))
    deadline = time.time() + 300
    while "published" not in open(p("ingest.log")).read():
        if time.time() > deadline:
            sys.exit("the snapshot was not published")
        time.sleep(0.1)
    print(f"work: {work}; {args.codes} codes; snapshot published", flush=True)

    nodes, ports = [], {}
    for i in range(args.nodes):
        name = f"store-{i:03d}"
        log = open(p(f"{name}.log"), "w")
        common = ["--index", p(name), "--public-key", p("pub.pub"), "--node", name,
                  "--nats", nats_url]
        if i < args.serve:
            port = free_port()
            ports[name] = port
            cmd = [BIN, "serve", "--listen", f"127.0.0.1:{port}", "--pull-from", "s3://fleet/chain",
                   "--pull-every", str(args.interval), *common]
        else:
            cmd = [BIN, "pull", "--from", "s3://fleet/chain", "--watch", str(args.interval), *common]
        spawn(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        nodes.append(name)
    deadline = time.time() + 600
    while not all(os.path.exists(p(n, "CURRENT")) for n in nodes):
        if time.time() > deadline:
            sys.exit("not every node pulled the base")
        time.sleep(0.5)
    for port in ports.values():
        wait_port(port)
    print(f"{args.nodes} nodes ({args.serve} serve) hold the base", flush=True)
    time.sleep(3)

    # Idle cost: nothing changes; count what the nodes ask.
    r0, d0, u0 = proxy.snapshot()
    time.sleep(args.idle)
    r1, d1, u1 = proxy.snapshot()
    minutes = args.idle / 60
    idle = {
        "requests_per_node_minute": (r1 - r0) / args.nodes / minutes,
        "bytes_down_per_node_minute": (d1 - d0) / args.nodes / minutes,
        "bytes_up_per_node_minute": (u1 - u0) / args.nodes / minutes,
    }
    print(f"idle: {idle}", flush=True)

    def pulled_state(node):
        try:
            return json.load(open(p(node, "PULLED")))
        except (OSError, ValueError):
            return {}

    def outcheck(port, ki):
        body = json.dumps({"cis_list": [{"cis": ki}]}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v2/cis/outCheck", data=body,
                                     headers={"Content-Type": "application/json"})
        try:
            return b'"isBlocked":true' in urllib.request.urlopen(req, timeout=2).read()
        except OSError:
            return False

    runs = []

    def run(label, k, parent, version):
        delta = p(f"delta-{k}.list")
        cisgate("gen-delta", "--lists", p("lists"), "--out", delta, "--parent", parent,
                "--version", version, "--sequence", str(k), "--adds", str(args.bans),
                "--removes", "0")
        bans = [l[1:].strip() for l in open(delta) if l.startswith("+")]
        shutil.copy(delta, os.path.join(inbox, f".d{k}"))
        before = {n: pulled_state(n).get("sequence") for n in nodes}
        t0 = time.time()
        os.rename(os.path.join(inbox, f".d{k}"), os.path.join(inbox, f"d{k}.list"))
        t0_ms = int(t0 * 1000)
        via_serve = {}
        limit = t0 + args.interval * 3 + 30
        while time.time() < limit:
            for name, port in ports.items():
                if name not in via_serve and outcheck(port, bans[0]):
                    via_serve[name] = time.time() - t0
            switched = [n for n in nodes if pulled_state(n).get("version") == version]
            if len(switched) == len(nodes) and len(via_serve) == len(ports):
                break
            time.sleep(0.02)
        times, missing = [], []
        for n in nodes:
            st = pulled_state(n)
            if st.get("version") == version and st.get("switched_ms"):
                times.append((st["switched_ms"] - t0_ms) / 1000)
            else:
                missing.append(n)
        # Every node's index answers blocked for every ban.
        wrong = 0
        for n in nodes:
            out = subprocess.run([BIN, "check", "--index", p(n), "--output", "tsv",
                                  "--ignore-freshness", "--no-verify"], input="\n".join(bans),
                                 capture_output=True, text=True)
            wrong += sum(1 for l in out.stdout.splitlines() if not l.startswith("blocked"))
        moved = []
        for n in nodes:
            text = open(p(f"{n}.log")).read()
            for line in reversed(text.splitlines()):
                if f"pulled version {version}" in line:
                    moved.append(int(line.split("(")[2].split(" bytes")[0]))
                    break
                if f'"version":"{version}"' in line and '"bytes"' in line:
                    moved.append(json.loads(line)["bytes"])
                    break
        result = {
            "run": label,
            "nodes": len(nodes),
            "switched": len(times),
            "missing": missing[:5],
            "p50_s": percentile(times, 0.5) if times else None,
            "p99_s": percentile(times, 0.99) if times else None,
            "max_s": max(times) if times else None,
            "serve_outcheck_p50_s": statistics.median(via_serve.values()) if via_serve else None,
            "serve_outcheck_max_s": max(via_serve.values()) if via_serve else None,
            "wrong_answers": wrong,
            "bytes_per_node_mean": statistics.mean(moved) if moved else None,
        }
        print(json.dumps(result), flush=True)
        runs.append(result)

    run("push", 0, "synthetic-1", "synthetic-2")
    nats.kill()
    nats.wait()
    time.sleep(1)
    run("poll (NATS down)", 1, "synthetic-2", "synthetic-3")
    nats = spawn(nats_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(nats_port)
    time.sleep(8)  # the clients reconnect with backoff
    run("push (NATS back)", 2, "synthetic-3", "synthetic-4")

    print(json.dumps({"interval_s": args.interval, "idle": idle, "runs": runs}, indent=2))
    for proc in procs:
        proc.kill()


if __name__ == "__main__":
    main()
