#!/usr/bin/env python3
"""docblock: the examples in the guides and man pages that a test produces.

A block is marked by a comment naming it, right before it:

  Markdown  <!-- produced by TEST: NAME -->   then a ``` fenced block
  mdoc      .\\" produced by TEST: NAME         then .Bd -literal ... .Ed

("checked by" instead of "produced by" marks an example the test takes
from the document and runs, such as a configuration.)

    docblock.py get FILE NAME          print the block's text
    docblock.py check FILE NAME TEXT   exit 0 when the block is TEXT's
                                       content (a file), else print a diff
    docblock.py update FILE NAME TEXT  write TEXT's content into the block

so the test that runs an example compares what the program printed with
what the document shows, and EVGATE_DOC_UPDATE=1 makes it rewrite the
document instead: the examples are produced, never typed.
"""
import difflib
import re
import sys


def roff_escape(line):
    line = line.replace("\\", "\\e")
    if line.startswith((".", "'")):
        line = "\\&" + line
    return line


def roff_unescape(line):
    if line.startswith("\\&"):
        line = line[2:]
    return line.replace("\\e", "\\")


def find(lines, name):
    """(first, end, roff): the block's body is lines[first:end]."""
    pat = re.compile(r"(produced|checked) by [^:]+: %s\b" % re.escape(name))
    for i, line in enumerate(lines):
        if not pat.search(line):
            continue
        roff = line.startswith('.\\"')
        opener = ".Bd" if roff else "```"
        closer = ".Ed" if roff else "```"
        j = i + 1
        while j < len(lines) and not lines[j].startswith(opener):
            j += 1
        k = j + 1
        while k < len(lines) and not lines[k].startswith(closer):
            k += 1
        if k >= len(lines):
            sys.exit("docblock: %s: block %s is not closed" % (name, name))
        return j + 1, k, roff
    sys.exit("docblock: no block named %s" % name)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    cmd, path, name = sys.argv[1:4]
    with open(path) as f:
        lines = f.read().split("\n")
    first, end, roff = find(lines, name)
    body = lines[first:end]
    if roff:
        body = [roff_unescape(x) for x in body]
    if cmd == "get":
        print("\n".join(body))
        return 0
    with open(sys.argv[4]) as f:
        want = f.read().rstrip("\n").split("\n")
    if cmd == "check":
        if body == want:
            return 0
        sys.stdout.writelines(difflib.unified_diff(
            [x + "\n" for x in body], [x + "\n" for x in want],
            "%s (%s)" % (path, name), "what the program printed"))
        return 1
    if cmd == "update":
        new = [roff_escape(x) for x in want] if roff else want
        lines[first:end] = new
        with open(path, "w") as f:
            f.write("\n".join(lines))
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
