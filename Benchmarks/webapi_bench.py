#!/usr/bin/env python3
"""The simulators' web API against cpppo's (python -m cpppo.server.enip --web),
side by side in one run: the same curl-style requests (cpppo's README lines:
the whole api, a tag element set and read, a tag's error set, the delay set)
from 4 client processes, each on one kept-alive connection, for a few
seconds against each server. Prints requests per second and the ratio. The
clients are Python: against fieldgw they, not the server, are the limit on
this 2-core machine, so the ratio understates it (the server's CPU share is
printed too). No floor is set for this figure."""
import http.client, multiprocessing, os, socket, subprocess, sys, time

import benchlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPPPO = os.path.join(ROOT, ".build/venv-cpppo/bin/python")
FIELDGW = os.path.join(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/release"), "fieldgw")
SECONDS = float(os.environ.get("WEBAPI_SECONDS", "4"))
PATHS = ["/api", "/api/tags/SCADA/attribute[3]=4", "/api/tags/SCADA/attribute[3]", "/api/tags/SCADA/error=0",
         "/api/options/delay/value=0", "/api/server/control"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, deadline=30):
    end = time.time() + deadline
    while time.time() < end:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"no web API on {port}")


def client(port, until, counts):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    done = 0
    while time.time() < until:
        for path in PATHS:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"{path}: {response.status}")
            done += 1
    counts.put(done)


def measure(name, command, port):
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port)
        counts = multiprocessing.Queue()
        before, start = benchlib.cpu_seconds(process.pid), time.time()
        workers = [multiprocessing.Process(target=client, args=(port, start + SECONDS, counts)) for _ in range(4)]
        for worker in workers:
            worker.start()
        total = sum(counts.get() for _ in workers)
        for worker in workers:
            worker.join()
        elapsed = time.time() - start
        busy = (benchlib.cpu_seconds(process.pid) - before) / elapsed
        print(f"  {name}: {total / elapsed:,.0f} req/s (server busy {busy:.0%} of a core)")
        return total / elapsed
    finally:
        process.terminate()
        process.wait()


def main():
    enip, web = free_port(), free_port()
    theirs = measure("cpppo --web (web.py)", [CPPPO, "-W", "ignore", "-m", "cpppo.server.enip", "-a", f"127.0.0.1:{enip}",
                                               "--web", f"127.0.0.1:{web}", "SCADA=INT[1000]"], web)
    enip, web = free_port(), free_port()
    ours = measure("fieldgw enip-server --web", [FIELDGW, "enip-server", "-a", f"127.0.0.1:{enip}", "--web", f"127.0.0.1:{web}",
                                                  "SCADA=INT[1000]"], web)
    print(f"web API, cpppo's README requests, 4 keep-alive clients: fieldgw {ours:,.0f} req/s, cpppo {theirs:,.0f} req/s "
          f"({ours / theirs:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
