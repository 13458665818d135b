#!/usr/bin/env python3
"""gen_many.py OUT.tar NDIRS NFILES — a layer of many empty files, fast.

NDIRS directories d0000.. of NFILES empty files f000000.. each: NDIRS *
(NFILES + 1) entries, one 512-byte header each.  Headers come from the
tar corpus generator (tests/integration/gen/tarcorpus.py); the output is
the same on every run.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration", "gen"))
from tarcorpus import directory, end, header  # noqa: E402


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: gen_many.py OUT.tar NDIRS NFILES")
    out, ndirs, nfiles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with open(out, "wb", buffering=1 << 20) as f:
        for d in range(ndirs):
            dname = b"d%04d/" % d
            f.write(directory(dname))
            f.write(b"".join(header(dname + b"f%06d" % i) for i in range(nfiles)))
        f.write(end())


if __name__ == "__main__":
    main()
