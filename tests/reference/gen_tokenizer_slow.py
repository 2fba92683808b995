"""Reference ids of the tokenizer's ftfy cleanup mode (LCMD_TEXT_CLEANUP_FTFY).

The reference is the "slow" `CLIPTokenizer` of transformers 4.x (pinned: 4.57.6, in
requirements-tokenizer.txt) with ftfy installed, which is what diffusers' training scripts
get from `AutoTokenizer.from_pretrained(..., subfolder="tokenizer", use_fast=False)`:
added tokens are cut out of the raw text, and each remaining piece goes through
`whitespace_clean(ftfy.fix_text(piece)).lower()`, the CLIP pattern (the `regex` module,
IGNORECASE) and the BPE.

Reads the committed tokenizer folders (tests/fixtures/tokenizer/clip, clip_pad_bang,
clip_sdxl2: the latter two paired with clip/'s vocab.json and merges.txt), the parity corpus
of gen_tokenizer.py plus captions aimed at ftfy's fixes (HTML entities, curly quotes,
ligatures, full/halfwidth forms, C0/C1 controls, terminal escapes, line breaks,
final sigma), and writes tests/fixtures/tokenizer/corpus_slow.json: each caption, the
reference ids padded to 77 for each folder and unpadded for clip/.

liblcmd does not implement ftfy's mojibake repair (`fix_encoding`, a heuristic). The
captions on which `fix_encoding` changes the text — found by running the reference a
second time with `ftfy.fix_text(..., fix_encoding=False)` — are listed under `mojibake`
with both texts and the ids without that repair, which are what liblcmd gives.

    cd tests/reference && .venv-tok/bin/python gen_tokenizer_slow.py
"""
import functools
import json
import os
import random
import shutil
import tempfile

import gen_tokenizer as base

OUT = base.OUT
S, E = base.S, base.E
KINDS = ["clip", "clip_pad_bang", "clip_sdxl2"]

ENTITIES = ["&amp;", "Tom &amp; Jerry", "&lt;b&gt;bold&lt;/b&gt;", "&lt;3 <3", "Tom &amp; Jerry\n<b>x</b> &amp; y",
            "<b>\n&amp; next line", "first &amp;\nsecond &lt; <\nthird &amp;", "&amp;amp;", "&amp;amp;amp;lt;",
            "fish &amp;amp; chips", "&#39;", "it&#39;s", "&#x27;", "&#X27;", "&#0039;", "&#59;", "&#x3b;", "&#12ab;",
            "&#xzz;", "&#;", "&;", "&x;", "P&EACUTE;REZ", "BUNDESSTRA&SZLIG;E", "&ntilde; &Ntilde; &NTILDE; &nTILDE;",
            "&eacute", "&eacute;t&eacute;", "this&not that", "&notit;", "&notin;", "&Jscr;ohn &HilbertSpace;ancock",
            "Broken text&hellip; it&#x2019;s &#xFB02;ubberi&#xFB01;c!", "a&nbsp;b", "&#128512;", "&#x1F600;",
            "&#55357;", "&#xD83D;&#xDE00;", "&#1114112;", "&#x110000;", "&#0;", "&#13;", "&#128;", "&#129;",
            "&#x85;", "&#1;", "&#x7f;", "&#65535;", "&#xFDD0;", "&#9;tab", "&#10;nl", "&#32;",
            "&#999999999999999999999;", "&#0000000000000000000065;", "&#00000000000000000000000065;",
            "&CounterClockwiseContourIntegral;", "&ClockwiseContourIntegral;", "&AMP;", "&amp", "&ampx;",
            "&fflig; &filig;", "&#x2028;", "&#x2029;", "&lt;|endoftext|&gt;", "&lt;|startoftext|&gt;",
            "&amp;lt;|endoftext|&amp;gt;", "&LT;|ENDOFTEXT|&GT;", "&excl;&excl;", "wow&#33;", "&quot;quoted&quot;",
            "&ldquo;curly&rdquo; &lsquo;s&rsquo;", "&frac12; cup", "&copy; 2023 &reg; &trade;", "&euro;5",
            "&alpha;&beta;&Gamma;", "&Sigma;&Alpha;&Sigma;", "&sigma;", "&#931;", "&sup2;", "&micro;",
            "&amp;#39;", "&amp;#x27;", "&#38;amp;", "&#x26;lt;", "&&amp;;", "&&&", "a & b", "R&D", "AT&T;",
            "&lt;", "&gt;", "&lt", "x &lt y", "1&lt;2 but 3<4", "&apos;", "&APOS;", "&Amp;", "&aMp;"]
QUOTES = ["‘single’ “double”", "‛reversed‟", "ʼmodifier", "‚low‘ „low“", "it’s", "don’t", "we’re", "IT’S", "they’ve",
          "I’m", "you’ll", "he’d", "’s", "’", "“”", "«guillemets»", "‹single›", "″double prime″", "′prime′",
          "＂fullwidth＂", "＇s"]
LIGATURES = ["ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ", "ﬁnal ﬂower ﬃrst", "Ĳssel ĳs", "ŉ", "Ǆ ǅ ǆ Ǉ ǈ ǉ Ǌ ǋ ǌ Ǳ ǲ ǳ", "ǅemal", "ﬅop",
             "FLUﬀY", "æ œ Æ Œ ß", "ﬓ ﬔ"]
WIDTH = ["ＬＯＵＤ　ＮＯＩＳＥＳ", "Ｕﾀｰﾝ", "ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟ", "＜|endoftext|＞", "＜|startoftext|＞", "￥１００ ￦５",
         "￠￡￢￣￤", "ﾠﾡﾢ ￂￃ", "￨￩￪￫￬￭￮", "it＇s", "ｗｉｄｅ　ｔｅｘｔ！", "１２３４５", "ＡＢＣａｂｃ", "｡｢｣､･",
         "ｦｧｨｩｪｫｬｭｮｯ", "（ｆｕｌｌ）［ｗｉｄｔｈ］", "＠＃＄％＾＆＊", "＆ａｍｐ；", "&ａｍｐ;", "＆amp;"]
CONTROLS = ["a\x01b\x02c", "a\x0bb", "a\x0cb", "\x1c\x1d\x1e\x1f", "a\x1cb", "x\x7fy", "\x00nul", "a\x80b",
            "\x85", "word\x91quote\x92", "\x81\x8d\x8f\x90\x9d", "\x9f", "\x93curly\x94", "price \x80100",
            "\u206a\u206fdeprecated", "\ufeffbom", "x\ufeffy", "\ufff9a\ufffab\ufffb", "\ufffc", "\u200b\u200e\u200f",
            "flag \U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f", "\U0001d173music",
            "\x1b[31mred\x1b[0m", "\x1b[1;32;40mgreen\x1b[m", "\x1b[\u0661\u0662mdigits", "\x1b[31", "\x1b]0;title\x07",
            "\x1b\x1b[0m[0m", "\x1b[", "\x1b[31;m", "\x1b[;;;H", "\x1bx", "esc\x1b"]
BREAKS = ["a\r\nb", "a\rb", "a\u2028b", "a\u2029b", "\r\r\n", "a\x85b", "line1\nline2\n", "\n\nx\n\n", "a\r\n\r\nb",
          "x\u2028\u2029y", "\r", "&amp;\r&amp;", "&amp;\n&lt;\n&gt;", "<\n&amp;", "&amp;\n<"]
CASING = ["ΣΑΣ", "ΟΔΟΣ.", "Σ", "ΑΣ'Α", "ΑΣ'", "ΑΣ\u0301", "ΑΣ1", "ΑΣ Σ ΣΑ", "ΣΣΣ", "aΣ", "ᾼΣ", "İstanbul",
          "İ", "ſ", "it'ſ", "<|ſtartoftext|>", "<|ſTARTOFTEXT|>", "\u0345", "a\u0345b", "α\u0345", "ᾼ",
          "ǅ", "ẞ", "Ω K Å", "MAẞE", "ΌΣΟΣ", "ΌΣΟΣ.", "Σ.Σ", "a.Σ", "ʰΣ", "AΣʰ", "AΣʰb"]
SPECIAL = ["a<|endoftext|>&amp;", "&amp<|endoftext|>;", "&lt;<|endoftext|>&gt;", "x <|endoftext|> &lt;", "!&#33;",
           "&excl;!", "<|endoftext|>\n<b>&amp;", "<b><|endoftext|>&amp;", "<|STARTOFTEXT|>", "<|StartOfText|>x",
           "<|startoftext|><|startoftext|>", "a<|startoftext|>b", "<|ENDOFTEXT|>", "x<|EndOfText|>y",
           "<|endoftext|>'s", "'S 'T 'RE 'VE 'M 'LL 'D"]
MOJIBAKE = ["âœ” No problems", "sÃ³", "voilÃ le travail", "Ã©tÃ©", "The Mona Lisa doesnÃ¢â‚¬â„¢t have eyebrows.",
            "&macr;\\_(ã\x83\x84)_/&macr;", "CafÃ© au lait", "Ã¼ber", "â€œquotedâ€\x9d", "ÐŸÑ€Ð¸Ð²ÐµÑ‚",
            "Ã\xa0 la mode", "l’humanitÃ©"]
GROUPS = [ENTITIES, QUOTES, LIGATURES, WIDTH, CONTROLS, BREAKS, CASING, SPECIAL, MOJIBAKE]


def corpus():
    items = base.corpus()
    extra = [c for g in GROUPS for c in g]
    rng = random.Random(20240601)
    pools = GROUPS[:-1] + [base.ADJ, base.NOUN, base.ENTITIES, base.APOS, base.ODD, base.SPECIAL]
    seps = base.SEPS + ["\r\n", "\u2028", "&amp;", "’", "ﬁ"]
    while len(extra) < 420:
        parts = []
        for _ in range(rng.randint(1, 10)):
            parts.append(rng.choice(rng.choice(pools)))
            parts.append(rng.choice(seps))
        extra.append("".join(parts))
    return items + [{"text": c} for c in extra]


def folders(tmp):
    out = {}
    for k in KINDS:
        d = os.path.join(OUT, "clip")
        if k != "clip":
            d = os.path.join(tmp, k)
            os.makedirs(d)
            for f in ("vocab.json", "merges.txt"):
                shutil.copy(os.path.join(OUT, "clip", f), d)
            for f in ("special_tokens_map.json", "tokenizer_config.json"):
                shutil.copy(os.path.join(OUT, k, f), d)
        out[k] = d
    return out


def main():
    import ftfy
    import regex
    import transformers
    from transformers import CLIPTokenizer
    assert transformers.__version__.startswith("4."), "needs the slow CLIPTokenizer of transformers 4.x"
    items = corpus()
    texts = [it["text"] if "text" in it else bytes.fromhex(it["bytes_hex"]).decode("utf-8", errors="replace")
             for it in items]
    no_fe = functools.partial(ftfy.fix_text, fix_encoding=False)
    ref = {"padded": {}, "full": None}
    alt = {"padded": {}, "full": None}
    with tempfile.TemporaryDirectory() as tmp:
        for k, d in folders(tmp).items():
            tok = CLIPTokenizer.from_pretrained(d)
            assert tok.fix_text is ftfy.fix_text and tok.model_max_length == 77
            ref["padded"][k] = tok(texts, max_length=77, padding="max_length", truncation=True).input_ids
            if k == "clip":
                ref["full"] = [tok(t).input_ids for t in texts]
            tok.fix_text = no_fe
            alt["padded"][k] = tok(texts, max_length=77, padding="max_length", truncation=True).input_ids
            if k == "clip":
                alt["full"] = [tok(t).input_ids for t in texts]
    moji = []
    for i, t in enumerate(texts):
        if any(ref["padded"][k][i] != alt["padded"][k][i] for k in KINDS) or ref["full"][i] != alt["full"][i]:
            moji.append({"index": i, "fix_text": ftfy.fix_text(t), "without_fix_encoding": no_fe(t),
                         "full": alt["full"][i], "padded": {k: alt["padded"][k][i] for k in KINDS}})
    meta = {"transformers": transformers.__version__, "ftfy": ftfy.__version__, "regex": regex.__version__,
            "python": __import__("sys").version.split()[0], "max_length": 77,
            "call": "CLIPTokenizer (slow) tok(caption, max_length=77, padding='max_length', truncation=True)"}
    path = os.path.join(OUT, "corpus_slow.json")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write('{\n"meta": ' + json.dumps(meta, sort_keys=True) + ',\n"captions": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=True) for c in items))
        f.write('\n],\n"full": [\n' + ",\n".join(json.dumps(r) for r in ref["full"]))
        f.write('\n],\n"padded": {\n')
        f.write(",\n".join(f'"{k}": [\n' + ",\n".join(json.dumps(r) for r in ref["padded"][k]) + "\n]"
                           for k in KINDS))
        f.write('\n},\n"mojibake": [\n' + ",\n".join(json.dumps(m, ensure_ascii=True, sort_keys=True) for m in moji))
        f.write("\n]\n}\n")
    print(f"{path}: {len(items)} captions, {len(moji)} changed by fix_encoding:")
    for m in moji:
        print(f"  {m['index']}: {texts[m['index']]!r} -> {m['fix_text']!r} (without: {m['without_fix_encoding']!r})")


if __name__ == "__main__":
    main()
