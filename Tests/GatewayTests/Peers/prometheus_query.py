"""Asks a Prometheus server on 127.0.0.1:PORT for QUERY until its first
sample reaches AT_LEAST (or 30 s pass); prints the last answer's result as
JSON. With "metrics URL", prints the text a GET of URL returns instead."""
import json
import sys
import time
import urllib.parse
import urllib.request

if sys.argv[1] == "metrics":
    print(urllib.request.urlopen(sys.argv[2], timeout=10).read().decode())
    sys.exit(0)
port, query, at_least = sys.argv[1], sys.argv[2], float(sys.argv[3])
url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
deadline, result = time.time() + 30, []
while time.time() < deadline:
    try:
        result = json.load(urllib.request.urlopen(url, timeout=5))["data"]["result"]
        if result and float(result[0]["value"][1]) >= at_least:
            break
    except OSError:
        pass  # Prometheus still starting
    time.sleep(0.5)
print(json.dumps(result))
