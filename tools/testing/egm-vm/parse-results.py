#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn a check-mode guest run into pass/fail checks.

Reads the guest's results directory (TAP per test program, module load
status, dmesg, kmemleak), the serial log and QEMU's exit status. Appends
one line per check ("PASS name", "FAIL name" or "SKIP name") to --checks,
and prints every failure with the lines that explain it. A skip is not a
pass: the caller counts it as a failure.

Checks:
  guest            the guest ran to the end (no hang, crash or timeout)
  insmod/NAME      each module on the share loaded
  kunit/SUITE      each expected KUnit suite reported, with its plan met
  kunit/SUITE/CASE each KUnit case (and parameter) result
  PROG             each expected test program produced TAP, met its plan
                   and exited 0 (PROG is kselftest/COLL/NAME,
                   platform/NAME or vmm/NAME)
  PROG/TEST        each TAP test result
  log/CATEGORY     no kernel report of that kind in the serial log, dmesg
                   or kmemleak
"""
import argparse
import glob
import os
import re
import sys

TS = re.compile(r"^\[\s*\d+\.\d+\] ?")
RESULT = re.compile(r"^(not ok|ok) (\d+)(?: -)? ?(.*?)(?:\s+#\s*(SKIP|TODO|XFAIL|XPASS)\b\s*(.*))?$")
PLAN = re.compile(r"^1\.\.(\d+)")

LOG_CHECKS = [
    ("bug", r"\bBUG:"),
    ("warning", r"\bWARNING:"),
    ("kasan", r"\bKASAN\b"),
    ("lockdep", r"possible circular locking|inconsistent lock state|INFO: possible"
                r"|suspicious RCU usage|possible recursive locking|bad unlock balance"
                r"|held lock freed|DEBUG_LOCKS_WARN_ON|lock held when returning to user"),
    ("panic", r"Kernel panic"),
    # arm64 says "Unable to handle kernel ..." and "SError Interrupt".
    ("oops", r"\bOops\b|Unable to handle kernel|SError Interrupt"),
    ("kmemleak", r"unreferenced object"),
    ("acpi-truncated", r"ACPI Warning: Truncated"),
    ("ubsan", r"UBSAN"),
    ("gpf", r"general protection fault"),
    ("hang", r"blocked for more than \d+ seconds|detected stalls? on CPU|soft lockup|hard LOCKUP"),
]


def read_not_applicable():
    """The upstream self-skips listed, with their reasons, in not-applicable.txt."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "not-applicable.txt")
    na = {}
    for line in read_lines(path) or []:
        if line.strip() and not line.startswith("#"):
            test, reason = line.split("\t", 1)
            na[test] = reason.strip()
    return na


class Checks:
    def __init__(self, path, prefix=""):
        self.out = open(path, "a")
        self.prefix = prefix
        self.counts = {"PASS": 0, "FAIL": 0, "SKIP": 0, "NA": 0}

    def add(self, status, name, details=()):
        name = self.prefix + name
        self.out.write("%s %s\n" % (status, name))
        self.counts[status] += 1
        if status != "PASS":
            print("%s: %s" % (status, name))
            for d in list(details)[:40]:
                print("    " + d.rstrip())

    def ok(self, cond, name, details=()):
        self.add("PASS" if cond else "FAIL", name, () if cond else details)


def read_lines(path):
    try:
        with open(path, errors="replace") as f:
            return [l.rstrip("\r\n").replace("\r", "") for l in f]
    except OSError:
        return None


def parse_tap(lines):
    """kselftest TAP: (plan, [(ok, num, name, directive, reason)])."""
    plan = None
    results = []
    for line in lines:
        if line.startswith((" ", "\t")):
            continue  # nested subtests (TAP 14); the parent line decides
        m = PLAN.match(line)
        if m and plan is None:
            plan = int(m.group(1))
            continue
        m = RESULT.match(line)
        if m:
            results.append((m.group(1) == "ok", int(m.group(2)), m.group(3).strip(),
                            (m.group(4) or "").upper(), m.group(5) or ""))
    return plan, results


def tap_status(ok, directive):
    if directive == "SKIP":
        return "SKIP"
    if directive in ("XFAIL", "TODO"):
        return "PASS"
    if directive == "XPASS":
        return "FAIL"
    return "PASS" if ok else "FAIL"


# (seconds, program) of every program that ran, for the summary.
TIMES = []


def program_secs(base):
    try:
        return float((read_lines(base + ".secs") or [""])[0])
    except ValueError:
        return None


def check_program(checks, results_dir, prog):
    """prog is kselftest/COLL/NAME, platform/NAME or vmm/NAME."""
    base = os.path.join(results_dir, prog)
    lines = read_lines(base + ".tap")
    if lines is None:
        checks.add("FAIL", prog, ["did not run (no output)"])
        return
    rc = (read_lines(base + ".rc") or ["?"])[0].strip()
    secs = program_secs(base)
    if secs is not None:
        TIMES.append((secs, prog))
    plan, results = parse_tap(lines)
    problems = []
    if plan is None:
        problems.append("no TAP plan")
    elif plan != len(results):
        problems.append("plan 1..%d but %d results" % (plan, len(results)))
    if rc != "0":
        problems.append("exit status %s%s" % (rc, " (killed by the timeout?)" if rc in ("137", "124", "143") else ""))
    if problems:
        if secs is not None:
            problems.append("ran %.0f s" % secs)
        problems += ["--- last lines of %s.tap:" % prog] + lines[-25:]
    checks.ok(not problems, prog, problems)
    for ok, num, name, directive, reason in results:
        status = tap_status(ok, directive)
        if status == "SKIP" and NOT_APPLICABLE.get("%s/%s" % (prog, name)) == reason.strip():
            status = "NA"
        details = []
        if status != "PASS":
            details = tap_context(lines, name) + (["# %s %s" % (directive, reason)] if directive else [])
        checks.add(status, "%s/%s" % (prog, name or str(num)), details)


def tap_context(lines, name):
    """The harness output between '#  RUN name' and the result line."""
    out, grab = [], False
    for line in lines:
        if re.match(r"^#\s+RUN\s+%s\b" % re.escape(name), line):
            grab = True
        if grab:
            out.append(line)
            if RESULT.match(line):
                break
    return out[-30:]


def strip_ts(lines):
    return [TS.sub("", l) for l in lines]


def parse_ktap(lines):
    """KUnit's nested KTAP in a kernel log.

    Returns {suite: {"ok": bool or None, "plan": n, "nresults": n,
    "plan_errors": [...], "results": [(case path, status)]}} for every
    outermost "# Subtest:" seen. Leaves are test cases, or the parameters
    of a parameterised case.
    """
    suites = {}
    stack = []  # frames: {"indent", "name", "plan", "count", "suite"}

    def close(frame):
        if frame["plan"] is not None and frame["plan"] != frame["count"]:
            frame["suite"]["plan_errors"].append(
                "%s: plan 1..%d but %d results" % (frame["name"], frame["plan"], frame["count"]))

    for raw in lines:
        line = raw.rstrip()
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        m = re.match(r"^# Subtest: (.+)$", body)
        if m:
            while stack and stack[-1]["indent"] >= indent:
                close(stack.pop())  # a frame that never got its result line
            frame = {"indent": indent, "name": m.group(1).strip(), "plan": None, "count": 0}
            if not stack:
                frame["suite"] = suites.setdefault(frame["name"], {
                    "ok": None, "plan": None, "nresults": None, "plan_errors": [], "results": []})
            else:
                frame["suite"] = stack[0]["suite"]
            stack.append(frame)
            continue
        m = PLAN.match(body)
        if m:
            if stack and stack[-1]["indent"] == indent and stack[-1]["plan"] is None:
                stack[-1]["plan"] = int(m.group(1))
                if len(stack) == 1:
                    stack[0]["suite"]["plan"] = int(m.group(1))
            continue
        m = RESULT.match(body)
        if not m:
            continue
        status = tap_status(m.group(1) == "ok", (m.group(4) or "").upper())
        name = m.group(3).strip()
        closed = None
        while stack and stack[-1]["indent"] > indent:
            closed = stack.pop()
            close(closed)
        if closed is not None and not stack:
            closed["suite"]["ok"] = status == "PASS"
            closed["suite"]["nresults"] = closed["count"]
            continue
        if not stack:
            continue
        stack[-1]["count"] += 1
        if closed is not None and closed["count"]:
            continue  # a parameterised case: its parameters are the leaves
        path = "/".join([f["name"] for f in stack[1:]] + [name])
        stack[0]["suite"]["results"].append((path, status))
    return suites


def kunit_expected(src_dir):
    names = []
    for path in sorted(glob.glob(os.path.join(src_dir, "*kunit*.c"))):
        text = open(path, errors="replace").read()
        for m in re.finditer(r"struct\s+kunit_suite\s+\w+\s*=\s*\{(.*?)\};", text, re.S):
            n = re.search(r"\.name\s*=\s*\"([^\"]+)\"", m.group(1))
            if n:
                names.append(n.group(1))
    return names


def check_kunit(checks, log, src_dir):
    suites = parse_ktap(log)
    expected = kunit_expected(src_dir)
    for name in sorted(set(expected) | set(suites)):
        s = suites.get(name)
        if s is None:
            checks.add("FAIL", "kunit/%s" % name, ["expected suite did not report (is it built and loaded?)"])
            continue
        problems = list(s["plan_errors"])
        if s["ok"] is None:
            problems.append("no result line for the suite (crashed or hung?)")
        elif not s["ok"]:
            problems.append("the suite reported not ok (or skipped)")
        if s["plan"] is None:
            problems.append("no plan for the suite")
        checks.ok(not problems, "kunit/%s" % name, problems + kunit_context(log, name) if problems else [])
        for path, status in s["results"]:
            checks.add(status, "kunit/%s/%s" % (name, path),
                       kunit_context(log, path.split("/")[-1]) if status != "PASS" else [])


def kunit_context(log, name):
    """Lines of a failing case: KUnit prints them just before its result."""
    for i, line in enumerate(log):
        m = RESULT.match(line.strip())
        if m and m.group(3).strip() == name and (m.group(1) == "not ok" or m.group(4)):
            start = i
            while start > 0 and i - start < 25 and not RESULT.match(log[start - 1].strip()) \
                    and "# Subtest:" not in log[start - 1]:
                start -= 1
            return log[start:i + 1]
    return []


def check_logs(checks, sources):
    for cat, pattern in LOG_CHECKS:
        rx = re.compile(pattern)
        hits = []
        seen = set()
        for label, lines in sources:
            for i, line in enumerate(lines):
                if rx.search(line):
                    key = TS.sub("", line)
                    if key in seen:
                        continue
                    seen.add(key)
                    hits.append((label, i, lines))
        details = []
        for label, i, lines in hits[:5]:
            details.append("--- %s line %d:" % (label, i + 1))
            details += lines[i:i + 12]
        if len(hits) > 5:
            details.append("... and %d more" % (len(hits) - 5))
        checks.ok(not hits, "log/%s" % cat, details)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", required=True, help="the guest's results directory")
    ap.add_argument("--serial", required=True, help="the serial console log")
    ap.add_argument("--rc", help="file holding QEMU's exit status")
    ap.add_argument("--expected", help="file listing expected programs (kselftest/COLL/NAME, platform/NAME, vmm/NAME)")
    ap.add_argument("--kunit-src", required=True, help="directory whose *kunit*.c name the expected suites")
    ap.add_argument("--modules", help="directory of the modules that were put on the share")
    ap.add_argument("--checks", required=True, help="file to append check lines to")
    ap.add_argument("--prefix", default="", help="put before every check name, e.g. fast/")
    args = ap.parse_args()

    global NOT_APPLICABLE
    NOT_APPLICABLE = read_not_applicable()
    checks = Checks(args.checks, args.prefix)
    res = args.results
    serial = read_lines(args.serial) or []
    rc = (read_lines(args.rc) or ["?"])[0].strip() if args.rc else "?"

    done = os.path.exists(os.path.join(res, "done"))
    why = []
    if rc in ("124", "137"):
        why.append("the guest was killed by the timeout (EGM_TIMEOUT)")
    elif not done:
        why.append("the guest stopped before the end of the check script (QEMU exit %s)" % rc)
    if why:
        why += ["--- end of the serial log:"] + serial[-30:]
    checks.ok(not why, "guest", why)

    # Modules.
    mods = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(args.modules or "", "*.ko")))
    if "egm" not in mods:
        checks.add("FAIL", "insmod/egm", ["egm.ko was not built or not staged"])
    for m in mods:
        rcs = read_lines(os.path.join(res, "modules", m + ".rc"))
        out = read_lines(os.path.join(res, "modules", m + ".out")) or []
        if rcs is None:
            checks.add("FAIL", "insmod/%s" % m, ["never loaded"])
        else:
            checks.ok(rcs[0].strip() == "0", "insmod/%s" % m, ["exit status " + rcs[0]] + out)

    dmesg = read_lines(os.path.join(res, "dmesg.txt"))
    # A noisy run (iommufd_fail_nth) can wrap the kernel's ring buffer;
    # the console still has every line from boot on.
    whole = dmesg is not None and any("Linux version" in l for l in dmesg[:5])
    klog = strip_ts(dmesg if whole else serial)
    check_kunit(checks, klog, args.kunit_src)

    expected = []
    if args.expected:
        expected = [l.strip() for l in read_lines(args.expected) or [] if l.strip()]
    found = sorted(os.path.relpath(p, res)[:-4] for p in
                   glob.glob(os.path.join(res, "kselftest", "*", "*.tap")) +
                   glob.glob(os.path.join(res, "platform", "*.tap")) +
                   glob.glob(os.path.join(res, "vmm", "*.tap")))
    for prog in expected + [p for p in found if p not in expected]:
        check_program(checks, res, prog)

    sources = [("serial log", serial)]
    if dmesg is not None:
        sources.append(("dmesg", dmesg))
    kml = read_lines(os.path.join(res, "kmemleak.txt"))
    if kml is not None:
        sources.append(("kmemleak", kml))
    elif done:
        checks.add("FAIL", "log/kmemleak-scan", ["no kmemleak report was saved"])
    check_logs(checks, sources)

    if TIMES:
        slow = sorted(TIMES, reverse=True)[:5]
        print("slowest programs: " + ", ".join("%s %.0f s" % (p.split("/")[-1], t) for t, p in slow))
    c = checks.counts
    print("guest checks: %d passed, %d failed, %d skipped, %d not applicable"
          % (c["PASS"], c["FAIL"], c["SKIP"], c["NA"]))


if __name__ == "__main__":
    sys.exit(main())
