"""EtherNet/IP benchmarks: fieldgw's tag server beside cpppo's, in one run,
loaded by the same client (`fieldgw enip-client`, release build).

Usage: enip_bench.py RELEASE_DIR CPPPO_PYTHON PEER_DIR   (`make bench` runs it)

Each configuration reads SCADA[0]..SCADA[19] (INT) over and over on one
connection and reports tag operations per second (cpppo's "TPS"):
- one request at a time (bound by the loopback round trip of this machine);
- 8 requests in flight;
- 8 requests in flight, operations packed into Multiple Service Packets of
  up to 500 bytes.
Twice: with `fieldgw enip-client`, and with a small C client
(ENIPPeers/enip_load.c, one Read Tag per request, each reply checked) whose
own cost is next to nothing, so that it measures the server.
Floors: with the same client, 100x cpppo's TPS (pipelined), and 50,000 tag
reads/s with Multiple Service Packets and pipelining.
"""
import json
import re
import subprocess
import sys
import time

import benchlib

OPERATIONS = [f"SCADA[{i}]" for i in range(20)]
CONFIGS = [("one at a time", 1, 0), ("depth 8", 8, 0), ("depth 8, multiple 500", 8, 500)]


def tps(fieldgw, port, depth, multiple, repeat):
    output = subprocess.run([fieldgw, "enip-client", "-a", f"127.0.0.1:{port}", "--depth", str(depth), "--multiple", str(multiple),
                             "--repeat", str(repeat), "--quiet", *OPERATIONS], capture_output=True, text=True, timeout=300)
    found = re.search(r"\((\d+) failed\) in [\d.]+ s: (\d+) TPS", output.stdout)
    if output.returncode != 0 or not found or found.group(1) != "0":
        sys.exit(f"enip-client failed: {output.stdout} {output.stderr}")
    return int(found.group(2))


def c_tps(peer_dir, port, depth, seconds):
    output = subprocess.run([f"{peer_dir}/enip_load", str(port), str(depth), str(seconds)], capture_output=True, text=True, timeout=120)
    if output.returncode != 0:
        sys.exit(f"enip_load failed: {output.stdout} {output.stderr}")
    return int(json.loads(output.stdout)["tps"])


C_CONFIGS = [("C client, one at a time", 1), ("C client, depth 8", 8)]


def ours(release_dir):
    server = subprocess.Popen([f"{release_dir}/fieldgw", "enip-server", "-a", "127.0.0.1:0", "SCADA=INT[1000]"],
                              stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline().strip().rsplit(":", 1)[-1])
    return server, port


def cpppo(python):
    port = benchlib.free_port()
    server = subprocess.Popen([python, "-m", "cpppo.server.enip", "-a", f"127.0.0.1:{port}", "SCADA=INT[1000]"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return benchlib.listening(server, port, "cpppo's server", seconds=30)


def main():
    release_dir, cpppo_python, peer_dir = sys.argv[1:4]
    fieldgw = f"{release_dir}/fieldgw"
    figures = {}
    for name, start, repeats in (("fieldgw", lambda: ours(release_dir), (1000, 5000, 20000)),
                                 ("cpppo", lambda: cpppo(cpppo_python), (20, 50, 100))):
        server, port = start()
        try:
            for (config, depth, multiple), repeat in zip(CONFIGS, repeats):
                runs = 2 if name == "fieldgw" else 1
                figures[(name, config)] = max(tps(fieldgw, port, depth, multiple, repeat) for _ in range(runs))
            for config, depth in C_CONFIGS:
                figures[(name, config)] = c_tps(peer_dir, port, depth, 2 if name == "fieldgw" else 3)
        finally:
            server.kill()
            server.wait()
    print("EtherNet/IP tag server, reads of one INT, tag operations/s on one connection (same client)")
    missed = []
    for config, depth in [(c, d) for c, d, _ in CONFIGS] + C_CONFIGS:
        mine, theirs = figures[("fieldgw", config)], figures[("cpppo", config)]
        print(f"  {config:26} fieldgw {mine:>9,}   cpppo {theirs:>6,}   ({mine / theirs:.0f}x)")
        if depth > 1 and mine < 100 * theirs:
            missed.append(f"{config}: under 100x cpppo")
    if figures[("fieldgw", CONFIGS[2][0])] < 50_000:
        missed.append("under 50,000 tag reads/s with Multiple Service Packets and pipelining")
    for floor in missed:
        print("FLOOR MISSED:", floor)
    sys.exit(1 if missed else 0)


main()
