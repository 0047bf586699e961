#!/usr/bin/env python3
"""A TCP relay that holds what the upstream sends back to RATE bytes per second and drops
each connection after DROP bytes (a weak mobile link), for benches/fleet.sh.

Usage: relay.py LISTEN_PORT UPSTREAM_HOST:PORT RATE [DROP]
Prints the bytes relayed and connections to stderr when it ends (SIGTERM)."""
import signal
import socket
import sys
import threading
import time

listen_port, upstream, rate = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
drop = int(sys.argv[4]) if len(sys.argv) > 4 else 0
host, port = upstream.rsplit(":", 1)
relayed = 0
connections = 0
lock = threading.Lock()
# One bucket for all connections: the link, not each connection, has the rate.
bucket_start = time.monotonic()


def pipe_up(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def pipe_down(src, dst):
    global relayed
    sent = 0
    try:
        while True:
            data = src.recv(4096)
            if not data:
                break
            dst.sendall(data)
            sent += len(data)
            with lock:
                relayed += len(data)
                due = bucket_start + relayed / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if drop and sent >= drop:
                break
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def report(*_):
    print(f"relayed {relayed} bytes over {connections} connections", file=sys.stderr)
    sys.exit(0)


signal.signal(signal.SIGTERM, report)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", listen_port))
server.listen(64)
while True:
    client, _ = server.accept()
    connections += 1
    up = socket.create_connection((host, int(port)))
    threading.Thread(target=pipe_up, args=(client, up), daemon=True).start()
    threading.Thread(target=pipe_down, args=(up, client), daemon=True).start()
