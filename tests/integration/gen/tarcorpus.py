#!/usr/bin/env python3
"""gen/tarcorpus.py OUTDIR OUTSIDE — the hostile tar corpus.

Writes OUTDIR/CASE.tar for each case below, with headers written byte by
byte (ustar, GNU and pax records alike), so that malformed fields can be
produced that no tar tool writes.  OUTSIDE is an absolute directory the
test watches: cases that try to escape point there.  OUTDIR/cases lists
the case names, one a line.  The output is the same on every run.
"""
import os
import sys

BLOCK = 512
MTIME = 1700000000


def octal(v, width):
    """A NUL-terminated octal field, or GNU base-256 when it does not fit."""
    s = b"%o" % v if v >= 0 else b""
    if v >= 0 and len(s) < width:
        return s.rjust(width - 1, b"0") + b"\0"
    # base-256: a leading 0x80 byte (0xff for negative numbers), big endian
    n = v & ((1 << (8 * width)) - 1)
    raw = n.to_bytes(width, "big")
    return bytes([raw[0] | 0x80]) + raw[1:] if v >= 0 else raw


def header(name, typ=b"0", size=0, mode=0o644, uid=0, gid=0, link=b"",
           size_field=None, magic=b"ustar\x0000", devmajor=0, devminor=0):
    name = name if isinstance(name, bytes) else name.encode()
    link = link if isinstance(link, bytes) else link.encode()
    h = bytearray(BLOCK)

    def put(off, width, val):
        h[off:off + width] = val[:width].ljust(width, b"\0")

    put(0, 100, name)
    put(100, 8, octal(mode, 8))
    put(108, 8, octal(uid, 8))
    put(116, 8, octal(gid, 8))
    put(124, 12, size_field if size_field is not None else octal(size, 12))
    put(136, 12, octal(MTIME, 12))
    put(148, 8, b" " * 8)
    put(156, 1, typ)
    put(157, 100, link)
    put(257, 8, magic)
    put(265, 32, b"root")
    put(297, 32, b"root")
    put(329, 8, octal(devmajor, 8))
    put(337, 8, octal(devminor, 8))
    put(148, 8, b"%06o\0 " % sum(h))
    return bytes(h)


def pad(data):
    return data + b"\0" * (-len(data) % BLOCK)


def member(name, data=b"", typ=b"0", **kw):
    if typ != b"0":
        return header(name, typ, 0, **kw)
    return header(name, typ, len(data), **kw) + pad(data)


def pax_record(key, val):
    """One well-formed "LEN key=value\\n" record (LEN counts itself)."""
    body = b" " + key + b"=" + val + b"\n"
    n = len(body) + 1
    while len(b"%d" % n) + len(body) != n:
        n += 1
    return b"%d" % n + body


def pax(records, name=b"PaxHeaders/x"):
    data = b"".join(records)
    return header(name, b"x", len(data)) + pad(data)


def gnu_long(kind, value):
    """A GNU ././@LongLink member ('L' name, 'K' link target)."""
    data = value + b"\0"
    return header(b"././@LongLink", kind, len(data), magic=b"ustar  \0") + pad(data)


def end():
    return b"\0" * (2 * BLOCK)


def directory(name, mode=0o755):
    return header(name, b"5", 0, mode=mode)


def cases(outside):
    out = outside.encode()
    c = {}
    # pax path of 250 bytes in 5 directories; a GNU 'L' name and 'K' link.
    deep = b"/".join([b"d" * 49] * 4) + b"/" + b"f" * 50
    c["long_pax"] = pax([pax_record(b"path", deep)]) + member(b"placeholder", b"deep\n")
    gname = b"g" * 180
    c["long_gnu"] = (gnu_long(b"L", gname) + member(gname[:100], b"gnu long\n") +
                     gnu_long(b"K", gname) + gnu_long(b"L", b"l" * 150) +
                     header((b"l" * 150)[:100], b"2", link=gname[:100]))
    # a path over the 4095-byte limit, and one component over 255 bytes
    huge = b"/".join([b"p" * 200] * 21)
    c["path_too_long"] = pax([pax_record(b"path", huge)]) + member(b"x", b"x\n")
    c["name_too_long"] = pax([pax_record(b"path", b"n" * 300)]) + member(b"x", b"x\n")
    # pax records whose length field lies
    c["pax_len_short"] = (pax([b"10 path=pax-short-evil\n"]) + member(b"pax_short", b"a\n"))
    c["pax_len_long"] = (pax([b"999 path=pax-long-evil\n"]) + member(b"pax_long", b"a\n"))
    c["pax_len_negative"] = (pax([b"-5 path=pax-neg-evil\n"]) + member(b"pax_neg", b"a\n"))
    c["pax_len_garbage"] = (pax([b"1x2 path=pax-garbage-evil\n"]) + member(b"pax_garbage", b"a\n"))
    # a size field that is negative in base-256, and a pax size that is
    c["size_negative"] = (member(b"before", b"b\n") +
                          header(b"negsize", b"0", size_field=octal(-512, 12)) + end())
    c["size_negative_pax"] = (member(b"before", b"b\n") + pax([pax_record(b"size", b"-1")]) +
                              member(b"negsize", b""))
    # uid 2^40 in base-256, and a pax uid of 2^33
    c["uid_huge"] = member(b"uidfile", b"u\n", uid=1 << 40)
    c["uid_huge_pax"] = pax([pax_record(b"uid", b"8589934592")]) + member(b"uidfile", b"u\n")
    c["uid_max32"] = member(b"uidfile", b"u\n", uid=4294967294, gid=4294967294)
    # NUL inside a pax path: tar readers stop the name at the NUL
    c["nul_in_name"] = pax([pax_record(b"path", b"nul-a\0/../../nul-evil")]) + member(b"x", b"n\n")
    # the same name several times: the last one wins, as with tar -x
    c["duplicates"] = (member(b"dup", b"first\n") + member(b"dup", b"second\n") +
                       header(b"ln", b"2", link=b"dup") + member(b"ln", b"file now\n") +
                       directory(b"d") + member(b"d/keep", b"k\n") + directory(b"d", 0o700))
    # a hard link naming itself, with and without an earlier file
    c["hardlink_self_missing"] = header(b"self", b"1", link=b"self")
    c["hardlink_self"] = member(b"self", b"me\n") + header(b"self", b"1", link=b"self")
    c["symlink_self"] = header(b"loop", b"2", link=b"loop") + header(b"a/b", b"2", link=b"../a/b")
    # a chain of hard links, each naming the previous one
    chain = member(b"h0", b"chain\n")
    for i in range(1, 6):
        chain += header(b"h%d" % i, b"1", link=b"h%d" % (i - 1))
    c["hardlink_chain"] = chain + header(b"sub/h6", b"1", link=b"./h5")
    # names that leave the tree
    c["dotdot"] = member(b"../dotdot-evil", b"evil\n")
    c["dotdot_inner"] = member(b"a/../../dotdot-evil", b"evil\n")
    c["dotdot_hardlink"] = header(b"hl", b"1", link=b"../../etc/passwd")
    c["absolute"] = member(b"/abs-dir/abs-file", b"abs\n") + header(b"/abs-dir/abs-link", b"1", link=b"/abs-dir/abs-file")
    # a symlink to OUTSIDE, then a file "through" it; same with a directory
    # replaced by such a symlink; a hard link through it
    c["symlink_then_file"] = (header(b"esc", b"2", link=out) +
                              member(b"esc/symlink-evil", b"evil\n"))
    c["symlink_rel_then_file"] = (header(b"rel", b"2", link=b"../../../../../../../" + out.lstrip(b"/")) +
                                  member(b"rel/symlink-rel-evil", b"evil\n"))
    c["dirsymlink_then_file"] = (directory(b"dd") + member(b"dd/inside", b"in\n") +
                                 header(b"dd", b"2", link=out) +
                                 member(b"dd/dirsymlink-evil", b"evil\n"))
    c["hardlink_through_symlink"] = (header(b"esc", b"2", link=out) +
                                     header(b"hl", b"1", link=b"esc/canary"))
    return c


def finish(data):
    return data if data.endswith(end()) else data + end()


def main():
    if len(sys.argv) != 3 or not os.path.isabs(sys.argv[2]):
        sys.exit("usage: tarcorpus.py OUTDIR /ABSOLUTE/OUTSIDE")
    outdir, outside = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    all_cases = cases(outside)
    for name, data in all_cases.items():
        with open(os.path.join(outdir, name + ".tar"), "wb") as f:
            f.write(finish(data))
    with open(os.path.join(outdir, "cases"), "w") as f:
        f.write("".join(n + "\n" for n in all_cases))


if __name__ == "__main__":
    main()
