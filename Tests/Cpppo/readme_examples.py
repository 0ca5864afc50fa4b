#!/usr/bin/env python3
"""Every command-line example of cpppo's README, run against cpppo 5.2.5 and fieldgw.

Both editions of the README are read (cpppo-README-2015.org, the original, in
which the one-line examples survive, and cpppo-README-2015.txt, its rendering):
each command line found must belong to a scenario below or to the short list
of those that cannot run here (SKIPPED, with the reason). Each scenario runs
the README's lines as written, in a network namespace of its own (so the
servers take the README's own ports, 44818, :12345 and :1502), with only the
program named differently: cpppo's (the 2015 module names `getattr` and `io`
are `get_attribute` and `io_example` in cpppo 5.2.5) or fieldgw's. A server
and its clients run in every pairing: cpppo with cpppo (the reference), then
each pairing with fieldgw on either side, or both; what they print, their exit
statuses and the values they see are compared with the reference. A difference
is a failure unless KNOWN lists it with its reason (docs/cpppo.md lists them
too); a KNOWN difference that no longer shows is reported, so that the list
stays true.
"""

import argparse
import concurrent.futures
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
READMES = [HERE / "cpppo-README-2015.org", HERE / "cpppo-README-2015.txt"]
TIMEOUT = 120

# Lines that look like commands: what a shell prompt or an org-mode ": " shows.
COMMAND = re.compile(r"^\s*(?::\s+)?(?:\$\s+)?((?:sudo |python -m |python$|enip_\w+ |modbus_sim |curl |wget |docker |vagrant |git clone |ssh |tail |pip |make |cd ).*)$")

# What cannot run here, and why.
SKIPPED = [
    (r"^(sudo )?pip install", "installs cpppo or pymodbus from the network (make test installs cpppo 5.2.5 and pymodbus 3.8.1 into venvs)"),
    (r"^git clone", "fetches sources from the network"),
    (r"^cd ", "moves into a source tree fetched from the network"),
    (r"^python setup\.py", "installs a source tree fetched from the network"),
    (r"^python$", "an interactive Python session (the README's decoding of @1/1/7's bytes)"),
    (r"^tail -f", "follows a history file forever (the historize scenario reads the file instead)"),
    (r"^ssh ", "logs in to another host: the thruput scenario's server runs here"),
    (r"^docker ", "Docker is not on this machine: the scenario 'docker' runs the command the image runs"),
    (r"^(make|vagrant) ", "Vagrant virtual machines"),
    (r"\\text|\\ ", "the .txt's PDF rendering broke the line; the .org's line is run"),
]

# cpppo 5.2.5 cannot run some README lines as written on Linux; the reference
# runs them with these changes (and each scenario checks that the line as
# written still fails with cpppo, so that the list stays true). fieldgw runs
# every line as written.
CPPPO_FIXES = [
    (r"^((?:python -m cpppo\.server\.enip\.(?:client|get_attribute))|enip_client) ", r"\1 -a localhost ",
     "cpppo's client connects to '' when no --address is given, which getaddrinfo refuses on Linux "
     "(the README's advice for Windows, --address localhost, is needed)"),
    (r"--web :", "--web localhost:",
     "cpppo's --web :PORT asks its web server (cheroot) for host '', which it refuses: 'Host values of '' or None are not allowed'"),
    (r"modbus_sim -a :", "modbus_sim -a localhost:",
     "cpppo's modbus_sim -a :PORT asks pymodbus 3.8 for host '', which does not serve"),
]

CPPPO_NAMES = {"cpppo.server.enip.getattr": "cpppo.server.enip.get_attribute",
               "cpppo.server.enip.io": "cpppo.server.enip.io_example"}

# The scenarios: a server (the README's line) and the lines used with it.
# "clients" are compared by stdout and exit status; "+p" adds -p to a client
# line that prints nothing without it, to compare the values it sees.
SCENARIOS = {
    "simulator": {
        "server": "python -m cpppo.server.enip --print SCADA=INT[1000]",
        "port": 44818,
        "clients": ["python -m cpppo.server.enip.client SCADA[1]=99 SCADA[0-10]",
                    "+p python -m cpppo.server.enip.client SCADA[1]=99 SCADA[0-10]",
                    # The client options' examples ("eg. ..."), with -p.
                    "+p python -m cpppo.server.enip.client SCADA SCADA[1] SCADA[1-10]",
                    "+p python -m cpppo.server.enip.client SCADA=1",
                    "+p python -m cpppo.server.enip.client 'SCADA[1-3]=(DINT)4,5,6'",
                    "+p python -m cpppo.server.enip.client 'TAG[4-6]=(INT)1,2,3'",
                    "+p python -m cpppo.server.enip.client SCADA[4-5]=9.9,10",
                    "+p python -m cpppo.server.enip.client @0x1FF/01/0x1A",
                    "+p python -m cpppo.server.enip.client @511/01/26=1",
                    "+p python -m cpppo.server.enip.client @0b10/0o1/0x1 @2/1/1[2-3]",
                    "python -m cpppo.server.enip.getattr --depth 3 -v  '@1/1'  '@1/1/7'"],
        "compare_server": True,
    },
    "wrappers": {
        "server": "enip_server --print SCADA=INT[1000]",
        "port": 44818,
        "clients": ["enip_client SCADA[1]=99 SCADA[0-10]", "+p enip_client SCADA[1]=99 SCADA[0-10]"],
        "compare_server": True,
    },
    "historize": {
        "server": "python -m cpppo.server.enip.historize some_file.hst Tag_Name=INT[1000]",
        "port": 44818,
        "clients": ["python -m cpppo.server.enip.client Tag_Name[0-3]=[0,1,2,3]",
                    "+p python -m cpppo.server.enip.client Tag_Name[0-3]"],
        "history": "some_file.hst",
    },
    "io": {
        "server": "python -m cpppo.server.enip Tag=DINT[10]",
        "port": 44818,
        "clients": ["python -m cpppo.server.enip.io"],
    },
    "thruput": {
        "server": "python -m cpppo.server.enip --print -v Volume=REAL Temperature=REAL",
        "port": 44818,
        "clients": ['python -m cpppo.server.enip.thruput -a <hostname> "Volume" "Temperature" --repeat 25',
                    'python -m cpppo.server.enip.thruput -a <hostname> "Volume" "Temperature" --repeat 25 --depth 20',
                    'python -m cpppo.server.enip.thruput -a <hostname> "Volume" "Temperature" --repeat 25 --depth 20 --multiple 250'],
        "values": True,
        "compare_server": True,
    },
    "docker": {
        "server": "python -m cpppo.server.enip SCADA=dint[1000]",
        "port": 44818,
        "clients": ["python -m cpppo.server.enip.client -r 10 SCADA[1] SCADA[0-10]",
                    "+p python -m cpppo.server.enip.client -r 10 SCADA[1] SCADA[0-10]"],
    },
    "web": {
        "server": "python -m cpppo.server.enip -v --web :12345 SCADA=INT[1000]",
        "port": 12345,
        "clients": ["curl http://localhost:12345/api",
                    "wget -qO - http://localhost:12345/api",
                    "curl http://localhost:12345/api/options/delay/value/0.5",
                    "curl http://localhost:12345/api/options/delay/value=0.5",
                    "curl http://localhost:12345/api/options/delay/range=0.5-1.5",
                    "curl http://localhost:12345/api/options/delay/value=10.0",
                    "curl http://localhost:12345/api/options/delay/range=10.0-10.0",
                    "curl http://localhost:12345/api/tags/SCADA/error=8",
                    "curl http://localhost:12345/api/tags/SCADA/error/0",
                    "wget -qO -  http://localhost:12345/api/tags/SCADA/attribute[3]=4",
                    "wget -qO -  http://localhost:12345/api/tags/SCADA/attribute[3]",
                    "curl http://localhost:12345/api/connections/*/eof/true",
                    "curl http://localhost:12345/api/connections/10_0_111_121_60592/eof/true",
                    "curl http://localhost:12345/api/connections"],
        "json": True,
        "same_client": True,
    },
    # The server controls, in the README's order, with a server of their own.
    "web-control": {
        "server": "python -m cpppo.server.enip -v --web :12345 SCADA=INT[1000]",
        "port": 12345,
        "clients": ["curl http://localhost:12345/api/server/control/disable/true",
                    "curl http://localhost:12345/api/server/control/disable/false",
                    "curl http://localhost:12345/api/server/control/done/true"],
        "json": True,
        "same_client": True,
        # As a person types them, a second or more apart.
        "pause": 1,
    },
    "modbus": {
        "server": "modbus_sim -a :1502 40001-40100=99",
        "port": 1502,
        "clients": ["poller"],
        "same_client": True,
        "compare_server": True,
    },
}

# Lines the README shows that the scenarios run in another form, and why.
ALSO_RUN = {
    "wget -q0 - http://localhost:12345/api": "the .txt's rendering of 'curl http://localhost:12345/api' (-q0 is -qO misread)",
    "wget -q0 - http://localhost:12345/api/tags/SCADA/attribute[3]=4": "the .txt's rendering of the .org's wget -qO - line",
    "wget -q0 - http://localhost:12345/api/tags/SCADA/attribute[3]": "the .txt's rendering of the .org's wget -qO - line",
    'python -m cpppo.server.enip.thruput -a <hostname> "Volume" "Temperature" \\': "joined with its next line, --repeat 25",
    "python -m cpppo.server.enip.thruput -a <hostname> \"Volume\" \"Temperature\"": "joined with its next line, --repeat 25",
    "docker run -p 44818:44818 -d cpppo/cpppo python -m cpppo.server.enip SCADA=dint[1000]": "the scenario 'docker' runs the command in the image",
}

# The README's modbus_sim comment: ('fake', host="localhost", port=1502, rate=.5), polled, written, read back.
POLLER = """
import time
from cpppo.remote import plc_modbus
p = plc_modbus.poller_modbus( 'fake', host="localhost", port=1502, rate=.5 )
p.poll( 40001 )
reg = None
for _ in range( 100 ):
    reg = p.read( 40001 )
    if reg is not None: break
    time.sleep( .1 )
print( "read", reg )
p.write( 40001, 123 )
for _ in range( 100 ):
    reg = p.read( 40001 )
    if reg == 123: break
    time.sleep( .1 )
print( "read after write", reg )
"""

# The io example's program (cpppo/server/enip/io_example.py) is the client's
# process() with printing: fieldgw runs its operations with enip-client -p.
IO_OPERATIONS = "-t 1.0 -p 'Tag[0-9]+16=(DINT)4,5,6,7,8,9' '@0x2/1/1' 'Tag[3-5]'"

# Differences that remain, by (scenario, line, pairing), with the reason.
KNOWN = {
    ("simulator", "+p python -m cpppo.server.enip.client 'TAG[4-6]=(INT)1,2,3'"):
        "cpppo's server answers a tag or object it does not have with EtherNet/IP encapsulation status 0x08 (unsupported command) "
        "for the whole request, and its client then raises and prints nothing (exit 1); fieldgw's answers CIP status 0x05 (path "
        "destination unknown) for that operation, as a Logix controller does, and cpppo's client prints 'Status 5 ' (exiting 0 "
        "after a failed write with -p, as it does)",
    ("simulator", "+p python -m cpppo.server.enip.client @0x1FF/01/0x1A"):
        "cpppo's server answers a tag or object it does not have with EtherNet/IP encapsulation status 0x08 (unsupported command) "
        "for the whole request, and its client then raises and prints nothing (exit 1); fieldgw's answers CIP status 0x05 (path "
        "destination unknown) for that operation, as a Logix controller does, and cpppo's client prints 'Status 5 ' (exiting 0 "
        "after a failed write with -p, as it does)",
    ("simulator", "+p python -m cpppo.server.enip.client @511/01/26=1"):
        "cpppo's server answers a tag or object it does not have with EtherNet/IP encapsulation status 0x08 (unsupported command) "
        "for the whole request, and its client then raises and prints nothing (exit 1); fieldgw's answers CIP status 0x05 (path "
        "destination unknown) for that operation, as a Logix controller does, and cpppo's client prints 'Status 5 ' (exiting 0 "
        "after a failed write with -p, as it does)",
    ("simulator", "python -m cpppo.server.enip.getattr --depth 3 -v  '@1/1'  '@1/1/7'"):
        "the Identity's values: fieldgw's is a running 1756-L61 (state 3, operational, which pylogix reads; status 0x3060; "
        "serial 0x00C0FFEE), cpppo's has state 255, status 0x3160, serial 0x006C1A06; the 39-byte layout and the name agree",
    ("historize", "python -m cpppo.server.enip.client Tag_Name[0-3]=[0,1,2,3]"):
        "cpppo 5.2.5's client no longer reads the bracketed list its README shows ('[0': invalid literal for int()); fieldgw writes it",
    ("historize", "+p python -m cpppo.server.enip.client Tag_Name[0-3]"):
        "what the README's write left: cpppo's refused it (above), fieldgw's wrote 0, 1, 2, 3",
    ("historize", "(the history file's records)"):
        "cpppo 5.2.5 on Python 3 asks for a line-buffered binary file, which Python refuses (a RuntimeWarning): its records stay "
        "in a buffer (the README's tail -f shows none) and are lost when the server is killed; fieldgw writes each record as it happens",
    ("web-control", "curl http://localhost:12345/api/server/control/done/true"):
        "cpppo's server, re-enabled after disable/true, cannot bind its UDP port again ('Address already in use') and exits, "
        "so the next line finds no web server; fieldgw's serves on and stops when told done",
    ("modbus", "(the server's printed lines)"):
        "the reference binds localhost (cpppo cannot serve -a :1502, above); fieldgw, given :1502, serves every interface and "
        "prints 0.0.0.0:1502, the socket's name, as cpppo prints it",
}


def extract():
    """Every command line in both READMEs: (file name, line number, command)."""
    found = []
    for path in READMES:
        lines = path.read_text(errors="replace").splitlines()
        for number, line in enumerate(lines, 1):
            match = COMMAND.match(line)
            if match:
                found.append((path.name, number, " ".join(match.group(1).split())))
    return found


def normal(command):
    return " ".join(command.replace("+p ", "", 1).split())


def covered(command):
    """Why a README command is accounted for, or None."""
    for pattern, reason in SKIPPED:
        if re.search(pattern, command):
            return "skipped: " + reason
    for name, scenario in SCENARIOS.items():
        if normal(scenario["server"]) == command or command in (normal(c) for c in scenario["clients"]):
            return "run: " + name
    for line, reason in ALSO_RUN.items():
        if normal(line) == command:
            return "run: " + reason
    if re.match(r"^(modbus_sim|python -m cpppo\.server\.enip)", command) and command.endswith("&"):
        return covered(command[:-1].strip())
    if command.startswith("python -m cpppo.server.enip.thruput") and command.endswith("\\"):
        return "run: " + ALSO_RUN.get(command, "joined with its next line")
    return None


def translate(command, side, tools, fixed=True):
    """A README line for cpppo's programs or fieldgw's: only the program changes
    (and, for cpppo's reference run, CPPPO_FIXES)."""
    command = command.replace("<hostname>", "localhost")
    if command == "poller":
        return f"{tools['cpppo_modbus']} -c {quote(POLLER)}"
    if command.startswith("curl "):
        # -s and the status after the body: what is compared.
        return command.replace("curl ", "curl -s -w '\\nHTTP %{http_code}\\n' ", 1)
    if command.startswith("wget "):
        return command
    if side == "cpppo":
        for old, new in CPPPO_NAMES.items():
            command = re.sub(re.escape(old) + r"(\s|$)", new + r"\1", command)
        for pattern, replacement, _ in CPPPO_FIXES if fixed else []:
            command = re.sub(pattern, replacement, command)
        # The wrapper scripts cpppo installs beside its python.
        command = re.sub(r"^enip_(server|client) ", os.path.dirname(tools["cpppo"]) + r"/enip_\1 ", command)
        command = re.sub(r"^python ", tools["cpppo"] + " ", command)
        return re.sub(r"^modbus_sim ", tools["cpppo_modbus"] + " -m cpppo.bin.modbus_sim ", command)
    fieldgw = tools["fieldgw"]
    rules = [(r"^python -m cpppo\.server\.enip\.client ", "enip-client "),
             (r"^enip_client ", "enip-client "),
             (r"^python -m cpppo\.server\.enip\.thruput ", "enip-client -p "),
             (r"^python -m cpppo\.server\.enip\.getattr ", "get-attribute "),
             (r"^python -m cpppo\.server\.enip\.historize (\S+) ", r"enip-server --historize \1 "),
             (r"^python -m cpppo\.server\.enip\.io$", "enip-client " + IO_OPERATIONS),
             (r"^python -m cpppo\.server\.enip ", "enip-server "),
             (r"^enip_server ", "enip-server "),
             (r"^modbus_sim ", "modbus-sim ")]
    for pattern, replacement in rules:
        if re.match(pattern, command):
            return fieldgw + " " + re.sub(pattern, replacement, command)
    raise ValueError("no fieldgw form for " + command)


def quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def script(scenario, server_side, client_side, tools, fixed=True):
    """The bash script of one pairing: the server, then each client line."""
    server = translate(scenario["server"], server_side, tools, fixed)
    out = ["set -u", "ip link set lo up", f"({server}) > server.out 2> server.err &", "server=$!",
           f"for i in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/{scenario['port']}) 2>/dev/null && break; sleep 0.1; done"]
    for index, line in enumerate(scenario["clients"]):
        side = server_side if scenario.get("same_client") else client_side
        command = translate(line.replace("+p ", "", 1), side, tools, fixed)
        if line.startswith("+p "):
            command = re.sub(r"(enip-client|cpppo\.server\.enip\.client|enip_client) ", r"\1 -p ", command, count=1)
        out.append(f"({command}) > client{index}.out 2> client{index}.err; echo $? > client{index}.rc")
        if scenario.get("pause"):
            out.append(f"sleep {scenario['pause']}")
    out += ["sleep 0.5", "kill $server 2>/dev/null; wait $server 2>/dev/null", "true"]
    return "\n".join(out) + "\n"


def run(name, server_side, client_side, tools, fixed=True):
    scenario = SCENARIOS[name]
    with tempfile.TemporaryDirectory(prefix="fieldgw-cpppo-") as work:
        unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
        command = unshare + ["--pid", "--fork", "--mount-proc", "--kill-child", "bash", "-c", script(scenario, server_side, client_side, tools, fixed)]
        env = dict(os.environ, HOME=work)
        done = subprocess.run(command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
        result = {"script": done.stdout, "server": read(work, "server.out"), "server.err": read(work, "server.err")}
        for index in range(len(scenario["clients"])):
            result[index] = (read(work, f"client{index}.rc").strip(), read(work, f"client{index}.out"), read(work, f"client{index}.err"))
        if "history" in scenario:
            result["history"] = read(work, scenario["history"])
        return result


def read(work, name):
    path = pathlib.Path(work) / name
    return path.read_text(errors="replace") if path.exists() else ""


def shown(name, scenario, index, result):
    """What is compared of a client line's result."""
    status, out, _ = result[index]
    line = scenario["clients"][index]
    if scenario.get("json"):
        return status, web_shape(out)
    if scenario.get("values"):
        return status, values_seen(out)
    if "getattr" in line:
        return status, [re.sub(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: ", "", l) for l in out.splitlines()]
    if line.startswith("+p ") or name == "io" or line == "poller":
        return status, out.splitlines()
    return status, None


def web_shape(out):
    """The HTTP status and the JSON document's keys (two levels), not its times and counts."""
    body, found, code = out.rpartition("\nHTTP ")
    if not found:
        body, code = out, "(wget)"
    try:
        document = json.loads(body)
    except ValueError:
        return code.strip(), "not JSON"
    shape = {key: sorted(value) if isinstance(value, dict) else type(value).__name__ for key, value in document.items()}
    return code.strip(), shape


def values_seen(out):
    """The value lists a thruput or enip-client line shows, in order."""
    return [match.group(1) for match in re.finditer(r"(\[[^\[\]]*\])(?::\s*'[^']*')?\s*$", out, re.M)]


def server_lines(result, side):
    """The server's printed lines, less fieldgw's own start-up lines."""
    lines = result["server"].splitlines()
    own = ("enip-server: ", "modbus-sim: ")
    return [re.sub(r"PID = \d+", "PID = N", l) for l in lines if not l.startswith(own)]


def history_records(text):
    """The records of a history file, less their times."""
    return [line.split("\t", 1)[-1] if "\t" in line else re.sub(r"^\S+ \S+\s+", "", line)
            for line in text.splitlines() if line and not line.startswith("#")]


def compare(name, results):
    """Each pairing against cpppo with cpppo: the differences, as (line, pairing, what)."""
    scenario = SCENARIOS[name]
    reference = results[("cpppo", "cpppo")]
    differences = []
    for (server_side, client_side), result in results.items():
        if (server_side, client_side) == ("cpppo", "cpppo"):
            continue
        pairing = f"{server_side} server" if scenario.get("same_client") else f"{server_side} server, {client_side} client"
        for index, line in enumerate(scenario["clients"]):
            want, got = shown(name, scenario, index, reference), shown(name, scenario, index, result)
            if want != got:
                differences.append((line, pairing, f"cpppo: {want}\n        this: {got}\n        stderr: {result[index][2][-400:]}"))
        if scenario.get("compare_server") and server_side == "fieldgw" and client_side == "cpppo":
            want, got = server_lines(reference, "cpppo"), server_lines(result, server_side)
            if want != got:
                differences.append(("(the server's printed lines)", pairing, f"cpppo: {want}\n        this: {got}"))
        if "history" in scenario and server_side == "fieldgw":
            want, got = history_records(reference["history"]), history_records(result["history"])
            if want != got:
                differences.append(("(the history file's records)", pairing, f"cpppo: {want}\n        this: {got}"))
    return differences


def fixes(name):
    """The reasons of the CPPPO_FIXES a scenario's cpppo lines need."""
    scenario = SCENARIOS[name]
    lines = [scenario["server"]] + [c.replace("+p ", "", 1) for c in scenario["clients"]]
    return sorted({reason for pattern, _, reason in CPPPO_FIXES for line in lines if re.search(pattern, line)})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fieldgw", default=str(REPO / ".build" / "debug" / "fieldgw"))
    parser.add_argument("--cpppo", default=str(REPO / ".build" / "venv-cpppo" / "bin" / "python"))
    parser.add_argument("--cpppo-modbus", default=str(REPO / ".build" / "venv-cpppo-modbus" / "bin" / "python"))
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    args = parser.parse_args()
    tools = {"fieldgw": str(pathlib.Path(args.fieldgw).resolve()), "cpppo": args.cpppo, "cpppo_modbus": args.cpppo_modbus}
    failed = 0
    for source, number, command in extract():
        why = covered(command)
        if why is None:
            print(f"NOT COVERED {source}:{number}: {command}")
            failed += 1
    runs = [(name, s, c) for name in args.scenarios for s in ("cpppo", "fieldgw")
            for c in (("cpppo",) if SCENARIOS[name].get("same_client") else ("cpppo", "fieldgw"))]
    as_written = [name for name in args.scenarios if fixes(name)]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        done = dict(zip(runs, pool.map(lambda r: run(*r, tools), runs)))
        unfixed = dict(zip(as_written, pool.map(lambda n: run(n, "cpppo", "cpppo", tools, fixed=False), as_written)))
    for name in as_written:
        scenario, reference = SCENARIOS[name], done[(name, "cpppo", "cpppo")]
        if all(shown(name, scenario, i, reference)[0] == shown(name, scenario, i, unfixed[name])[0] for i in range(len(scenario["clients"]))):
            print(f"STALE   {name}: cpppo now runs the README's lines as written; drop the change: {fixes(name)}")
            failed += 1
        else:
            print(f"cpppo   {name}: as written, cpppo fails: " + "; ".join(fixes(name)))
    seen_known = set()
    for name in args.scenarios:
        results = {(s, c): result for (n, s, c), result in done.items() if n == name}
        differences = compare(name, results)
        for (server_side, client_side), result in results.items():
            unrun = [line for index, line in enumerate(SCENARIOS[name]["clients"]) if not result[index][0]]
            if unrun:
                failed += 1
                print(f"NOT RUN {name} [{server_side} server, {client_side} client]: {unrun}\n        {result['script'][-300:]}")
        for line, pairing, what in differences:
            known = KNOWN.get((name, line))
            if known:
                seen_known.add((name, line))
                print(f"known   {name}: {line} [{pairing}]: {known}")
            else:
                failed += 1
                print(f"DIFFERS {name}: {line} [{pairing}]\n        {what}")
        if not differences:
            print(f"same    {name}: {len(SCENARIOS[name]['clients'])} lines in {len(results)} pairings")
    for key in KNOWN:
        if key[0] in args.scenarios and key not in seen_known:
            print(f"STALE   a known difference no longer shows: {key}")
            failed += 1
    print(f"{failed} failures")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
