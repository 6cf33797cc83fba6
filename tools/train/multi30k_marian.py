"""Train multi30k-marian: an English->German Marian Transformer on Multi30k, saved as a Hugging Face folder.

    nice -n 10 /usr/bin/python3 tools/train/multi30k_marian.py            # writes models/multi30k-marian/
    /usr/bin/python3 tools/train/multi30k_marian.py --time-steps 20        # only time 20 training steps
    /usr/bin/python3 tools/train/multi30k_marian.py --eval-only            # re-decode the saved model, BLEU
    /usr/bin/python3 tools/train/multi30k_marian.py --bleu out.jsonl       # BLEU of `tessera translate --output`
    /usr/bin/python3 tools/train/multi30k_marian.py --check-greedy g.jsonl # Tessera's greedy vs PyTorch's
    /usr/bin/python3 tools/train/multi30k_marian.py --finish               # the after-training steps only

Data: ../shared/data/multi30k/{train,val,test_2016_flickr}.{en,de}.gz ($TESSERA_DATA moves it), line
aligned. Train (29,000 pairs) trains; val (1,014) gives the loss curve's held-out column; the test set
(1,000, test_2016_flickr) is only decoded at the end.

Tokenizer: one joint en+de SentencePiece unigram model trained on the training text by
tools/train/sentencepiece_multi30k.py (OPUS-MT convention: </s> = 0, <unk> = 1, <pad> = the last id,
decoding starts from <pad>), written as source.spm = target.spm + vocab.json.

Model: HF `MarianMTModel` exactly (module names make state_dict() the HF checkpoint): one shared
embedding for encoder, decoder and the tied LM head, scaled by sqrt(d_model); Marian's static sinusoidal
positions (sin in the first half of the columns, cos in the second); post-LayerNorm blocks; swish MLPs;
attention with q scaled by head_dim^-0.5; a trained `final_logits_bias`. Trained with label-smoothed
cross-entropy, Adam with linear warm-up then inverse-square-root decay, dropout 0.1, batches of about
--batch-tokens source+target tokens (sentences sorted by length, 16 a chunk, batch order shuffled by the
seed), from a fixed seed: the same command gives the same weights on the same machine and torch build.
Every projection runs as a 1x1 convolution (tools/train/common.py) because Debian's netlib BLAS is slow.

Decoding follows Hugging Face `generate` exactly (the greedy and beam search written out in
tools/reference/marian_reference.py, which Tessera's Marian search is tested against): here it runs on the
fast float32 model with the stored (possibly fp16-rounded) weights; the first 100 test sentences are also
decoded greedily by the float64 reference and written to greedy_test100.jsonl, the PyTorch translations
Tessera's own must equal.

BLEU: nltk's corpus_bleu (Debian python3-nltk; 4-gram, uniform weights, no smoothing, one reference per
sentence), case-sensitive, over hypotheses and references tokenised by `tokenize_13a` below (sacrebleu's
default "13a" tokenisation, written out).

Outputs in --out: config.json, model.safetensors (fp16 when greedy and beam outputs on the test set are
identical to fp32, else fp32), source.spm, target.spm, vocab.json, tokenizer_config.json, train_log.tsv
(the loss curve), greedy_test100.jsonl and metrics.json.
"""

import argparse
import gzip
import json
import math
import os
import re
import shutil
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import REPO, LossLog, data_dir, device_description, nn_linear, read_safetensors, seed_everything, write_safetensors
from sentencepiece_multi30k import train_unigram, write_marian_tokenizer

import marian_reference as reference  # float64 HF Marian + generate(): the golden decoder
import sentencepiece as spm

TEST_SET = "test_2016_flickr"
GOLDEN_SENTENCES = 100
GOLDEN_BEAM_SENTENCES = 20
FP16_CHECK_BEAM_SENTENCES = 200  # fp16 storage is kept when these beam outputs and all greedy ones match fp32


def read_lines(name):
    with gzip.open(os.path.join(data_dir(), "multi30k", name), "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


# ----------------------------------------------------------------------------------------------
# BLEU


def tokenize_13a(line):
    """sacrebleu's default tokenizer ("13a", mteval-v13a.pl), written out: unescape the few SGML
    entities, split off punctuation and symbols, split a period/comma unless between digits, split a
    dash after a digit."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    line = re.sub(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 ", line)
    line = re.sub(r"([^0-9])([\.,])", r"\1 \2 ", line)
    line = re.sub(r"([\.,])([^0-9])", r" \1 \2", line)
    line = re.sub(r"([0-9])(-)", r"\1 \2 ", line)
    return line.split()


def corpus_bleu(hypotheses, references):
    """Case-sensitive corpus BLEU in percent (nltk, 4-gram, uniform weights, no smoothing)."""
    from nltk.translate.bleu_score import corpus_bleu as nltk_corpus_bleu

    if len(hypotheses) != len(references):
        raise ValueError(f"BLEU: {len(hypotheses)} hypotheses for {len(references)} references")
    return 100.0 * nltk_corpus_bleu([[tokenize_13a(r)] for r in references], [tokenize_13a(h) for h in hypotheses])


# ----------------------------------------------------------------------------------------------
# Marian, with module names that make state_dict() the HF MarianMTModel checkpoint


def linear(x, layer):
    return nn_linear(x, layer.weight, layer.bias)


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, kv, allowed):
        """x [B, Tq, D] attends to kv [B, Tk, D] where `allowed` (bool, broadcast to [B, 1, Tq, Tk]) holds."""
        return self.attend(x, *self.keys_values(kv), allowed)

    def keys_values(self, kv):
        return linear(kv, self.k_proj), linear(kv, self.v_proj)

    def attend(self, x, k, v, allowed):
        """x [B, Tq, D] attends to projected keys and values k, v [B, Tk, D] (`allowed` None: all of them)."""
        B, Tq, D = x.shape
        Tk, hd = k.shape[1], D // self.heads
        q = (linear(x, self.q_proj) * hd**-0.5).view(B, Tq, self.heads, hd).transpose(1, 2)
        k = k.view(B, Tk, self.heads, hd).transpose(1, 2)
        v = v.view(B, Tk, self.heads, hd).transpose(1, 2)
        scores = q @ k.transpose(-1, -2)
        if allowed is not None:
            scores = scores.masked_fill(~allowed, torch.finfo(x.dtype).min)
        out = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, Tq, D)
        return linear(out, self.out_proj)


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, ffn, dropout):
        super().__init__()
        self.self_attn = Attention(d, heads)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, allowed):
        x = self.self_attn_layer_norm(x + self.dropout(self.self_attn(x, x, allowed)))
        return self.final_layer_norm(x + self.dropout(linear(F.silu(linear(x, self.fc1)), self.fc2)))


class DecoderLayer(EncoderLayer):
    def __init__(self, d, heads, ffn, dropout):
        super().__init__(d, heads, ffn, dropout)
        self.encoder_attn = Attention(d, heads)
        self.encoder_attn_layer_norm = nn.LayerNorm(d)

    def forward(self, x, enc, self_allowed, cross_allowed):
        x = self.self_attn_layer_norm(x + self.dropout(self.self_attn(x, x, self_allowed)))
        x = self.encoder_attn_layer_norm(x + self.dropout(self.encoder_attn(x, enc, cross_allowed)))
        return self.final_layer_norm(x + self.dropout(linear(F.silu(linear(x, self.fc1)), self.fc2)))


class Stack(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class Body(nn.Module):
    def __init__(self, c, dropout):
        super().__init__()
        d = c["d_model"]
        self.shared = nn.Embedding(c["vocab_size"], d)
        self.encoder = Stack([EncoderLayer(d, c["encoder_attention_heads"], c["encoder_ffn_dim"], dropout) for _ in range(c["encoder_layers"])])
        self.decoder = Stack([DecoderLayer(d, c["decoder_attention_heads"], c["decoder_ffn_dim"], dropout) for _ in range(c["decoder_layers"])])


class Marian(nn.Module):
    """HF MarianMTModel: state_dict() holds model.shared.weight, final_logits_bias and the layers."""

    def __init__(self, c, dropout=0.0):
        super().__init__()
        self.c = c  # marian_reference's search functions read the config from here
        d = c["d_model"]
        self.model = Body(c, dropout)
        self.final_logits_bias = nn.Parameter(torch.zeros(1, c["vocab_size"]))
        self.register_buffer("positions", reference.sinusoidal_positions(c["max_position_embeddings"], d).float(), persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.pad = c["pad_token_id"]
        # fairseq-style init: embeddings N(0, d^-1/2) (so N(0, 1) after the sqrt(d) scale), Xavier projections
        nn.init.normal_(self.model.shared.weight, std=d**-0.5)
        for name, p in self.named_parameters():
            if p.dim() == 2 and "shared" not in name and "bias" not in name:
                nn.init.xavier_uniform_(p)

    def embed(self, ids):
        x = self.model.shared(ids) * math.sqrt(self.c["d_model"]) + self.positions[: ids.shape[1]]
        return self.dropout(x)

    def encode(self, ids, mask):
        """ids, mask: long [B, Ts] (mask 1 = token) -> hidden [B, Ts, D]."""
        allowed = mask.bool()[:, None, None, :]
        x = self.embed(ids)
        for layer in self.model.encoder.layers:
            x = layer(x, allowed)
        return x

    def hidden(self, dec_ids, enc, enc_mask):
        T = dec_ids.shape[1]
        causal = torch.ones(T, T, dtype=torch.bool, device=dec_ids.device).tril()[None, None]
        cross = enc_mask.bool()[:, None, None, :]
        x = self.embed(dec_ids)
        for layer in self.model.decoder.layers:
            x = layer(x, enc, causal, cross)
        return x

    def logits(self, x):
        return nn_linear(x, self.model.shared.weight, self.final_logits_bias.view(-1))


# ----------------------------------------------------------------------------------------------
# Data


def encode_corpus(sp, lines, eos):
    return [sp.encode(line) + [eos] for line in lines]


def make_batches(src, tgt, batch_tokens):
    """Sentence pairs sorted by length, cut into chunks of 16 (so every projection's rows divide into
    16 conv batches), chunks packed into batches of at most batch_tokens padded source+target tokens."""
    order = sorted(range(len(src)), key=lambda i: (len(tgt[i]), len(src[i]), i))
    chunks = [order[i : i + 16] for i in range(0, len(order), 16)]
    batches, current = [], []
    for chunk in chunks:
        grown = current + chunk
        cost = len(grown) * (max(len(src[i]) for i in grown) + max(len(tgt[i]) for i in grown))
        if current and cost > batch_tokens:
            batches.append(current)
            grown = chunk
        current = grown
    batches.append(current)
    return batches


def collate(indices, src, tgt, pad, start):
    """-> source ids and mask [B, Ts], decoder input [B, Tt] (start + target), labels [B, Tt] (target, EOS; pad ignored)."""
    src_ids, src_mask = reference.pad_batch([src[i] for i in indices], pad)
    T = max(len(tgt[i]) for i in indices)
    dec_in = torch.full((len(indices), T), pad, dtype=torch.long)
    labels = torch.full((len(indices), T), pad, dtype=torch.long)
    for b, i in enumerate(indices):
        t = torch.tensor(tgt[i])
        labels[b, : len(t)] = t
        dec_in[b, 0] = start
        dec_in[b, 1 : len(t)] = t[:-1]
    return src_ids, src_mask, dec_in, labels


def pair_loss(model, batch, pad, smoothing):
    """(label-smoothed loss per target token, plain NLL per target token, target tokens)."""
    device = model.final_logits_bias.device
    src_ids, src_mask, dec_in, labels = (t.to(device) for t in batch)
    logits = model.logits(model.hidden(dec_in, model.encode(src_ids, src_mask), src_mask))
    flat, y = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    loss = F.cross_entropy(flat, y, ignore_index=pad, label_smoothing=smoothing)
    nll = F.cross_entropy(flat.detach(), y, ignore_index=pad)
    return loss, nll, int((y != pad).sum())


@torch.no_grad()
def heldout_nll(model, src, tgt, pad, start):
    model.eval()
    total, tokens = 0.0, 0
    for indices in make_batches(src, tgt, 6000):
        _, nll, n = pair_loss(model, collate(indices, src, tgt, pad, start), pad, 0.0)
        total, tokens = total + float(nll) * n, tokens + n
    model.train()
    return total / tokens


# ----------------------------------------------------------------------------------------------
# Decoding (HF generate, via marian_reference's greedy and beam search)


class CachedDecoder:
    """The model as marian_reference's greedy and beam search call it, with a key/value cache.

    The searches call decode(prefixes [R, T], enc, mask) with every row's whole prefix at each step and
    (beam search) reorder rows between steps. Each row's prefix without its newest token is looked up
    among the previous step's rows of the same source, whose self-attention keys and values are
    gathered; only the newest position is computed. Cross-attention keys and values are computed once
    per encoder output. Returns the logits of the newest position, [R, 1, V] (all the search reads)."""

    def __init__(self, model, rows_per_source):
        self.m, self.c, self.rows_per_source = model, model.c, rows_per_source
        self.enc = None

    def encode(self, ids, mask):
        return self.m.encode(ids, mask)

    def decode(self, prefixes, enc, mask):
        layers = self.m.model.decoder.layers
        rows = prefixes.tolist()
        T = len(rows[0])
        if T == 1 or enc is not self.enc:
            self.enc = enc
            self.cross = [layer.encoder_attn.keys_values(enc) for layer in layers]
            self.cache = [(enc[:, :0], enc[:, :0])] * len(layers)
        else:
            # rows of a source whose search is done continue row 0 (HF pads them; their scores are unused)
            previous = [self.index.get((r // self.rows_per_source, tuple(row[:-1]))) for r, row in enumerate(rows)]
            previous = [r if r is not None else self.index_any[tuple(row[:-1])] for r, row in zip(previous, rows)]
            gather = torch.tensor(previous)
            self.cache = [(k[gather], v[gather]) for k, v in self.cache]
        self.index = {(r // self.rows_per_source, tuple(row)): r for r, row in enumerate(rows)}
        self.index_any = {tuple(row): r for r, row in enumerate(rows)}
        cross_allowed = mask.bool()[:, None, None, :]
        x = self.m.model.shared(prefixes[:, -1:]) * math.sqrt(self.c["d_model"]) + self.m.positions[T - 1 : T]
        for i, layer in enumerate(layers):
            k, v = layer.self_attn.keys_values(x)
            k, v = torch.cat([self.cache[i][0], k], dim=1), torch.cat([self.cache[i][1], v], dim=1)
            self.cache[i] = (k, v)
            x = layer.self_attn_layer_norm(x + layer.self_attn.attend(x, k, v, None))
            x = layer.encoder_attn_layer_norm(x + layer.encoder_attn.attend(x, *self.cross[i], cross_allowed))
            x = layer.final_layer_norm(x + linear(F.silu(linear(x, layer.fc1)), layer.fc2))
        return self.m.logits(x)


@torch.no_grad()
def translate(model, sources, num_beams, max_new_tokens, chunk=64):
    """Ids per source (ending with EOS), in order; sources are decoded `chunk` at a time."""
    model.eval()
    decoder = CachedDecoder(model, num_beams)
    out = []
    for i in range(0, len(sources), chunk):
        part = sources[i : i + chunk]
        if num_beams == 1:
            ids, _ = reference.greedy(decoder, part, max_new_tokens)
        else:
            ids, _, _ = reference.beam_search(decoder, part, num_beams, max_new_tokens)
        out += ids
    return out


def detokenize(sp, ids, c):
    return sp.decode([t for t in ids if t not in (c["eos_token_id"], c["pad_token_id"])])


# ----------------------------------------------------------------------------------------------


def marian_config(args, vocab_size, pad):
    return {
        "architectures": ["MarianMTModel"],
        "model_type": "marian",
        "vocab_size": vocab_size,
        "decoder_vocab_size": vocab_size,
        "d_model": args.dim,
        "encoder_layers": args.layers,
        "decoder_layers": args.layers,
        "encoder_attention_heads": args.heads,
        "decoder_attention_heads": args.heads,
        "encoder_ffn_dim": args.ffn,
        "decoder_ffn_dim": args.ffn,
        "activation_function": "swish",
        "max_position_embeddings": 512,
        "scale_embedding": True,
        "normalize_before": False,
        "normalize_embedding": False,
        "static_position_embeddings": True,
        "share_encoder_decoder_embeddings": True,
        "tie_word_embeddings": True,
        "dropout": args.dropout,
        "attention_dropout": 0.0,
        "activation_dropout": 0.0,
        "init_std": 0.02,
        "pad_token_id": pad,
        "eos_token_id": 0,
        "decoder_start_token_id": pad,
        "forced_eos_token_id": 0,
        "bad_words_ids": [[pad]],
        "num_beams": args.beams,
        "max_length": args.max_length,
        "length_penalty": 1.0,
        "early_stopping": False,
        "is_encoder_decoder": True,
        "torch_dtype": "float16",
    }


def evaluate(out_dir, beam_sentences=None, golden_sentences=GOLDEN_SENTENCES):
    """Decode the test set with the weights as stored: greedy (all) and beam search (the first
    `beam_sentences`, default all), BLEU, and the float64 golden greedy of the first `golden_sentences`."""
    with open(os.path.join(out_dir, "config.json")) as f:
        c = json.load(f)
    stored = read_safetensors(os.path.join(out_dir, "model.safetensors"))
    model = Marian(c)
    model.load_state_dict({k: v.float() for k, v in stored.items()}, strict=True)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(out_dir, "target.spm"))
    src_sp = spm.SentencePieceProcessor(model_file=os.path.join(out_dir, "source.spm"))
    en, de = read_lines(f"{TEST_SET}.en.gz"), read_lines(f"{TEST_SET}.de.gz")
    sources = encode_corpus(src_sp, en, c["eos_token_id"])
    max_new = c["max_length"] - 1
    t0 = time.time()
    beam = translate(model, sources[:beam_sentences], c["num_beams"], max_new)
    beam_time = time.time() - t0
    t0 = time.time()
    greedy = translate(model, sources, 1, max_new)
    greedy_time = time.time() - t0
    beam_text = [detokenize(sp, ids, c) for ids in beam]
    greedy_text = [detokenize(sp, ids, c) for ids in greedy]

    # the golden greedy translations: float64 reference from the stored weights, no KV cache
    ref_model = reference.MarianMTModel(c, stored)
    golden, margins = [], []
    for i in range(golden_sentences):
        ids, margin = reference.greedy(ref_model, [sources[i]], max_new)
        golden.append(ids[0])
        margins.append(margin)
    # and the float64 reference's beam search (no KV cache) on a few, as a check of the cached decoder
    golden_beam = reference.beam_search(ref_model, sources[:GOLDEN_BEAM_SENTENCES], c["num_beams"], max_new)[0] if golden_sentences else []
    if golden_sentences:
        with open(os.path.join(out_dir, "greedy_test100.jsonl"), "w", encoding="utf-8") as f:
            for i in range(golden_sentences):
                row = {"source": en[i], "source_ids": sources[i], "ids": golden[i], "text": detokenize(sp, golden[i], c),
                       "reference": de[i], "min_top2_margin": round(margins[i], 6)}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {
        "test_set": TEST_SET,
        "test_sentences": len(en),
        "bleu_beam": round(corpus_bleu(beam_text, de), 2) if len(beam) == len(de) else None,
        "bleu_greedy": round(corpus_bleu(greedy_text, de), 2),
        "num_beams": c["num_beams"],
        "beam_decode_s": round(beam_time, 1),
        "greedy_decode_s": round(greedy_time, 1),
        "golden_greedy_equal_fast_greedy": sum(golden[i] == greedy[i] for i in range(golden_sentences)),
        "golden_min_top2_margin": round(min(margins), 6) if margins else None,
        "golden_beam_equal_fast_beam": f"{sum(g == f for g, f in zip(golden_beam, beam))} of {len(golden_beam)}",
        "bleu_tokenizer": "13a (sacrebleu default, written out in tools/train/multi30k_marian.py)",
        "bleu_implementation": "nltk.translate.bleu_score.corpus_bleu (python3-nltk), 4-gram uniform weights, no smoothing, case-sensitive",
        "samples": [{"source": en[i], "beam": beam_text[i], "reference": de[i]} for i in range(8)],
    }, beam, greedy


def bleu_of_file(path):
    """BLEU of a `tessera translate --input … --output path` JSONL file against the test references."""
    de = read_lines(f"{TEST_SET}.de.gz")
    with open(path, encoding="utf-8") as f:
        hyps = [json.loads(line)["text"] for line in f if line.strip()]
    print(json.dumps({"file": path, "sentences": len(hyps), "bleu": round(corpus_bleu(hyps, de), 2)}))


def check_greedy(out_dir, path):
    """How many of the first 100 greedy translations in a `tessera translate --beams 1 --output` file equal
    PyTorch's (greedy_test100.jsonl); prints the first that differ."""
    with open(os.path.join(out_dir, "greedy_test100.jsonl"), encoding="utf-8") as f:
        golden = [json.loads(line) for line in f]
    with open(path, encoding="utf-8") as f:
        ours = [json.loads(line) for line in f if line.strip()][: len(golden)]
    if len(ours) < len(golden):
        raise SystemExit(f"{path}: {len(ours)} lines, need the first {len(golden)} test sentences")
    differ = [i for i, (g, o) in enumerate(zip(golden, ours)) if g["ids"] != o["ids"]]
    print(json.dumps({"file": path, "identical": len(golden) - len(differ), "of": len(golden), "differ": differ[:10]}))
    for i in differ[:3]:
        print(f"  {i}: pytorch {golden[i]['text']!r}\n      tessera {ours[i]['text']!r}  (min top-2 margin {golden[i]['min_top2_margin']})")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(REPO, "models", "multi30k-marian"))
    p.add_argument("--vocab-size", type=int, default=4000)
    p.add_argument("--spm", help="a SentencePiece model this script trained before (another sentencepiece build may train another)")
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ffn", type=int, default=512)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--smoothing", type=float, default=0.1)
    p.add_argument("--batch-tokens", type=int, default=2500, help="padded source+target tokens per batch, at most")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=0, help="stop after this many steps (default: all epochs)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=150)
    p.add_argument("--beams", type=int, default=5)
    p.add_argument("--max-length", type=int, default=128, help="config max_length: the longest output, start token included")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--val-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=1, help="1: on a shared, oversubscribed CPU, OpenMP threads spin-waiting on each other cost far more than they give")
    p.add_argument("--device", default="cpu", help="cuda: train on a GPU (same recipe and metrics, not the same bits); decoding stays on the CPU")
    p.add_argument("--time-steps", type=int, default=0, help="only time this many steps, write nothing")
    p.add_argument("--eval-only", action="store_true", help="only decode the saved model and recompute its metrics")
    p.add_argument("--finish", action="store_true", help="only run the after-training steps on the float32 checkpoint training saved")
    p.add_argument("--check-greedy", metavar="JSONL", help="only compare a `tessera translate --beams 1 --output` file with greedy_test100.jsonl")
    p.add_argument("--bleu", metavar="JSONL", help="only print the BLEU of a `tessera translate --output` file")
    args = p.parse_args()

    if args.bleu:
        bleu_of_file(args.bleu)
        return
    if args.check_greedy:
        check_greedy(args.out, args.check_greedy)
        return
    seed_everything(args.seed, args.threads, args.device)
    if args.finish:
        finish(args, stopped_early=True)
        return
    if args.eval_only:
        metrics, _, _ = evaluate(args.out)
        saved_path = os.path.join(args.out, "metrics.json")
        saved = {}
        if os.path.exists(saved_path):
            with open(saved_path) as f:
                saved = json.load(f)
        saved.update(metrics)
        write_metrics(args.out, saved)
        return

    os.makedirs(args.out, exist_ok=True)
    en_train, de_train = read_lines("train.en.gz"), read_lines("train.de.gz")
    spm_model = os.path.join(args.out, "joint.model.tmp")
    if args.spm:
        shutil.copyfile(args.spm, spm_model)
    else:
        train_unigram(en_train + de_train, spm_model, args.vocab_size)
    vocab = write_marian_tokenizer(args.out, spm_model, spm_model, "en", "de")
    os.remove(spm_model)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.out, "source.spm"))
    pad, eos = vocab["<pad>"], vocab["</s>"]
    assert pad == len(vocab) - 1 == sp.get_piece_size() and eos == 0, "joint vocabulary: SentencePiece ids, <pad> last"
    c = marian_config(args, len(vocab), pad)

    src, tgt = encode_corpus(sp, en_train, eos), encode_corpus(sp, de_train, eos)
    val_src = encode_corpus(sp, read_lines("val.en.gz"), eos)
    val_tgt = encode_corpus(sp, read_lines("val.de.gz"), eos)
    batches = make_batches(src, tgt, args.batch_tokens)
    steps = args.steps or args.epochs * len(batches)
    stop_file = os.path.join(args.out, "STOP")  # touch it to end training early (then rerun with --steps to reproduce)

    model = Marian(c, args.dropout).to(args.device)
    model.train()
    n_params = sum(t.numel() for t in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9)

    def lr_at(step):  # linear warm-up to args.lr, then inverse square root
        return args.lr * min((step + 1) / args.warmup, math.sqrt(args.warmup / (step + 1)))

    print(f"params {n_params}, vocab {len(vocab)}, {len(src)} pairs, {sum(map(len, src))} + {sum(map(len, tgt))} tokens, "
          f"{len(batches)} batches/epoch, {steps} steps", flush=True)
    if not args.time_steps:
        log = LossLog(os.path.join(args.out, "train_log.tsv"), ["step", "epoch", "lr", "train_loss_smoothed", "train_nll", "val_nll", "elapsed_s"])
    order_gen = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    step, epoch, stopped = 0, 0, False
    while step < steps and not stopped:
        run_loss, run_nll, run_tokens = 0.0, 0.0, 0
        for b in torch.randperm(len(batches), generator=order_gen).tolist():
            if step == steps or os.path.exists(stop_file):
                stopped = step < steps
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            loss, nll, n = pair_loss(model, collate(batches[b], src, tgt, pad, pad), pad, args.smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            run_loss, run_nll, run_tokens = run_loss + float(loss) * n, run_nll + float(nll) * n, run_tokens + n
            if args.time_steps:
                print(f"step {step} loss {float(loss):.4f} rows {len(batches[b])} {time.time() - t0:.1f}s", flush=True)
                if step == args.time_steps:
                    print(f"{(time.time() - t0) / step:.3f} s/step, ~{(time.time() - t0) / step * len(batches) / 60:.1f} min/epoch")
                    return
                continue
            if step % args.val_every == 0:
                val = heldout_nll(model, val_src, val_tgt, pad, pad)
                log.write(step, epoch + 1, lr_at(step - 1), "", "", val, round(time.time() - t0, 1))
                print(f"step {step}: val nll {val:.4f}", flush=True)
            if step % args.log_every == 0:
                log.write(step, epoch + 1, lr_at(step - 1), run_loss / run_tokens, run_nll / run_tokens, "", round(time.time() - t0, 1))
                print(f"step {step}/{steps} epoch {epoch + 1}: loss {run_loss / run_tokens:.4f} nll {run_nll / run_tokens:.4f} {time.time() - t0:.0f}s", flush=True)
                run_loss, run_nll, run_tokens = 0.0, 0.0, 0
        epoch += 1
        val = heldout_nll(model, val_src, val_tgt, pad, pad)
        log.write(step, epoch, lr_at(step - 1), "", "", val, round(time.time() - t0, 1))
        print(f"epoch {epoch} (step {step}): val nll {val:.4f} ({math.exp(val):.2f} ppl), {time.time() - t0:.0f}s", flush=True)
    log.close()
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(dict(c, torch_dtype="float32"), f, indent=2)
    write_safetensors(os.path.join(args.out, "model.safetensors"), {k: v.cpu() for k, v in model.state_dict().items()}, {"format": "pt"})
    finish(args, stopped_early=stopped)


def finish(args, stopped_early=False):
    """After training (or with --finish, from the float32 checkpoint training saved): store fp16 when
    greedy and beam translations of the test set stay identical, decode the test set, write metrics.json."""
    config_path, weights_path = os.path.join(args.out, "config.json"), os.path.join(args.out, "model.safetensors")
    with open(config_path) as f:
        config32 = json.load(f)
    state = read_safetensors(weights_path)
    if any(t.dtype != torch.float32 for t in state.values()):
        raise SystemExit(f"{weights_path}: --finish needs the float32 checkpoint that training writes")
    with open(os.path.join(args.out, "train_log.tsv")) as f:
        last = f.read().strip().split("\n")[-1].split("\t")  # the closing held-out row
    steps, epochs, val_nll, train_time = int(last[0]), int(last[1]), float(last[5]), float(last[6])

    metrics32, beam32, greedy32 = evaluate(args.out, FP16_CHECK_BEAM_SENTENCES, 0)
    write_safetensors(weights_path, {k: v.half() for k, v in state.items()}, {"format": "pt"})
    with open(config_path, "w") as f:
        json.dump(dict(config32, torch_dtype="float16"), f, indent=2)
    metrics16, beam16, greedy16 = evaluate(args.out)
    use_f16 = beam16[:FP16_CHECK_BEAM_SENTENCES] == beam32 and greedy16 == greedy32
    if use_f16:
        metrics = metrics16
    else:
        write_safetensors(weights_path, state, {"format": "pt"})
        with open(config_path, "w") as f:
            json.dump(config32, f, indent=2)
        metrics, _, _ = evaluate(args.out)
    hyper = {k: v for k, v in vars(args).items() if k not in ("time_steps", "eval_only", "bleu", "check_greedy", "finish", "device")}
    metrics.update({
        "parameters": sum(t.numel() for t in state.values()),
        "vocab_size": config32["vocab_size"],
        "storage_dtype": "float16" if use_f16 else "float32",
        "fp16_identical_outputs": {"greedy": f"{sum(a == b for a, b in zip(greedy16, greedy32))} of {len(greedy32)}",
                                   "beam": f"{sum(a == b for a, b in zip(beam16, beam32))} of {len(beam32)}"},
        "bleu_greedy_fp32": metrics32["bleu_greedy"],
        "final_val_nll": round(val_nll, 4),
        "train_time_s": round(train_time, 1),
        "train_steps": steps,
        "train_epochs": epochs,
        "reproduce": " ".join(["nice -n 10 /usr/bin/python3 tools/train/multi30k_marian.py", *recipe_flags(sys.argv[1:])]
                              + ([f"--steps {steps}"] if stopped_early and not args.steps else [])),
        "trained_on": device_description(args.device, args.threads) if not args.finish else None,
        "torch": torch.__version__,
        "hyperparameters": hyper | {"out": os.path.relpath(args.out, REPO)},
    })
    write_metrics(args.out, metrics)


def recipe_flags(argv):
    """The command line's flags less those that choose where and how fast it runs, not what it trains."""
    flags, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--device", "--threads", "--out", "--spm"):
            skip = True
        elif not a.startswith(("--device=", "--threads=", "--out=", "--spm=", "--finish")):
            flags.append(a)
    return flags


def write_metrics(out_dir, metrics):
    with open(os.path.join(out_dir, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(json.dumps({k: v for k, v in metrics.items() if k not in ("samples", "hyperparameters")}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
