#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the arm64 bench machine's SRAT, for ACPI_TABLE_UPGRADE.

Under UEFI, virt's 64 MiB firmware flash is memory that QEMU's own SRAT
leaves out, and the kernel then collapses to one node ("NUMA: no nodes
coverage"). This SRAT is QEMU's with the flash added to node 0: one GICC
affinity entry per vCPU and one memory affinity entry per range of each
node's EGM_PLAT_NODE<n>_RANGES. It carries QEMU's OEM IDs and a higher
OEM revision, so that it replaces QEMU's table (acpi_table_initrd_override()).

    srat.py PLATFORM_FILE CPUS OUT

CPUS is "UID:NODE ..." (a vCPU's ACPI processor UID and its node).
"""
import struct
import sys


def platform(path):
    env = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            env[k] = v.strip('"')
    return env


def table(body):
    length = 36 + len(body)
    hdr = struct.pack("<4sIBB6s8sI4sI", b"SRAT", length, 3, 0, b"BOCHS ",
                      b"BXPC    ", 2, b"BXPC", 1)
    raw = hdr + body
    csum = (-sum(raw)) & 0xFF
    return raw[:9] + bytes([csum]) + raw[10:]


def main():
    env = platform(sys.argv[1])
    cpus = [tuple(int(x) for x in c.split(":")) for c in sys.argv[2].split()]
    body = struct.pack("<IQ", 1, 0)
    for uid, node in cpus:
        # GICC affinity: type 3, length 18, enabled.
        body += struct.pack("<BBIIII", 3, 18, node, uid, 1, 0)
    node = 0
    while "EGM_PLAT_NODE%d_RANGES" % node in env:
        for r in env["EGM_PLAT_NODE%d_RANGES" % node].split(","):
            start, end = (int(x, 0) for x in r.split("-"))
            # Memory affinity: type 1, length 40, enabled.
            body += struct.pack("<BBIHQQIIQ", 1, 40, node, 0, start,
                                end + 1 - start, 0, 1, 0)
        node += 1
    if not node:
        sys.exit("srat.py: %s has no EGM_PLAT_NODE0_RANGES" % sys.argv[1])
    open(sys.argv[3], "wb").write(table(body))


if __name__ == "__main__":
    main()
