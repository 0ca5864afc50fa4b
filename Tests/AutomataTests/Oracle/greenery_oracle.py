"""Answers for the differential test: greenery's minimal machine for each regex.

Reads JSON from stdin: [{"regex": str, "inputs": [str, ...], "limit": seconds?}, ...].
Writes JSON to stdout: [{"states": int, "accepts": [bool, ...]} | {"error": str}, ...].
greenery's construction is exponential on some patterns; a regex it cannot
finish within the time limit (the case's "limit", or LIMIT_SECONDS) is
answered {"timeout": true}.
"""
import json
import signal
import sys

from greenery import parse

LIMIT_SECONDS = 2


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout()


def answer(case):
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(case.get("limit", LIMIT_SECONDS))
    try:
        fsm = parse(case["regex"]).to_fsm().reduce()
        return {"states": len(fsm.states), "accepts": [fsm.accepts(text) for text in case["inputs"]]}
    except Timeout:
        return {"timeout": True}
    except Exception as error:  # greenery's own refusal is an answer too
        return {"error": f"{type(error).__name__}: {error}"}
    finally:
        signal.alarm(0)


# A child inherits the signal mask of the thread that started it, and the
# test process's threads block SIGALRM: unblocked, or the time limit never
# fires (one regex then took greenery 99 s, and the test 123 s instead of 16).
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})
json.dump([answer(case) for case in json.load(sys.stdin)], sys.stdout)
