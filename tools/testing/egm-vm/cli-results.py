#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn what guest/cli.sh saved of the egm tool into cli/* checks.

    cli-results.py --results DIR/cli --checks FILE [--platform ENV] [--prefix P]

Appends "PASS name" or "FAIL name" lines to --checks and prints each
failure with what explains it:

  cli/ran              the guest ran cli.sh to the end
  cli/json/NAME        NAME.json, printed with --json, exited 0 with nothing
                       on stderr, matches tools/egm/egm-json.schema.json and
                       says what that case expects (list: the regions of
                       platform.env; windows: the background holder, its
                       comm escaped; info-substituted: the retired page
                       backed by a spare; ...)
  cli/text/NAME        the human output: the list columns, substituted pages
  cli/holder           the holder released its window at end of input
  cli/default-align    a window without --align got the region's PMD size
  cli/check            alloc --check passed
  cli/exec-env         --exec passes the fd, in {} and in EGM_FD
  cli/regions-restored every window freed: the regions as they started
  cli/err/NAME         an error case: its exit status, and a message that
                       names the problem (the patterns in err/NAME.want)
"""
import argparse
import importlib.util
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "..", "egm")
MiB = 1 << 20


def load_checker():
    # No __pycache__ in the source tree, beside check-json.py.
    sys.dont_write_bytecode = True
    spec = importlib.util.spec_from_file_location("check_json", os.path.join(TOOL, "check-json.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Checks:
    def __init__(self, path, prefix):
        self.out = open(path, "a")
        self.prefix = prefix
        self.failed = 0

    def ok(self, cond, name, details=()):
        name = self.prefix + name
        self.out.write("%s %s\n" % ("PASS" if cond else "FAIL", name))
        if not cond:
            self.failed += 1
            print("FAIL: %s" % name)
            for d in list(details)[:40]:
                print("    " + str(d).rstrip())


def read(path, binary=False):
    try:
        with open(path, "rb" if binary else "r", **({} if binary else {"errors": "replace"})) as f:
            return f.read()
    except OSError:
        return None


def platform_env(path):
    env = {}
    for line in (read(path) or "").splitlines():
        m = re.match(r"^(\w+)=(.*)$", line.strip())
        if m:
            env[m.group(1)] = m.group(2).strip('"')
    return env


def page_size(env):
    """The guest kernel's page size (EGM_PAGE in platform.env)."""
    return 64 << 10 if env.get("EGM_PAGE", "4K") == "64K" else 4 << 10


def pmd_size(page):
    """What a PMD maps: a page of 8-byte entries, each mapping a page."""
    return page * (page // 8)


def platform_regions(env):
    """[(pxm, base, size, retired pages inside)] from platform.env.

    Firmware records retired 4 KiB pages; the driver counts the kernel
    pages that hold them, so two records in one 64K page are one page.
    """
    page = page_size(env)
    out = []
    for i in range(int(env.get("EGM_PLAT_NREGIONS", "0"))):
        p = "EGM_PLAT_REGION%d_" % i
        base, size = int(env[p + "BASE"], 0), int(env[p + "SIZE"], 0)
        retired = [int(a, 0) for a in env.get(p + "RETIRED", "").split()]
        out.append((int(env[p + "PXM"], 0), base, size,
                    len({a // page for a in retired if base <= a < base + size})))
    return out


class Cli:
    def __init__(self, d, checks, env, checker):
        self.d, self.c, self.env, self.cj = d, checks, env, checker
        self.schema = checker.load_schema()
        self.docs = {}

    def path(self, name):
        return os.path.join(self.d, name)

    def ran(self, name):
        """(rc, stdout bytes, stderr text) of a saved command."""
        rc = (read(self.path(name + ".rc")) or "?").strip()
        return rc, read(self.path(name), True), read(self.path(name + ".err")) or ""

    def json(self, name, doc_type, expect=None):
        """cli/json/NAME: exit 0, no stderr, the schema, then expect(doc)."""
        rc, out, err = self.ran(name + ".json")
        problems = []
        if out is None:
            problems.append("%s.json was not saved (cli.sh stopped early?)" % name)
        else:
            if rc != "0":
                problems.append("exit status %s" % rc)
            if err.strip():
                problems += ["stderr:"] + err.splitlines()
            errs = self.cj.check(out, doc_type, self.schema)
            problems += errs
            if not errs:
                doc = json.loads(out)
                self.docs[name] = doc
                problems += unnamed_flags(doc)
                if expect:
                    problems += expect(doc)
        if problems:
            problems += ["--- %s.json:" % name] + (out or b"").decode("utf-8", "replace").splitlines()[:40]
        self.c.ok(not problems, "cli/json/" + name, problems)

    def error_cases(self):
        names = sorted(f[:-5] for f in os.listdir(self.path("err")) if f.endswith(".want"))
        for name in names:
            base = self.path(os.path.join("err", name))
            want = (read(base + ".want") or "").splitlines()
            rc = (read(base + ".rc") or "?").strip()
            err = read(base + ".err") or ""
            cmd = (read(base + ".cmd") or "").strip()
            problems = []
            m = re.match(r"^rc (\d+)$", want[0] if want else "")
            if not m:
                problems.append("bad err/%s.want" % name)
            elif rc != m.group(1):
                problems.append("exit status %s, expected %s" % (rc, m.group(1)))
            for pat in want[1:]:
                if not re.search(pat, err, re.I):
                    problems.append("the message does not match: %s" % pat)
            if problems:
                problems += ["--- $ %s" % cmd, "--- stderr:"] + err.splitlines()
            self.c.ok(not problems, "cli/err/" + name, problems)


def unnamed_flags(doc):
    """Flag bits the tool printed as "0x..": it lags the uapi."""
    found = []

    def walk(v, path):
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("alloc_flags", "flags") and isinstance(x, list):
                    found.extend("%s.%s: flag %s has no name in the tool" % (path, k, f)
                                 for f in x if str(f).startswith("0x"))
                walk(x, "%s.%s" % (path, k))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, "%s[%d]" % (path, i))
    walk(doc, "$")
    return found


def expect(cond, msg):
    return [] if cond else [msg]


def check_list(regions):
    def f(doc):
        p = []
        got = {r["pxm"]: r for r in doc["regions"]}
        p += expect(len(doc["regions"]) == len(regions),
                    "%d regions, platform.env has %d" % (len(doc["regions"]), len(regions)))
        for pxm, base, size, retired in regions:
            r = got.get(pxm)
            if r is None:
                p.append("no region with PXM %d" % pxm)
                continue
            p += expect(r["size"] == size, "PXM %d: size %d, expected %d" % (pxm, r["size"], size))
            p += expect(r["retired_pages"] == retired,
                        "PXM %d: %d retired pages, platform.env has %d in the region's pages"
                        % (pxm, r["retired_pages"], retired))
            p += expect(r["largest_free_good"] <= r["largest_free"] <= r["free"] <= r["size"],
                        "PXM %d: not largest_free_good <= largest_free <= free <= size" % pxm)
            p += expect(r["align"] == sorted(r["align"]) and
                        all(a & (a - 1) == 0 for a in r["align"]),
                        "PXM %d: align is not powers of two, smallest first" % pxm)
            p += expect(r["page_size"] in r["align"], "PXM %d: the page size is not in align" % pxm)
            if retired:
                p += expect(r["largest_free_good"] < r["size"],
                            "PXM %d has retired pages, yet largest_free_good is the whole region" % pxm)
        return p
    return f


def check_window(length=None, flags=(), bad=None, subst=None, fd=False, path=None):
    def f(doc):
        p = []
        if length is not None:
            p += expect(doc["length"] == length, "length %d, expected %d" % (doc["length"], length))
        p += expect(doc["alloc_flags"] == list(flags),
                    "alloc_flags %s, expected %s" % (doc["alloc_flags"], list(flags)))
        p += expect(doc["revoked"] is False, "revoked")
        p += expect(doc["num_bad_pages"] == len(doc["bad_pages"]),
                    "num_bad_pages %d, but %d listed" % (doc["num_bad_pages"], len(doc["bad_pages"])))
        nsub = len([b for b in doc["bad_pages"] if "substituted" in b["flags"]])
        p += expect(doc["num_substituted"] == nsub,
                    "num_substituted %d, but %d listed as substituted" % (doc["num_substituted"], nsub))
        for b in doc["bad_pages"]:
            p += expect(b["offset"] % doc["page_size"] == 0 and b["offset"] < doc["length"],
                        "bad page offset %#x is not a page of the window" % b["offset"])
        if bad == 0:
            p += expect(not doc["bad_pages"], "bad pages where a clean place existed: %s" % doc["bad_pages"])
        elif bad:
            p += expect(doc["bad_pages"], "no bad page, though the window cannot avoid one")
            for b in doc["bad_pages"]:
                want = ["retired", "substituted"] if subst else ["retired"]
                p += expect(b["flags"] == want, "offset %#x: flags %s, expected %s"
                            % (b["offset"], b["flags"], want))
        if fd:
            p += expect("fd" in doc and doc["path"] == "/proc/self/fd/%d" % doc["fd"],
                        "no fd, or a path that is not /proc/self/fd/FD")
        else:
            p += expect("fd" not in doc, "an fd, though info was given a path")
        if path is not None:
            p += expect(doc["path"] == path, "path %s, expected %s" % (doc["path"], path))
        return p
    return f


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", required=True, help="the guest's results/cli directory")
    ap.add_argument("--checks", required=True, help="file to append check lines to")
    ap.add_argument("--platform", help="platform.env (default: RESULTS/../../platform.env)")
    ap.add_argument("--prefix", default="", help="put before every check name, e.g. fast/")
    args = ap.parse_args()

    checks = Checks(args.checks, args.prefix)
    d = args.results
    if not os.path.exists(os.path.join(d, "done")):
        why = read(os.path.join(d, "missing"))
        checks.ok(False, "cli/ran", [why.strip() if why else
                                     "guest/cli.sh did not run to the end (no %s/done)" % d])
        return 0
    checks.ok(True, "cli/ran")
    env = platform_env(args.platform or os.path.join(d, "..", "..", "platform.env"))
    regions = platform_regions(env)
    cli = Cli(d, checks, env, load_checker())

    meta = dict(l.split("=", 1) for l in (read(os.path.join(d, "holder.meta")) or "").splitlines() if "=" in l)
    hpid, hpath = int(meta.get("pid", "0") or 0), meta.get("path", "")
    comm = (read(os.path.join(d, "holder.comm"), True) or b"").decode("utf-8", "replace")

    # The holder's window has no --align: it is one PMD (guest/cli.sh).
    pmd = pmd_size(page_size(env))
    cli.json("list", "list", check_list(regions))
    cli.json("info", "info", check_window(pmd, bad=0, path=hpath))
    cli.json("info-fd", "info", check_window(2 * MiB, bad=0, fd=True))
    cli.json("info-no-bad-pages", "info", check_window(2 * MiB, ["no_bad_pages"], bad=0, fd=True))
    cli.json("info-holes", "info", check_window(2 * MiB, ["holes"], bad=0, fd=True))
    cli.json("info-substituted", "info", check_window(1026 * MiB, bad=1, subst=True, fd=True))
    cli.json("info-holes-big", "info", check_window(1026 * MiB, ["holes"], bad=1, subst=False, fd=True))
    cli.json("handoff", "info", check_window(2 * MiB, bad=0))

    def check_windows(doc):
        p = []
        mine = [w for w in doc["windows"] if w["pid"] == hpid]
        if len(mine) != 1:
            return ["%d entries for the holder (pid %d), expected 1" % (len(mine), hpid)]
        w = mine[0]
        p += expect(w["path"] == hpath, "path %s, expected %s" % (w["path"], hpath))
        p += expect(w["path"] == "/proc/%d/fd/%d" % (w["pid"], w["fd"]), "path does not match pid and fd")
        p += expect(w["comm"] == comm, "comm %s, expected %s (escaping?)"
                    % (json.dumps(w["comm"]), json.dumps(comm)))
        p += expect(w["length"] == pmd and w["alloc_flags"] == [] and not w["revoked"],
                    "not the holder's live window of %d bytes" % pmd)
        info = cli.docs.get("info")
        if info:
            p += expect(w["ino"] == info["ino"], "ino %d, but info says %d" % (w["ino"], info["ino"]))
        p += expect(doc["num_windows"] == len({x["ino"] for x in doc["windows"]}),
                    "num_windows is not the number of distinct inodes")
        p += expect(doc["total_length"] >= pmd, "total_length below the holder's window")
        p += expect(doc["num_denied"] == 0, "num_denied %d as root" % doc["num_denied"])
        return p
    cli.json("windows", "windows", check_windows)

    # The human output.
    text = read(os.path.join(d, "list.txt")) or ""
    lines = text.splitlines()
    p = []
    head = lines[0].split() if lines else []
    p += expect(head[:11] == ["ID", "PXM", "NODE", "SIZE", "FREE", "ALIGN", "LARGEST", "LARGEST-GOOD",
                              "RETIRED", "POISONED", "PAGE"], "header %s" % head)
    doc = cli.docs.get("list")
    bytes_lines = (read(os.path.join(d, "list-bytes.txt")) or "").splitlines()
    if doc:
        for r in doc["regions"]:
            row = [l.split() for l in bytes_lines[1:] if l.split()[1:2] == [str(r["pxm"])]]
            p += expect(row and row[0][5] == ",".join(str(a) for a in r["align"]) and
                        row[0][6] == str(r["largest_free"]) and row[0][7] == str(r["largest_free_good"]),
                        "list --bytes row of PXM %d does not match the JSON: %s" % (r["pxm"], row))
    checks.ok(not p, "cli/text/list", p + ["--- list.txt:"] + lines + ["--- list-bytes.txt:"] + bytes_lines
              if p else ())

    text = read(os.path.join(d, "info-substituted.txt")) or ""
    p = expect(re.search(r"^bad_pages: +[1-9]\d* \(\d+ substituted by spare pages, 0 holes\)$", text, re.M),
               "no 'bad_pages: N (N substituted by spare pages, 0 holes)' line")
    p += expect(re.search(r"^  offset 0x[0-9a-f]+ length 0x[0-9a-f]+ retired substituted$", text, re.M),
                "no '  offset ... retired substituted' line")
    p += expect(re.search(r"^alloc_flags: none$", text, re.M), "no 'alloc_flags: none' line")
    checks.ok(not p, "cli/text/info-substituted", p + ["--- info-substituted.txt:"] + text.splitlines()
              if p else ())

    text = read(os.path.join(d, "windows.txt")) or ""
    p = expect(re.search(r"^\s*%d\s" % hpid, text, re.M), "no line for the holder, pid %d" % hpid)
    p += expect(re.search(r"^\d+ windows?, .* in \d+ open files?$", text, re.M), "no summary line")
    checks.ok(not p, "cli/text/windows", p + ["--- windows.txt:"] + text.splitlines() if p else ())

    rc = (read(os.path.join(d, "holder.rc")) or "?").strip()
    err = read(os.path.join(d, "holder.err")) or ""
    p = expect(rc == "0", "the holder exited with %s" % rc)
    p += expect("end of stdin, releasing the window" in err, "the holder did not see end of stdin")
    p += expect(hpath.startswith("/proc/%d/fd/" % hpid), "no path /proc/%d/fd/N printed" % hpid)
    checks.ok(not p, "cli/holder", p + ["--- stderr:"] + err.splitlines() +
              ["--- stdout:"] + (read(os.path.join(d, "holder.out")) or "").splitlines() if p else ())

    info, lst = cli.docs.get("info"), cli.docs.get("list")
    p = []
    if not info or not lst:
        p.append("no valid info.json or list.json")
    else:
        r = [x for x in lst["regions"] if x["pxm"] == info["pxm"]]
        ps = r[0]["page_size"] if r else 0
        pmd = pmd_size(ps)
        want = pmd if r and pmd in r[0]["align"] else ps
        p += expect(info["alignment"] == want, "alignment %d without --align, expected %d (%s)"
                    % (info["alignment"], want, "the PMD size" if want == pmd else "the page size"))
    checks.ok(not p, "cli/default-align", p)

    rc, _, err = cli.ran("check.txt")
    p = expect(rc == "0", "exit status %s" % rc)
    p += expect(len(re.findall(r"^check: .* ok ", err, re.M)) == 4, "not four passes ok")
    checks.ok(not p, "cli/check", p + ["--- stderr:"] + err.splitlines() if p else ())

    rc, out, err = cli.ran("exec-env.txt")
    out = (out or b"").decode("utf-8", "replace")
    p = expect(rc == "0" and re.search(r"^EGM_FD=\d+$", out, re.M) and
               re.search(r"^/?egm-window", out, re.M), "EGM_FD not set, or not a window")
    checks.ok(not p, "cli/exec-env", p + ["--- stdout:"] + out.splitlines() + ["--- stderr:"] +
              err.splitlines() if p else ())

    cli.json("list-after", "list")
    before, after = cli.docs.get("list"), cli.docs.get("list-after")
    p = []
    if before and after:
        for a, b in zip(before["regions"], after["regions"]):
            for k in ("free", "largest_free", "largest_free_good", "retired_pages", "poisoned_pages"):
                p += expect(a[k] == b[k], "PXM %d: %s %d before, %d after" % (a["pxm"], k, a[k], b[k]))
    else:
        p.append("no valid list.json or list-after.json")
    checks.ok(not p, "cli/regions-restored", p)

    cli.error_cases()
    return 0


if __name__ == "__main__":
    main()
