"""CLIP tokenizer fixtures: the tokenizer folder and the parity corpus.

Writes under tests/fixtures/tokenizer/:
  clip/             a diffusers SD 1.x `tokenizer/` folder (vocab.json, merges.txt,
                    special_tokens_map.json, tokenizer_config.json) derived from OpenAI's
                    CLIP BPE file `bpe_simple_vocab_16e6.txt.gz` (MIT), as shipped in the
                    open_clip_torch wheel; built the way OpenAI's SimpleTokenizer builds its
                    vocabulary (the 256 byte symbols, the same with `</w>`, one token per
                    merge, then `<|startoftext|>`, `<|endoftext|>`: 49408 tokens);
  clip_pad_bang/    the two JSON files of an SD 2.x tokenizer (pad token `!`);
  clip_sdxl2/       the two JSON files of an SDXL `tokenizer_2` (pad `!`, added_tokens_decoder);
                    the C tests pair them with clip/'s vocab.json and merges.txt;
  corpus.json       >= 500 captions (generated here: templates, word lists, seeded random
                    combinations) and, for each, the reference ids: `padded` per folder as
                    the training script calls the tokenizer (max_length=77,
                    padding="max_length", truncation=True), `full` for clip/ without
                    truncation or padding.

The reference is transformers' CLIPTokenizer of the pinned environment (transformers
5.17: the `tokenizers`-backed class; transformers 5 has no slow, ftfy-based
CLIPTokenizer any more). Captions whose bytes are not UTF-8 are stored as hex
(`bytes_hex`) and given to the reference as `bytes.decode("utf-8", errors="replace")`.

The BPE file is read from the installed open_clip package if there is one, else from the
wheel `pip download open_clip_torch==3.3.0 --no-deps` fetches (only that file is used;
open_clip itself is not imported); its SHA-256 is checked.

    cd tests/reference && .venv/bin/python gen_tokenizer.py
"""
import gzip
import hashlib
import importlib.util
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unicodedata
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "fixtures", "tokenizer"))
BPE_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
OPEN_CLIP_PIN = "open_clip_torch==3.3.0"
S, E = "<|startoftext|>", "<|endoftext|>"


def bpe_file_bytes():
    spec = importlib.util.find_spec("open_clip")
    if spec is not None and spec.submodule_search_locations:
        p = os.path.join(spec.submodule_search_locations[0], "bpe_simple_vocab_16e6.txt.gz")
        if os.path.exists(p):
            with open(p, "rb") as f:
                data = f.read()
            if hashlib.sha256(data).hexdigest() == BPE_SHA256:
                return data
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", d, OPEN_CLIP_PIN], check=True)
        whl = [f for f in os.listdir(d) if f.endswith(".whl")][0]
        with zipfile.ZipFile(os.path.join(d, whl)) as z:
            data = z.read("open_clip/bpe_simple_vocab_16e6.txt.gz")
    if hashlib.sha256(data).hexdigest() != BPE_SHA256:
        raise SystemExit("bpe_simple_vocab_16e6.txt.gz: unexpected SHA-256")
    return data


def byte_symbols():
    """Byte -> its character in the BPE alphabet (printable Latin-1 bytes keep their
    code point, the others take U+0100.. in byte order), in vocabulary order: the
    printable bytes first, then the others."""
    kept = [b for b in range(256) if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF]
    out = {b: chr(b) for b in kept}
    others = [b for b in range(256) if b not in kept]
    out.update({b: chr(256 + n) for n, b in enumerate(others)})
    return out


def build_clip_folder(path):
    lines = gzip.open(io.BytesIO(bpe_file_bytes())).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
    syms = list(byte_symbols().values())
    vocab = syms + [s + "</w>" for s in syms] + ["".join(m) for m in merges] + [S, E]
    assert len(vocab) == 49408 and len(set(vocab)) == 49408
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(path, "merges.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")


def tok_obj(content, normalized=True, typed=False):
    d = {"content": content, "lstrip": False, "normalized": normalized, "rstrip": False, "single_word": False}
    return {"__type": "AddedToken", **d} if typed else d


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def config_files(kind):
    """(special_tokens_map, tokenizer_config) as the SD repositories ship them."""
    pad = E if kind == "clip" else "!"
    if kind in ("clip", "clip_pad_bang"):   # SD 1.5 (openai/clip-vit-large-patch14) and SD 2.x style
        stm = {"bos_token": tok_obj(S), "eos_token": tok_obj(E), "pad_token": pad, "unk_token": tok_obj(E)}
        cfg = {"add_prefix_space": False, "bos_token": tok_obj(S, typed=True), "do_lower_case": True,
               "eos_token": tok_obj(E, typed=True), "errors": "replace", "model_max_length": 77,
               "pad_token": pad, "special_tokens_map_file": "./special_tokens_map.json",
               "tokenizer_class": "CLIPTokenizer", "unk_token": tok_obj(E, typed=True)}
        return stm, cfg
    # SDXL tokenizer_2 (newer transformers format)
    stm = {"bos_token": tok_obj(S), "eos_token": tok_obj(E), "pad_token": "!", "unk_token": tok_obj(E)}
    cfg = {"add_prefix_space": False,
           "added_tokens_decoder": {"0": {**tok_obj("!", False), "special": True},
                                    "49406": {**tok_obj(S), "special": True},
                                    "49407": {**tok_obj(E), "special": True}},
           "bos_token": S, "clean_up_tokenization_spaces": True, "do_lower_case": True, "eos_token": E,
           "errors": "replace", "model_max_length": 77, "pad_token": "!", "tokenizer_class": "CLIPTokenizer",
           "unk_token": E}
    return stm, cfg


# ---- the corpus ----------------------------------------------------------------------

ADJ = ["red", "beautiful", "old", "tiny", "HUGE", "Vintage", "neon-lit", "rusty", "fluffy", "golden", "misty",
       "hyper-realistic", "8k", "cinematic", "award-winning", "café-style", "naïve", "über-cool", "ÉLÉGANT"]
NOUN = ["cat", "dog", "castle", "robot", "mountain", "city skyline", "portrait", "bicycle", "teapot", "dragon",
        "sunflower", "spaceship", "lighthouse", "croissant", "Zürich tram", "São Paulo street", "straße", "Ångström"]
PLACE = ["on the beach", "in Tokyo", "at night", "under the sea", "in a forest", "on Mars", "in the rain",
         "at the Louvre", "near the Eiffel Tower", "in Reykjavík", "in Kraków", "à Montréal"]
STYLE = ["oil painting", "digital art", "trending on artstation", "by Greg Rutkowski", "unreal engine 5",
         "35mm film", "f/1.8, ISO 100", "studio lighting", "4K HDR", "watercolor", "ukiyo-e", "pixel art"]
SCRIPTS = ["東京の夜景", "中国 长城 风景", "한국어 텍스트 사진", "カメラで撮った写真", "مرحبا بالعالم", "שָׁלוֹם עולם",
           "Привет, мир! Фото кошки", "नमस्ते दुनिया", "สวัสดีครับ", "ΟΔΟΣ σοφία Σ", "Ελληνικά", "Türkçe İstanbul ıı",
           "Tiếng Việt có dấu", "Ελλάς", "ქართული", "Հայերեն", "தமிழ் புகைப்படம்", "বাংলা ছবি", "ייִדיש", "Ўзбек"]
EMOJI = ["🔥", "🔥🔥🔥", "👍🏽", "👨‍👩‍👧", "🇯🇵", "❤️", "😂😂", "🐱", "✨", "🎉🎊", "☕", "🏳️‍🌈", "🫠"]
ENTITIES = ["Tom &amp; Jerry", "&lt;b&gt;bold&lt;/b&gt;", "it&#39;s", "&quot;quoted&quot;", "a&nbsp;b", "&#x2764;",
            "&#10084;", "AT&T", "&copy; 2023", "fish &amp;amp; chips", "&eacute;t&eacute;", "5 &gt; 3"]
URLS = ["https://www.example.com/images/photo_001.jpg?size=large&v=2", "http://t.co/AbC123",
        "www.shop.de/produkte/kaffee-maschine", "user@example.org", "ftp://files.example.net/a%20b.png",
        "#sunset #photography", "@john_doe", "example.com/?q=caf%C3%A9"]
NUMBERS = ["1920x1080", "3.14159", "$199.99", "50%", "2023-05-17", "12:30pm", "No. 5", "1,000,000", "-42",
           "v2.1.0", "0.001", "1st 2nd 3rd 4th", "٣٤٥", "١٢", "①②③", "½ cup", "E=mc²", "x₁ + x₂", "Ⅻ o'clock",
           "１２３ ＡＢＣ", "१२३"]
APOS = ["it's", "don't", "we're", "they've", "I'm", "you'll", "he'd", "IT'S", "O'Neil's", "'s'", "rock 'n' roll",
        "''s", "it’s", "“quoted”", "‘single’", "«guillemets»", "„deutsch“", "'Tis", "y'all'd've", "'LL", "''"]
ODD = ["\u200b", "a\u200bb", "zero\u200cwidth\u200djoiner", "\ufeffbom", "word\u2060joiner", "\u00ad", "soft\u00adhyphen",
       "e\u0301", "\u0301", "a\u0308\u0301", "o\u0323\u0302", "\u212b", "\u2126", "\u1100\u1161\u11a8", "ǅ", "ẞ",
       "ﬁ ligature", "ｶﾀｶﾅ", "𝔸𝕓𝒸", "∀x∈ℝ", "∑∫√∞≠≤≥±×÷", "\x00", "\x07bell", "\x1b[31mred\x1b[0m", "\x7f",
       "a\u0085b", "line\u2028sep", "para\u2029sep", "\ufffe", "\uffff", "\ue000", "\U0010fffd", "\ufffd",
       "\u3000ideographic\u3000space", "tab\tsep", "new\nline", "cr\r\nlf", "\u00a0nbsp\u00a0", "\u202fnarrow",
       "\u1680ogham", "\u180emongolian", "\u2000\u200a", "ΣΑΣ", "ᾼ", "ǰ", "\u0130", "I\u0307"]
SPECIAL = [E, S, "<|ENDOFTEXT|>", "<|EndOfText|>", "<|STARTOFTEXT|>", f"a{E}b", f"{E}{E}", f"{S}{E}", "<|endof",
           "<|endoftext|", "!!<|endoftext|>>", f"x {E} y", "hello!!!", "!", "!!", "wow! great!", "<|startoftext|>>",
           f"{E}\u0301", "<|ENDOFTEXT|>!", "< |endoftext| >"]
SEPS = [" ", "  ", ", ", ". ", " - ", "\t", "\n", " | ", "; ", "...", "!", "?", " / ", "\u3000", "_", ""]
INVALID = [b"caf\xe9", b"\xff\xfe", b"\xed\xa0\x80 surrogate", b"\xc0\x80 overlong", b"cut \xe2\x82", b"emoji \xf0\x9f\x94",
           b"\xf4\x90\x80\x80 too big", b"a\x80b", b"\xe0\x80\xaf", b"\xf8\x88\x80\x80\x80", b"ok \xe2\x82\xac euro \xe2",
           b"\xc3", b"\xef\xbf\xbd real", b"\xfe\xff\xc1\xbf", b"mix \xce\xbb \xce caf\xc3\xa9"]


def corpus():
    rng = random.Random(20240517)
    caps = []
    for a in ADJ:
        caps.append(f"a photo of a {a} {rng.choice(NOUN)} {rng.choice(PLACE)}, {rng.choice(STYLE)}")
    for group in (SCRIPTS, EMOJI, ENTITIES, URLS, NUMBERS, APOS, ODD, SPECIAL):
        caps.extend(group)
    caps += ["", " ", "   ", "\t\n", "\u3000\u00a0", "\n\n\n"]
    caps.append(unicodedata.normalize("NFD", "Café résumé naïve Ångström Œuvre Žluťoučký kůň"))
    caps.append(unicodedata.normalize("NFD", "한국어 텍스트"))
    caps.append(" ".join(rng.choice(NOUN) for _ in range(120)))            # > 77 tokens
    caps.append("a" * 600)
    caps.append("1234567890" * 30)
    caps.append("!" * 300)
    caps.append("supercalifragilisticexpialidocious " * 20)
    caps.append("东京" * 200)
    caps.append(E * 100)
    caps.append("\U0001f525" * 100)
    pools = [ADJ, NOUN, PLACE, STYLE, SCRIPTS, EMOJI, ENTITIES, URLS, NUMBERS, APOS, ODD, SPECIAL]
    while len(caps) < 620:
        k = rng.randint(1, 14)
        parts = []
        for _ in range(k):
            w = rng.choice(rng.choice(pools))
            if rng.random() < 0.15:
                w = w.upper()
            elif rng.random() < 0.1:
                w = w.title()
            parts.append(w)
            parts.append(rng.choice(SEPS))
        caps.append("".join(parts))
    items = [{"text": c} for c in caps]
    items += [{"bytes_hex": b.hex()} for b in INVALID]
    return items


def main():
    import tokenizers
    import transformers
    from transformers import CLIPTokenizer
    clip_dir = os.path.join(OUT, "clip")
    build_clip_folder(clip_dir)
    kinds = ["clip", "clip_pad_bang", "clip_sdxl2"]
    for k in kinds:
        d = os.path.join(OUT, k)
        os.makedirs(d, exist_ok=True)
        stm, cfg = config_files(k)
        write_json(os.path.join(d, "special_tokens_map.json"), stm)
        write_json(os.path.join(d, "tokenizer_config.json"), cfg)
    items = corpus()
    texts = [it["text"] if "text" in it else bytes.fromhex(it["bytes_hex"]).decode("utf-8", errors="replace")
             for it in items]
    out = {"meta": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                    "bpe_sha256": BPE_SHA256, "max_length": 77,
                    "call": "tok(caption, max_length=77, padding='max_length', truncation=True)"},
           "captions": items, "padded": {}, "full": None}
    with tempfile.TemporaryDirectory() as tmp:
        for k in kinds:
            d = clip_dir
            if k != "clip":
                d = os.path.join(tmp, k)
                os.makedirs(d)
                for f in ("vocab.json", "merges.txt"):
                    shutil.copy(os.path.join(clip_dir, f), d)
                for f in ("special_tokens_map.json", "tokenizer_config.json"):
                    shutil.copy(os.path.join(OUT, k, f), d)
            tok = CLIPTokenizer.from_pretrained(d)
            assert tok.model_max_length == 77
            out["padded"][k] = tok(texts, max_length=77, padding="max_length", truncation=True).input_ids
            if k == "clip":
                out["full"] = [tok(t).input_ids for t in texts]
    path = os.path.join(OUT, "corpus.json")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        # one caption / one id row per line: small diffs when regenerated
        f.write('{\n"meta": ' + json.dumps(out["meta"], sort_keys=True) + ',\n"captions": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=True) for c in items))
        f.write('\n],\n"full": [\n' + ",\n".join(json.dumps(r) for r in out["full"]))
        f.write('\n],\n"padded": {\n')
        f.write(",\n".join(f'"{k}": [\n' + ",\n".join(json.dumps(r) for r in out["padded"][k]) + "\n]"
                           for k in kinds))
        f.write("\n}\n}\n")
    print(f"{path}: {len(items)} captions")


if __name__ == "__main__":
    main()
