#!/usr/bin/env python3
"""make_page.py: a large HTML page (about 1.6 MB: sections, tables, lists, links) for w3m -dump,
the same bytes every run (a fixed seed)."""
import random

random.seed(1)
out = ["<html><head><title>Shade w3m test</title></head><body>"]
for i in range(3000):
    words = " ".join("word%d" % random.randint(0, 99999) for _ in range(40))
    out.append("<h2>Section %d</h2><p>%s</p>" % (i, words))
    if i % 10 == 0:
        rows = "".join("<tr>" + "".join("<td>c%d_%d</td>" % (r, c) for c in range(6)) + "</tr>"
                       for r in range(8))
        out.append("<table border=1>%s</table>" % rows)
    if i % 7 == 0:
        out.append("<ul>" + "".join('<li><a href="#s%d">link %d</a></li>' % (j, j)
                                    for j in range(10)) + "</ul>")
out.append("</body></html>")
print("\n".join(out))
