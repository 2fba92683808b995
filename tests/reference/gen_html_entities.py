"""Data tables of the tokenizer's ftfy cleanup mode (lib/text/tok_ftfy.c), generated
from Python's standard library so that the C code needs no Python at build time:

  lib/text/html_entities.inc  the HTML5 named character references that ftfy's
                              `unescape_html` decodes (html.entities.html5's names that end
                              in ';' and fit ftfy's pattern `&#?[0-9A-Za-z]{1,24};`, plus
                              the upper-cased variants ftfy adds for all-lower-case names
                              that html.unescape leaves alone, e.g. &EACUTE; -> É), and the
                              numeric-reference rules of html.unescape (its
                              `_invalid_charrefs` table and `_invalid_codepoints` set);
  lib/text/ftfy_tables.inc    ftfy's other translation tables, derived the way ftfy derives
                              them: the width map (U+FF01..U+FFEF -> NFKC, U+3000 -> space),
                              the Latin ligatures (their compatibility decomposition), the
                              Windows-1252 meaning of the C1 controls (`fix_c1_controls`,
                              ftfy's "sloppy" codec: undefined bytes stay themselves), and
                              the Unicode properties Cased and Case_Ignorable that Python's
                              str.lower() uses for the final-sigma rule (read back from
                              str.lower itself).

The tables depend on the Python that runs this script (its unicodedata version is written
into the files). Run it with the tokenizer reference environment, which also has ftfy:
then every table is checked against ftfy's own (ftfy.chardata).

    cd tests/reference && .venv-tok/bin/python gen_html_entities.py
"""
import html
import html.entities
import os
import re
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.normpath(os.path.join(HERE, "..", "..", "lib", "text"))
ENTITY_RE = re.compile(r"[0-9A-Za-z]{1,24};")
LIGATURE_CPS = [0x132, 0x133, 0x149, 0x1F1, 0x1F2, 0x1F3, 0x1C4, 0x1C5, 0x1C6, 0x1C7, 0x1C8, 0x1C9, 0x1CA, 0x1CB,
                0x1CC, 0xFB00, 0xFB01, 0xFB02, 0xFB03, 0xFB04, 0xFB05, 0xFB06]


def c_str(s):
    """A C string literal of s's UTF-8 bytes (octal escapes: no hex-digit run-on)."""
    out = []
    for b in s.encode("utf-8"):
        ch = chr(b)
        out.append(ch if (ch.isascii() and ch.isalnum()) or ch in " _-.,:/()[]{}+*=" else "\\%03o" % b)
    return '"' + "".join(out) + '"'


def entities():
    """name (without '&' and ';') -> value, as ftfy's HTML_ENTITIES restricted to the
    names its pattern can match."""
    ent = {}
    for name, char in html.entities.html5.items():
        if not name.endswith(";"):
            continue
        ent[name] = char
        if name == name.lower():
            up = name.upper()
            if html.unescape("&" + up) == "&" + up:
                ent[up] = char.upper()
    return {n[:-1]: v for n, v in ent.items() if ENTITY_RE.fullmatch(n)}


def ranges(pred):
    out, start = [], None
    for c in range(0x110001):
        p = c <= 0x10FFFF and not (0xD800 <= c <= 0xDFFF) and pred(c)
        if p and start is None:
            start = c
        elif not p and start is not None:
            out.append((start, c - 1))
            start = None
    return out


def is_cased(c):
    x = chr(c)
    return x.islower() or x.isupper() or x.istitle()


def is_case_ignorable(c):
    """Read back from str.lower's final-sigma rule (see the module docstring)."""
    x = chr(c)
    if is_cased(c):
        return ("A\u03a3" + x).lower()[1] == "\u03c2"
    return ("A\u03a3" + x + "a").lower()[1] == "\u03c3"


def check_against_ftfy(ent, width, lig, c1):
    try:
        from ftfy import chardata
        import ftfy
    except ImportError:
        print("ftfy not importable: tables not cross-checked", file=sys.stderr)
        return None
    theirs = {k[1:-1]: v for k, v in chardata.HTML_ENTITIES.items() if ENTITY_RE.fullmatch(k[1:])}
    assert theirs == ent, "HTML entity table differs from ftfy's"
    assert {k: v for k, v in chardata.WIDTH_MAP.items() if k != 0x3000} == width and chardata.WIDTH_MAP[0x3000] == " "
    assert {k: v for k, v in chardata.LIGATURES.items()} == lig
    assert all(bytes([b]).decode("sloppy-windows-1252") == chr(c1[b - 0x80]) for b in range(0x80, 0xA0))
    return ftfy.__version__


def write(path, text):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"{path}: {text.count(chr(10))} lines")


def main():
    ent = entities()
    width = {}
    for c in range(0xFF01, 0xFFF0):
        alt = unicodedata.normalize("NFKC", chr(c))
        if alt != chr(c):
            width[c] = alt
    lig = {}
    for c in LIGATURE_CPS:
        parts = unicodedata.decomposition(chr(c)).split()
        assert parts[0] == "<compat>"
        lig[c] = unicodedata.normalize("NFC", "".join(chr(int(p, 16)) for p in parts[1:]))
    c1 = []
    for b in range(0x80, 0xA0):
        try:
            c1.append(ord(bytes([b]).decode("cp1252")))
        except UnicodeDecodeError:
            c1.append(b)
    ftfy_version = check_against_ftfy(ent, width, lig, c1)
    # html.unescape's numeric rules: the table, and the "invalid code points" set as ranges
    charrefs = sorted(html._invalid_charrefs.items())
    assert all(len(v) == 1 for _, v in charrefs)
    invalid = sorted(html._invalid_codepoints)
    inv_ranges = []
    for c in invalid:
        if inv_ranges and inv_ranges[-1][1] == c - 1:
            inv_ranges[-1][1] = c
        else:
            inv_ranges.append([c, c])
    head = (f"/* Generated by tests/reference/gen_html_entities.py from Python {sys.version.split()[0]} "
            f"(unicodedata {unicodedata.unidata_version}){', checked against ftfy ' + ftfy_version if ftfy_version else ''}."
            f"\n * Do not edit. */\n")

    names = sorted(ent, key=lambda n: n.encode())
    lines = [head, "/* HTML5 named references ftfy's unescape_html decodes: `&name;` -> value, sorted by name\n"
             " * (bytewise) for binary search. */",
             "static const struct tok_html_entity { const char *name; const char *value; } tok_html_entities[] = {"]
    lines += [f"    {{ {c_str(n)}, {c_str(ent[n])} }}," for n in names]
    lines += ["};", "",
              "/* html.unescape: numeric references replaced by a fixed character (Python's _invalid_charrefs). */",
              "static const struct tok_html_charref { int32_t num; int32_t cp; } tok_html_charrefs[] = {"]
    lines += [f"    {{ 0x{k:X}, 0x{ord(v):X} }}," for k, v in charrefs]
    lines += ["};", "",
              "/* html.unescape: numeric references that decode to nothing (Python's _invalid_codepoints). */",
              "static const int32_t tok_html_invalid_cps[][2] = {"]
    lines += [f"    {{ 0x{a:X}, 0x{b:X} }}," for a, b in inv_ranges]
    lines += ["};", ""]
    write(os.path.join(LIB, "html_entities.inc"), "\n".join(lines))

    lines = [head, "/* fix_character_width: U+FF00 + i -> string (NULL: unchanged); U+3000 -> ' ' is in the code. */",
             "static const char *const tok_width_map[0xF0] = {"]
    lines += [f"    {c_str(width[c]) if c in width else 'NULL'}, /* U+{c:04X} */" for c in range(0xFF00, 0xFFF0)]
    lines += ["};", "", "/* fix_latin_ligatures. */",
              "static const struct tok_ligature { int32_t cp; const char *value; } tok_ligatures[] = {"]
    lines += [f"    {{ 0x{c:X}, {c_str(lig[c])} }}," for c in sorted(lig)]
    lines += ["};", "", "/* fix_c1_controls: U+0080 + i -> its Windows-1252 character (undefined bytes: itself). */",
              "static const int32_t tok_c1_cp1252[32] = {"]
    lines += ["    " + ", ".join(f"0x{c:X}" for c in c1[i:i + 8]) + "," for i in range(0, 32, 8)]
    lines += ["};", ""]
    for name, pred in (("tok_cased", is_cased), ("tok_case_ignorable", is_case_ignorable)):
        rs = ranges(pred)
        lines += [f"/* Unicode {'Cased' if name == 'tok_cased' else 'Case_Ignorable'} as Python's str.lower sees it: "
                  "inclusive ranges, sorted. */", f"static const int32_t {name}[][2] = {{"]
        lines += ["    " + " ".join(f"{{ 0x{a:X}, 0x{b:X} }}," for a, b in rs[i:i + 4]) for i in range(0, len(rs), 4)]
        lines += ["};", ""]
    write(os.path.join(LIB, "ftfy_tables.inc"), "\n".join(lines))


if __name__ == "__main__":
    main()
