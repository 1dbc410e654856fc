#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Make a QEMU DSDT keep 64-bit integers.

QEMU's x86 DSDT has revision 1, so ACPICA truncates every integer (SSDTs
included) to 32 bits. Set the revision to 2, raise the OEM revision so the
kernel's table upgrade takes the new table, and fix the checksum.

    patch-dsdt.py IN OUT
"""
import struct
import sys


def main():
    data = bytearray(open(sys.argv[1], "rb").read())
    if data[0:4] != b"DSDT" or struct.unpack_from("<I", data, 4)[0] != len(data):
        sys.exit("patch-dsdt: %s is not a whole DSDT" % sys.argv[1])
    data[8] = 2
    oem_rev = struct.unpack_from("<I", data, 24)[0]
    struct.pack_into("<I", data, 24, (oem_rev + 1) & 0xffffffff)
    data[9] = 0
    data[9] = (-sum(data)) & 0xff
    assert sum(data) & 0xff == 0
    open(sys.argv[2], "wb").write(data)


if __name__ == "__main__":
    main()
