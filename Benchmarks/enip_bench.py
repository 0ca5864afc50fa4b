"""EtherNet/IP benchmarks: fieldgw's tag server beside cpppo's, in one run,
loaded by the same client (`fieldgw enip-client`, release build).

Usage: enip_bench.py RELEASE_DIR CPPPO_PYTHON PEER_DIR AB_SERVER   (`make bench` runs it)

Each configuration reads SCADA[0]..SCADA[19] (INT) over and over on one
connection and reports tag operations per second (cpppo's "TPS"):
- one request at a time (bound by the loopback round trip of this machine);
- 8 requests in flight;
- 8 requests in flight, operations packed into Multiple Service Packets of
  up to 500 bytes.
Twice: with `fieldgw enip-client`, and with a small C client
(ENIPPeers/enip_load.c, one Read Tag per request, each reply checked) whose
own cost is next to nothing, so that it measures the server.
Floors, on fieldgw's median of three rounds: with the same client, 100x
cpppo's TPS (pipelined), and 50,000 tag reads/s with Multiple Service
Packets and pipelining.

Then the C anchor: libplctag's ab_server (the AB_SERVER executable, which
`make bench` builds), the fastest public Logix simulator we know, which answers
one request at a time. The C client, one Read Tag at a time with zero sender
contexts (ab_server echoes none), against it and against fieldgw,
alternated over five rounds; our pipelined figure (depth 8) printed beside,
and each server's CPU (user + system) per request over its rounds: ours
looks for the next request for up to 100 µs after each before it sleeps
(busy polling), ab_server blocks in recv.
Floor: fieldgw's median at least ab_server's.
"""
import json
import re
import statistics
import subprocess
import sys

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


def c_tps(peer_dir, port, depth, seconds, zero=False):
    output = subprocess.run([f"{peer_dir}/enip_load", str(port), str(depth), str(seconds)] + (["zero"] if zero else []),
                            capture_output=True, text=True, timeout=120)
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


AB_ROUNDS = 5


def ab_server(executable):
    port = benchlib.free_port()
    server = subprocess.Popen([executable, "--plc=ControlLogix", "--path=1,0", f"--port={port}", "--tag=SCADA:INT[1000]"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return benchlib.listening(server, port, "ab_server")


def measured(cpu, server, peer_dir, port):
    """One 2 s round of the C client against `server`; its CPU is added to cpu[pid]."""
    before = benchlib.cpu_seconds(server.pid)
    figure = c_tps(peer_dir, port, 1, 2, zero=True)
    cpu[server.pid] += benchlib.cpu_seconds(server.pid) - before
    return figure


def ab_server_bench(release_dir, peer_dir, executable):
    """One Read Tag at a time from the C client, fieldgw and ab_server alternated round by round."""
    (mine, my_port), (theirs, their_port) = ours(release_dir), ab_server(executable)
    rounds, cpu = [], {mine.pid: 0.0, theirs.pid: 0.0}
    try:
        for _ in range(AB_ROUNDS):
            rounds.append((measured(cpu, mine, peer_dir, my_port), measured(cpu, theirs, peer_dir, their_port)))
        pipelined = c_tps(peer_dir, my_port, 8, 2)
    finally:
        for server in (mine, theirs):
            server.kill()
            server.wait()
    ours_tps, abs_tps = [r[0] for r in rounds], [r[1] for r in rounds]
    # Each round lasts 2 s: requests = TPS x 2.
    ours_us, abs_us = (1e6 * cpu[pid] / (2 * sum(figures)) for pid, figures in ((mine.pid, ours_tps), (theirs.pid, abs_tps)))
    print(f"EtherNet/IP against libplctag's ab_server (C), C client, one Read Tag at a time, {AB_ROUNDS} alternated rounds of 2 s")
    print(f"  fieldgw   median {statistics.median(ours_tps):>7,.0f} TPS ({min(ours_tps):,}-{max(ours_tps):,})  {ours_us:5.1f} µs CPU/request"
          f"   pipelined, depth 8: {pipelined:,} TPS (ab_server cannot pipeline)")
    print(f"  ab_server median {statistics.median(abs_tps):>7,.0f} TPS ({min(abs_tps):,}-{max(abs_tps):,})  {abs_us:5.1f} µs CPU/request"
          f"   ratio of medians {statistics.median(ours_tps) / statistics.median(abs_tps):.2f}x")
    if statistics.median(ours_tps) < statistics.median(abs_tps):
        return ["one Read Tag at a time: median below ab_server's"]
    return []


def main():
    release_dir, cpppo_python, peer_dir, ab_server_executable = sys.argv[1:5]
    fieldgw = f"{release_dir}/fieldgw"
    figures = {}
    for name, start, repeats in (("fieldgw", lambda: ours(release_dir), (1000, 5000, 20000)),
                                 ("cpppo", lambda: cpppo(cpppo_python), (20, 50, 100))):
        server, port = start()
        try:
            for (config, depth, multiple), repeat in zip(CONFIGS, repeats):
                # cpppo is slow and steady: one round; ours: the median of three.
                runs = 3 if name == "fieldgw" else 1
                figures[(name, config)] = [tps(fieldgw, port, depth, multiple, repeat) for _ in range(runs)]
            for config, depth in C_CONFIGS:
                figures[(name, config)] = [c_tps(peer_dir, port, depth, 2 if name == "fieldgw" else 3) for _ in range(3 if name == "fieldgw" else 1)]
        finally:
            server.kill()
            server.wait()
    print("EtherNet/IP tag server, reads of one INT, tag operations/s on one connection (same client): fieldgw median (range) of 3")
    missed = []
    for config, depth in [(c, d) for c, d, _ in CONFIGS] + C_CONFIGS:
        mine, theirs = statistics.median(figures[("fieldgw", config)]), statistics.median(figures[("cpppo", config)])
        print(f"  {config:26} fieldgw {benchlib.spread(figures[('fieldgw', config)], '{:,.0f}'):>28}   cpppo {theirs:>6,.0f}   ({mine / theirs:.0f}x)")
        if depth > 1 and mine < 100 * theirs:
            missed.append(f"{config}: median under 100x cpppo")
    if statistics.median(figures[("fieldgw", CONFIGS[2][0])]) < 50_000:
        missed.append("under 50,000 tag reads/s with Multiple Service Packets and pipelining")
    missed += ab_server_bench(release_dir, peer_dir, ab_server_executable)
    for floor in missed:
        print("FLOOR MISSED:", floor)
    sys.exit(1 if missed else 0)


main()
