#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""e2e/pvh-kernel.py BZIMAGE OUT: writes the uncompressed kernel (an ELF
with a PVH entry note) held in Debian's vmlinuz BZIMAGE to OUT.

Why: the Linux guest of e2e/migrate.py runs under KVM nested in TCG,
where every exit costs milliseconds.  Booted as a bzImage, the kernel
decompresses itself for 20 s and then prints to the CGA text console
that the boot protocol reports but -nodefaults leaves out (an MMIO exit
per character), and was not at its init after 5 minutes; booted through
its PVH entry (QEMU's -kernel loads an ELF with the note directly) it
reaches init in about 30 s.

The payload is found through the boot protocol's setup header
(Documentation/arch/x86/boot.rst: setup_sects at 0x1f1, payload_offset
and payload_length at 0x248) and decompressed with Debian's xz or zstd,
whichever its magic names (6.1 is xz, 6.12 zstd).  The kernel's build
appends the uncompressed size to the payload; it is dropped.
"""
import struct
import subprocess
import sys

DECOMPRESSORS = {
    b"\xfd7zXZ\x00": ["xz", "-dc", "--single-stream"],
    b"\x28\xb5\x2f\xfd": ["zstd", "-dcq"],
}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: pvh-kernel.py BZIMAGE OUT")
    with open(sys.argv[1], "rb") as f:
        image = f.read()
    if image[0x202:0x206] != b"HdrS":
        sys.exit("pvh-kernel: %s is not a bzImage (no HdrS)" % sys.argv[1])
    setup = ((image[0x1f1] or 4) + 1) * 512
    offset, length = struct.unpack_from("<II", image, 0x248)
    payload = image[setup + offset:setup + offset + length - 4]
    cmd = next((c for m, c in DECOMPRESSORS.items() if payload.startswith(m)), None)
    if cmd is None:
        sys.exit("pvh-kernel: %s: payload compressed with neither xz nor zstd (%s)"
                 % (sys.argv[1], payload[:6].hex()))
    out = subprocess.run(cmd, input=payload, stdout=subprocess.PIPE, check=True).stdout
    if out[:4] != b"\x7fELF":
        sys.exit("pvh-kernel: %s: the payload is not an ELF" % sys.argv[1])
    with open(sys.argv[2], "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
