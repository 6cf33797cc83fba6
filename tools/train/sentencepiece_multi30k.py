"""Train the SentencePiece model of the Multi30k translator and write it in Marian/OPUS-MT layout.

    /usr/bin/python3 tools/train/sentencepiece_multi30k.py OUT_DIR [--vocab-size 8000] [--src en --tgt de] [--separate]

Reads ../shared/data/multi30k/train.{src,tgt}.gz ($TESSERA_DATA overrides the data folder) and writes
into OUT_DIR, as Hugging Face's MarianTokenizer reads them:
  source.spm, target.spm   SentencePiece unigram models (the same joint model twice, or one per
                           language with --separate);
  vocab.json               piece -> id for the model's embedding rows: every piece of the source
                           model in its id order, then the target model's pieces it lacks, then <pad>;
                           with the joint model, vocab ids are SentencePiece ids;
  tokenizer_config.json    the special tokens and languages.
The models follow OPUS-MT's convention: </s> is id 0, <unk> id 1, no <s> (Marian starts decoding from
<pad>, the last id). Training is deterministic (one thread, fixed seed, no sentence sampling), ~1 min.
Needs Debian's python3-sentencepiece (0.1.97): /usr/bin/python3.
"""

import argparse
import gzip
import json
import os
import shutil
import tempfile

import sentencepiece as spm

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def data_dir():
    """$TESSERA_DATA, else ../shared/data next to the repository (never copied into it)."""
    return os.path.abspath(os.environ.get("TESSERA_DATA", os.path.join(REPO, "..", "shared", "data")))


def read_lines(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def train_unigram(lines, model_path, vocab_size, **extra):
    """Train a Marian-convention unigram model on `lines`; writes `model_path` (a .model file)."""
    with tempfile.TemporaryDirectory() as tmp:
        text = os.path.join(tmp, "input.txt")
        with open(text, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        options = dict(
            input=text,
            model_prefix=os.path.join(tmp, "m"),
            model_type="unigram",
            vocab_size=vocab_size,
            character_coverage=1.0,
            eos_id=0,
            unk_id=1,
            bos_id=-1,
            pad_id=-1,
            num_threads=1,
            seed_sentencepiece_size=1000000,
            shuffle_input_sentence=False,
            minloglevel=2,
        )
        options.update(extra)
        spm.SentencePieceTrainer.train(**options)
        shutil.copyfile(os.path.join(tmp, "m.model"), model_path)


def marian_vocab(source_model, target_model, extra_tokens=()):
    """Marian's shared vocabulary: the source pieces in id order, the target's new pieces, extras, <pad> last."""
    vocab = {}
    for path in (source_model, target_model):
        sp = spm.SentencePieceProcessor(model_file=path)
        for i in range(sp.get_piece_size()):
            vocab.setdefault(sp.id_to_piece(i), len(vocab))
    for token in extra_tokens:
        vocab.setdefault(token, len(vocab))
    vocab.setdefault("<pad>", len(vocab))
    return vocab


def write_marian_tokenizer(out_dir, source_model, target_model, source_lang, target_lang, extra_tokens=(), vocab=None):
    """Copy the models to OUT_DIR/{source,target}.spm and write vocab.json and tokenizer_config.json."""
    os.makedirs(out_dir, exist_ok=True)
    shutil.copyfile(source_model, os.path.join(out_dir, "source.spm"))
    shutil.copyfile(target_model, os.path.join(out_dir, "target.spm"))
    vocab = vocab if vocab is not None else marian_vocab(source_model, target_model, extra_tokens)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, indent=0)
    config = {
        "source_lang": source_lang,
        "target_lang": target_lang,
        "unk_token": "<unk>",
        "eos_token": "</s>",
        "pad_token": "<pad>",
        "model_max_length": 512,
        "separate_vocabs": False,
        "tokenizer_class": "MarianTokenizer",
    }
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    return vocab


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--src", default="en")
    parser.add_argument("--tgt", default="de")
    parser.add_argument("--separate", action="store_true", help="one model per language instead of a joint one")
    args = parser.parse_args()

    folder = os.path.join(data_dir(), "multi30k")
    source = read_lines(os.path.join(folder, f"train.{args.src}.gz"))
    target = read_lines(os.path.join(folder, f"train.{args.tgt}.gz"))
    with tempfile.TemporaryDirectory() as tmp:
        if args.separate:
            src_model, tgt_model = os.path.join(tmp, "src.model"), os.path.join(tmp, "tgt.model")
            train_unigram(source, src_model, args.vocab_size)
            train_unigram(target, tgt_model, args.vocab_size)
        else:
            src_model = tgt_model = os.path.join(tmp, "joint.model")
            train_unigram(source + target, src_model, args.vocab_size)
        vocab = write_marian_tokenizer(args.out_dir, src_model, tgt_model, args.src, args.tgt)

    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.out_dir, "source.spm"))
    print(f"wrote {args.out_dir}: vocab.json {len(vocab)} entries (<pad> = {vocab['<pad>']}, </s> = {vocab['</s>']}, <unk> = {vocab['<unk>']})")
    print("example:", sp.encode(source[0], out_type=str))


if __name__ == "__main__":
    main()
