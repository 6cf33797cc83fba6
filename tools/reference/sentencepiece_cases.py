"""SentencePiece and Marian tokenizer fixtures, from Debian's python3-sentencepiece (0.1.97).

    /usr/bin/python3 tools/reference/sentencepiece_cases.py      # ~1 min; writes test/fixtures/sentencepiece/

Trains four small models on Multi30k training text (../shared/data/multi30k, $TESSERA_DATA overrides),
deterministically (one thread, no sampling), each covering different code paths:
  unigram-nfkc.model.gz   unigram, 1000 pieces, the default nmt_nfkc normalizer (its precompiled
                          charsmap is ~240 KB, hence gzip), a user-defined <sep>, a control <ctrl>, <pad>;
  unigram-bytes.model     unigram, 1000 pieces, byte fallback, a small hand-made rule set (below);
  bpe.model               BPE, 1000 pieces, byte fallback, the same rules, a user-defined <sep>;
  bpe-raw.model           BPE, 400 pieces, identity normalizer, no whitespace clean-up, no dummy prefix;
  *-unused.model          unigram-bytes and bpe with six frequent pieces retyped UNUSED (as when a
                          vocabulary is restricted): unigram steps around them, BPE splits them back.
cases.json holds, for every model and every text, the library's ids, pieces and decoded text, plus
decoding cases (random id lists, which put byte pieces in odd places; hand-picked piece lists).
unigram-bytes.tokenizer.json and bpe.tokenizer.json are what Hugging Face's SpmConverter writes for
those models (Precompiled + Strip + Replace normalizers, Metaspace, merges from the vocabulary).

marian/ is a MarianTokenizer folder (source.spm: English, target.spm: German, vocab.json: the union,
with three source pieces left out so they map to <unk>, plus >>de<< and >>fr<< codes);
marian-cases.json holds encodings and decodings computed by HF's MarianTokenizer algorithm
(transcribed below: special tokens split out, language code, source pieces -> vocab ids, </s>).
"""

import base64
import gzip
import json
import os
import random
import re
import shutil
import sys
import tempfile
import unicodedata

import sentencepiece as spm

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "train"))
from sentencepiece_multi30k import data_dir, marian_vocab, read_lines, train_unigram, write_marian_tokenizer  # noqa: E402

OUT = os.path.join(REPO, "test", "fixtures", "sentencepiece")
SPIECE = "\u2581"
TRAIN_LINES = 6000  # per language; enough for these vocabulary sizes
SENTENCES = 20  # first test sentences per language


def rules_tsv(path):
    """A small normalization rule set: spaces, NFKC of full-width forms, ligatures and a few symbols,
    zero-width deletion, and NFC composition of accents (two-character keys, to test longest match)."""
    rules = {"\t": " ", "\n": " ", "\r": " ", "\u00a0": " ", "\u2009": " ", "\u3000": " ", "\u200b": ""}
    for c in list(range(0xFF01, 0xFF5F)) + list(range(0xFB00, 0xFB07)) + [0xB2, 0xB3, 0xB9, 0xBD, 0x2122, 0x2026, 0x2160, 0x2161]:
        rules[chr(c)] = unicodedata.normalize("NFKC", chr(c))
    for base in "aeiouynAEIOUYNcC":
        for mark in "\u0300\u0301\u0302\u0303\u0308\u0327":
            composed = unicodedata.normalize("NFC", base + mark)
            if len(composed) == 1:
                rules[base + mark] = composed
    with open(path, "w", encoding="utf-8") as f:
        for src, dst in rules.items():
            f.write(" ".join(f"{ord(c):X}" for c in src) + "\t" + " ".join(f"{ord(c):X}" for c in dst) + "\n")


def train(lines, prefix, tmp, **options):
    text = os.path.join(tmp, "train.txt")
    with open(text, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    spm.SentencePieceTrainer.train(input=text, model_prefix=os.path.join(tmp, prefix), num_threads=1, shuffle_input_sentence=False, minloglevel=2, **options)
    return os.path.join(tmp, prefix + ".model")


# --- a minimal protobuf reader, for the fields tokenizer.json needs (no google.protobuf here) ---


def varint(data, i):
    value, shift = 0, 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def fields(data):
    i = 0
    while i < len(data):
        key, i = varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(data, i)
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        elif wire == 2:
            length, i = varint(data, i)
            value, i = data[i : i + length], i + length
        else:
            raise ValueError(f"wire type {wire}")
        yield number, value


def encode_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def with_unused_pieces(model_bytes, ids):
    """The model with pieces `ids` retyped UNUSED (5): segmentation must step around them."""
    out, index = bytearray(), 0
    for number, value in fields(model_bytes):
        if number == 1:
            if index in ids:
                piece = b"".join(encode_varint(n << 3 | (0 if n == 3 else 2 if n == 1 else 5)) + (encode_varint(v) if n == 3 else (encode_varint(len(v)) + v if n == 1 else v))
                                 for n, v in fields(value) if n != 3)
                value = piece + encode_varint(3 << 3) + encode_varint(5)
            index += 1
        out += encode_varint(number << 3 | 2) + encode_varint(len(value)) + value
    return bytes(out)


def read_model_proto(path):
    """pieces [(piece, score, type)], model_type, byte_fallback, unk piece, precompiled_charsmap."""
    import struct

    data = open(path, "rb").read()
    proto = {"pieces": [], "model_type": 1, "byte_fallback": False, "unk_piece": "<unk>", "charsmap": b""}
    for number, value in fields(data):
        if number == 1:
            piece = {1: b"", 2: struct.pack("<f", 0.0), 3: 1}
            piece.update(dict(fields(value)))
            proto["pieces"].append((piece[1].decode("utf-8"), struct.unpack("<f", piece[2])[0], piece[3]))
        elif number == 2:
            spec = dict(fields(value))
            proto["model_type"] = spec.get(3, 1)
            proto["byte_fallback"] = bool(spec.get(35, 0))
            proto["unk_piece"] = spec.get(45, b"<unk>").decode("utf-8")
        elif number == 3:
            proto["charsmap"] = dict(fields(value)).get(2, b"")
    return proto


def hf_tokenizer_json(model_path):
    """What transformers' SpmConverter (with byte fallback handled, as for Llama) writes for this model."""
    proto = read_model_proto(model_path)
    pieces = proto["pieces"]
    vocab_ids = {p: i for i, (p, _, _) in enumerate(pieces)}
    if proto["model_type"] == 1:
        unk_id = next(i for i, (_, _, t) in enumerate(pieces) if t == 2)
        model = {"type": "Unigram", "unk_id": unk_id, "vocab": [[p, s] for p, s, _ in pieces], "byte_fallback": proto["byte_fallback"]}
    else:
        # SentencePieceExtractor: every split of every piece into two pieces, by the merged piece's score.
        merges = []
        for merged, score in [(p, s) for p, s, _ in pieces]:
            local = [(merged[:k], merged[k:], score) for k in range(1, len(merged)) if merged[:k] in vocab_ids and merged[k:] in vocab_ids]
            merges.extend(sorted(local, key=lambda x: (vocab_ids[x[0]], vocab_ids[x[1]])))
        merges.sort(key=lambda x: x[2], reverse=True)
        model = {
            "type": "BPE",
            "dropout": None,
            "unk_token": proto["unk_piece"],
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": proto["byte_fallback"],
            "vocab": vocab_ids,
            "merges": [[a, b] for a, b, _ in merges],
        }
    added = [
        {"id": i, "content": p, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": t == 3}
        for i, (p, _, t) in enumerate(pieces)
        if t in (3, 4)
    ]
    normalizers = [{"type": "Strip", "strip_left": False, "strip_right": True}, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": SPIECE}]
    if proto["charsmap"]:
        normalizers.insert(0, {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(proto["charsmap"]).decode("ascii")})
    metaspace = {"type": "Metaspace", "replacement": SPIECE, "prepend_scheme": "always", "split": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": normalizers},
        "pre_tokenizer": metaspace,
        "post_processor": None,
        "decoder": metaspace,
        "model": model,
    }


def texts(lines_by_lang, rng):
    special = [
        "", " ", "   ", "a", "  leading spaces", "trailing spaces   ", "multiple   inner    spaces", "tabs\tand\t\tnew\nlines\n\nhere",
        " \t\n ", "\t\tindented", "digits 0 12 345 6789 3.14159 1,000,000 -42", 'punctuation!!! ... ??? "quoted" (parens) [x] {y} @#$%^&*_+=~',
        "accents: café naïve Ångström façade señor Übermäßig", "decomposed: e\u0301te\u0301 a\u0308 n\u0303o c\u0327a", "full-width: ＡＢＣ １２３ ｈｅｌｌｏ ｗｏｒｌｄ！",
        "ligatures: ﬁne ﬂow ﬀ ﬃ", "nbsp\u00a0thin\u2009ideographic\u3000space", "zero\u200bwidth\u200b\u200bspaces", "symbols x² y³ ½ ™ … Ⅱ",
        "CJK: 日本語のテキスト 中文", "emoji: 😀 👍🏽 ❤️ 🇫🇷", "mixed日本😀é1２", "<sep> user <sep>defined<sep>", "<ctrl> and </s> and <unk> and <s> as text",
        "ÀÉÎÕÜ àéîõü ÿ Ÿ", "x" * 80, "The the THE tHe", "control \u0001\u0007\u001b chars", "a\u0000b", "\u2581 literal \u2581\u2581 metaspace",
        "A dog runs.", "Ein Hund läuft.", "Un chien court.", "Straße groß Mädchen Öl", "l'homme aujourd'hui c'est",
    ]
    alphabet = [" ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "a", "e", "the", "ing", "Hund", "chien", "Z", "q", "0", "7", "42", ".", ",", "!", "-", "'",
                "é", "ß", "ü", "ç", "e\u0301", "ﬁ", "Ａ", "５", "日", "😀", "\u200b", "<sep>", "²"]
    fuzz = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 25))) for _ in range(25)]
    sentences = [line for lang in ("en", "de", "fr") for line in lines_by_lang[lang][:SENTENCES]]
    return sentences + special + fuzz


def model_cases(sp, all_texts, rng):
    encode = []
    for text in all_texts:
        ids = sp.encode(text)
        encode.append({"ids": ids, "pieces": sp.encode(text, out_type=str), "decoded": sp.decode(ids)})
    n = sp.get_piece_size()
    decode_ids = []
    for _ in range(15):
        ids = [rng.randrange(n) for _ in range(rng.randrange(1, 12))]
        decode_ids.append({"ids": ids, "text": sp.decode(ids)})
    piece_lists = [
        [SPIECE, SPIECE + "a"], [SPIECE, SPIECE, "a"], ["<unk>", SPIECE + "a"], ["a", SPIECE, SPIECE, "b"], ["<s>", SPIECE + "a", "</s>"],
        ["<0xE6>", "<0x97>", "<0xA5>", SPIECE + "x"], ["<0xE6>", "<0x97>"], ["<0xFF>", "a", "<0xC3>"], ["日本", SPIECE + "語"], [SPIECE + "unknownpiece"], [],
    ]
    decode_pieces = [{"pieces": p, "text": sp.decode_pieces(p)} for p in piece_lists]
    return {"vocab_size": n, "encode": encode, "decode_ids": decode_ids, "decode_pieces": decode_pieces}


# --- Hugging Face MarianTokenizer, transcribed (tokenization_marian.py + PreTrainedTokenizer) ---


class MarianReference:
    def __init__(self, folder, additional_special_tokens=()):
        self.src = spm.SentencePieceProcessor(model_file=os.path.join(folder, "source.spm"))
        self.tgt = spm.SentencePieceProcessor(model_file=os.path.join(folder, "target.spm"))
        self.encoder = json.load(open(os.path.join(folder, "vocab.json"), encoding="utf-8"))
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.special = ["</s>", "<unk>", "<pad>", *additional_special_tokens]
        self.special_ids = {self.encoder[t] for t in self.special}

    def tokenize(self, text):
        # PreTrainedTokenizer.tokenize: special tokens are split out first, then each chunk goes to _tokenize.
        pattern = "(" + "|".join(re.escape(t) for t in sorted(self.special, key=len, reverse=True)) + ")"
        tokens = []
        for chunk in re.split(pattern, text):
            if chunk in self.special:
                tokens.append(chunk)
            elif chunk:
                code = []
                if chunk.startswith(">>") and chunk.find("<<") != -1:
                    end = chunk.find("<<")
                    code, chunk = [chunk[: end + 2]], chunk[end + 2 :]
                tokens += code + self.src.encode(chunk, out_type=str)
        return tokens

    def encode(self, text):
        return [self.encoder.get(t, self.encoder["<unk>"]) for t in self.tokenize(text)] + [self.encoder["</s>"]]

    def decode(self, ids, skip_special_tokens):
        tokens = [self.decoder.get(i, "<unk>") for i in ids if not (skip_special_tokens and i in self.special_ids)]
        current, out = [], ""
        for token in tokens:
            if token in self.special:
                out += self.tgt.decode_pieces(current) + token + " "
                current = []
            else:
                current.append(token)
        out += self.tgt.decode_pieces(current)
        return out.replace(SPIECE, " ").strip()


def marian_fixture(lines_by_lang, tmp, rng):
    rules = os.path.join(tmp, "rules.tsv")
    src_model, tgt_model = os.path.join(tmp, "src.model"), os.path.join(tmp, "tgt.model")
    train_unigram(lines_by_lang["en"][:TRAIN_LINES], src_model, 700, normalization_rule_tsv=rules, character_coverage=0.9995)
    train_unigram(lines_by_lang["de"][:TRAIN_LINES], tgt_model, 700, normalization_rule_tsv=rules, character_coverage=0.9995)
    vocab = marian_vocab(src_model, tgt_model, extra_tokens=(">>de<<", ">>fr<<"))
    src = spm.SentencePieceProcessor(model_file=src_model)
    dropped = [src.id_to_piece(i) for i in (40, 77, 123)]
    kept = [p for p in vocab if p not in dropped]
    vocab = {p: i for i, p in enumerate(kept)}
    folder = os.path.join(OUT, "marian")
    write_marian_tokenizer(folder, src_model, tgt_model, "en", "de", vocab=vocab)

    ref = MarianReference(folder)
    en = lines_by_lang["en"][:15]
    de = lines_by_lang["de"][:15]
    extra = ["", "  ", ">>de<< A dog runs.", ">>fr<<", "A dog </s> runs <unk> <pad>", "emoji 😀 and 日本", "ﬁne ＡＢＣ café", "  spaces   here  "]
    encode = [{"text": t, "tokens": ref.tokenize(t), "ids": ref.encode(t)} for t in en + extra + [" ".join(dropped)]]
    decode = []
    tgt = spm.SentencePieceProcessor(model_file=tgt_model)
    pad, eos = vocab["<pad>"], vocab["</s>"]
    for sentence in de[:10]:
        ids = [pad] + [vocab.get(p, vocab["<unk>"]) for p in tgt.encode(sentence, out_type=str)] + [eos, pad, pad]
        decode.append(ids)
    for _ in range(10):
        decode.append([rng.randrange(len(vocab)) for _ in range(rng.randrange(1, 15))])
    decode.append([vocab["<unk>"], vocab[">>de<<"], eos])
    decode = [{"ids": ids, "skip": ref.decode(ids, True), "keep": ref.decode(ids, False)} for ids in decode]
    return {"dropped": dropped, "encode": encode, "decode": decode}


def main():
    rng = random.Random(1234)
    folder = os.path.join(data_dir(), "multi30k")
    train_lines = {lang: read_lines(os.path.join(folder, f"train.{lang}.gz")) for lang in ("en", "de", "fr")}
    test_lines = {lang: read_lines(os.path.join(folder, f"test_2016_flickr.{lang}.gz")) for lang in ("en", "de", "fr")}
    corpus = [line for lang in ("en", "de", "fr") for line in train_lines[lang][:TRAIN_LINES]]
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)

    all_texts = texts(test_lines, rng)
    cases = {"texts": all_texts, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        rules = os.path.join(tmp, "rules.tsv")
        rules_tsv(rules)
        models = {
            "unigram-nfkc": train(corpus, "u", tmp, model_type="unigram", vocab_size=1000, user_defined_symbols=["<sep>"], control_symbols=["<ctrl>"], pad_id=3),
            "unigram-bytes": train(corpus, "ub", tmp, model_type="unigram", vocab_size=1000, byte_fallback=True, normalization_rule_tsv=rules),
            "bpe": train(corpus, "b", tmp, model_type="bpe", vocab_size=1000, byte_fallback=True, normalization_rule_tsv=rules, user_defined_symbols=["<sep>"]),
            "bpe-raw": train(corpus, "br", tmp, model_type="bpe", vocab_size=400, normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=False),
        }
        for name, path in models.items():
            sp = spm.SentencePieceProcessor(model_file=path)
            cases["models"][name] = model_cases(sp, all_texts, rng)
            if name == "unigram-nfkc":
                with open(path, "rb") as f, gzip.GzipFile(os.path.join(OUT, name + ".model.gz"), "wb", mtime=0) as g:
                    g.write(f.read())
            else:
                shutil.copyfile(path, os.path.join(OUT, name + ".model"))
            if name in ("unigram-bytes", "bpe"):
                with open(os.path.join(OUT, name + ".tokenizer.json"), "w", encoding="utf-8") as f:
                    json.dump(hf_tokenizer_json(path), f, ensure_ascii=False)
        for name in ("unigram-bytes", "bpe"):
            sp = spm.SentencePieceProcessor(model_file=models[name])
            unused = {sp.piece_to_id(p) for p in ("▁a", "▁the", "▁ein", "er", "en", "▁un")} - {sp.unk_id()}
            data = with_unused_pieces(open(models[name], "rb").read(), unused)
            sp_unused = spm.SentencePieceProcessor(model_proto=data)
            assert sum(sp_unused.is_unused(i) for i in range(sp_unused.get_piece_size())) == len(unused)
            cases["models"][name + "-unused"] = model_cases(sp_unused, all_texts, rng)
            with open(os.path.join(OUT, name + "-unused.model"), "wb") as f:
                f.write(data)
        marian = marian_fixture(train_lines, tmp, rng)

    with open(os.path.join(OUT, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(OUT, "marian-cases.json"), "w", encoding="utf-8") as f:
        json.dump(marian, f, ensure_ascii=False, separators=(",", ":"))
    for name in sorted(os.listdir(OUT)):
        path = os.path.join(OUT, name)
        if os.path.isfile(path):
            print(f"{name}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
