"""Reads COUNT messages of a Server-Sent Events stream (at most 60 s) and
prints the response's content type, then each message's data, one a line.

usage: read_stream.py URL COUNT
"""
import sys
import urllib.request

url, count = sys.argv[1], int(sys.argv[2])
with urllib.request.urlopen(url, timeout=60) as response:
    print(response.headers.get("Content-Type"))
    seen = 0
    for line in response:
        if line.startswith(b"data: "):
            print(line[6:].decode().strip(), flush=True)
            seen += 1
            if seen == count:
                break
