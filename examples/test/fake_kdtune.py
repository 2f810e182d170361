#!/usr/bin/python3
"""A stand-in for `kdtune eval --stdin --pair I,J -o DIR`, speaking its line protocol on an
analytic objective (best at T = 4, alpha = 0.6, unlabelled_self, reverse), for testing
examples/optuna_tpe.py without a trained federation. Environment knobs:
FAKE_KDTUNE_LOG (a file that gets every line received), FAKE_KDTUNE_DIE_AFTER=N (exit 1 after N
answers), FAKE_KDTUNE_ERROR_EVERY=K (answer every K-th line with {"error": ...}),
FAKE_KDTUNE_NO_STDIN=1 (behave like a kdtune without --stdin: usage error, exit 2)."""
import json
import math
import os
import sys

DEFAULT = {"temperature": 1.0, "alpha": 0.5, "transfer_set": "unlabelled", "position": "forward"}
CHOICES = {"transfer_set": ("unlabelled", "unlabelled_self", "student_data"),
           "position": ("forward", "reverse")}


def objective(s):
    return (0.2 - 0.05 * math.log(s["temperature"] / 4.0) ** 2 - 0.2 * (s["alpha"] - 0.6) ** 2
            - (0.0 if s["transfer_set"] == "unlabelled_self" else 0.05)
            - (0.0 if s["position"] == "reverse" else 0.03))


def check(o):
    if not isinstance(o, dict):
        return "expected a JSON object"
    for k, v in o.items():
        if k not in DEFAULT:
            return "unknown key '%s'" % k
        if k in CHOICES and v not in CHOICES[k]:
            return "%s '%s' is not one of %s" % (k, v, ", ".join(CHOICES[k]))
        if k == "temperature" and not (isinstance(v, (int, float)) and 0 < v <= 1000):
            return "temperature must be a number in (0, 1000]"
        if k == "alpha" and not (isinstance(v, (int, float)) and 0 <= v <= 1):
            return "alpha must be a number in [0, 1]"
    return None


def main():
    a = sys.argv[1:]
    if os.environ.get("FAKE_KDTUNE_NO_STDIN") or "--stdin" not in a or a[:1] != ["eval"]:
        print("kdtune: error: unrecognized option '--stdin'", file=sys.stderr)
        sys.exit(2)
    i, j = (int(v) for v in a[a.index("--pair") + 1].split(","))
    log = os.environ.get("FAKE_KDTUNE_LOG")
    die = int(os.environ.get("FAKE_KDTUNE_DIE_AFTER", "0"))
    every = int(os.environ.get("FAKE_KDTUNE_ERROR_EVERY", "0"))
    n = 0
    for line in sys.stdin:
        n += 1
        if log:
            with open(log, "a") as f:
                f.write(line)
        try:
            o = json.loads(line)
            err = check(o)
        except ValueError as e:
            err = "malformed JSON: %s" % e
        if not err and every and n % every == 0:
            err = "injected error"
        if err:
            print(json.dumps({"error": err}), flush=True)
            continue
        s = dict(DEFAULT, **o)
        fwd = s["position"] == "forward"
        g = objective(s)
        out = {"student": j if fwd else i, "teacher": i if fwd else j, **s, "val_gain": g,
               "test_gain": g - 0.01, "forgetting": 0.0, "seconds": 0.0, "status": "ok"}
        print(json.dumps(out), flush=True)
        if die and n >= die:
            print("kdtune: error: simulated crash", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
