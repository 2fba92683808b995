"""Counts passed and failed tests in meson testlog.json files; TAP tests count per subtest.
Prints "PASSED FAILED"."""
import json
import sys

passed = failed = 0
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        result = t.get("result", "")
        if result == "SKIP":
            continue
        tap = [l for l in (t.get("stdout") or "").splitlines() if l.startswith(("ok ", "not ok "))]
        if tap:
            ok = sum(1 for l in tap if l.startswith("ok "))
            bad = len(tap) - ok
            passed += ok
            failed += bad
            if result != "OK" and bad == 0:   # crashed or timed out after its last subtest
                failed += 1
        elif result == "OK":
            passed += 1
        else:
            failed += 1
print(passed, failed)
