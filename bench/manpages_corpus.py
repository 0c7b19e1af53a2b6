#!/usr/bin/env python3
"""Builds a labelled multilingual JSONL corpus from Debian's translated
manual pages (apt-get install manpages-de manpages-fr ...): one record per
page, {"id", "text", "lang"}, the roff markup stripped. Standard library only.

usage: manpages_corpus.py [MAN_DIR] [PAGES_PER_LANGUAGE] > corpus.jsonl
"""
import gzip, json, os, re, sys

man = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/man"
per = int(sys.argv[2]) if len(sys.argv) > 2 else 150
# Directory name -> ISO 639-1 code.
langs = {"cs": "cs", "da": "da", "de": "de", "el": "el", "es": "es", "fi": "fi", "fr": "fr", "hu": "hu",
         "id": "id", "it": "it", "ja": "ja", "nb": "nb", "nl": "nl", "pl": "pl", "pt": "pt", "pt_BR": "pt",
         "ro": "ro", "ru": "ru", "sr": "sr", "sv": "sv", "tr": "tr", "uk": "uk", "vi": "vi", "zh_CN": "zh", "zh_TW": "zh"}
escape = re.compile(r"\\(f[BIRP]|f\(..|f\[[^]]*\]|\(..|\[[^]]*\]|[-&e|^0 ]|\*.|s[-+]?\d)")


def plain(src):
    out = []
    for line in src.splitlines():
        if line.startswith((".", "'")):
            m = re.match(r"^\.(SH|SS|B|I|BI|BR|IR|RB|RI|IB|TP|IP)\s+(.*)", line)
            if not m:
                continue
            line = m.group(2).replace('"', "")
        line = escape.sub("", line).strip()
        if line:
            out.append(line)
    return "\n".join(out)


for d, code in sorted(langs.items()):
    root = os.path.join(man, d)
    if not os.path.isdir(root):
        continue
    pages = []
    for sub, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            if f.endswith(".gz"):
                pages.append(os.path.join(sub, f))
    n = 0
    for p in pages:
        if n >= per:
            break
        try:
            with gzip.open(p, "rt", encoding="utf-8", errors="strict") as fh:
                text = plain(fh.read())
        except (UnicodeDecodeError, OSError, EOFError):
            continue
        if len(text) < 200 or text.startswith(".so"):
            continue
        n += 1
        print(json.dumps({"id": f"{d}/{os.path.basename(p)}", "text": text, "lang": code}, ensure_ascii=False))
