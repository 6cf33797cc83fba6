"""Plain-PyTorch golden reference for Tessera's Marian translator (HF `MarianMTModel` + `generate`).

`transformers` is not installable on this machine (no PyPI), so the model and the two decoding
strategies Tessera implements are written out here by hand, following Hugging Face's
modeling_marian.py and generation code as of transformers 4.36-4.46 (the last releases with
`BeamSearchScorer`):

- the generation settings: `generation_config_of` is `model.generation_config` after
  `from_pretrained` (generation_config.json when the folder has one, else config.json's keys over
  MarianConfig's defaults), and `prepare_generation` is what `generate(**kwargs)` makes of it
  (kwargs override the config; max_new_tokens / min_new_tokens override max_length / min_length;
  pad falls back to the first EOS id, the decoder start token to bos; several EOS ids);
- greedy search, and beam search with `BeamSearchScorer` / `BeamHypotheses` (lengths counted in
  generated tokens, i.e. without the decoder start token; top (1 + #EOS) x num_beams candidates);
- the logits processors `NoBadWordsLogitsProcessor` (multi-token words too; a bad word that is a
  single EOS id is dropped), `MinLengthLogitsProcessor`, `ForcedEOSTokenLogitsProcessor` and
  `LogitNormalization` (renormalize_logits);
- padded batches: sources right-padded as MarianTokenizer pads them, the attention mask keeping
  the padding out of encoder self-attention and of cross-attention (masked scores get finfo.min).

Where releases in that range differ, this follows 4.40-4.45: min_new_tokens replaces min_length
(4.36-4.39 applied both, i.e. the larger), and a max_length equal to the default 20 stays 20
(4.46 made it 20 new tokens, capped at max_position_embeddings).

Everything is computed in float64 from the weights as stored: eval mode, no dropout, no KV cache
(every decoder step recomputes the whole prefix, which is what a reference wants).

Run with Debian's torch: /usr/bin/python3 (torch 1.13; apt-get install python3-torch).
"""

import math

import torch
import torch.nn.functional as F

F64 = torch.float64

ACTIVATIONS = {
    "swish": F.silu,
    "silu": F.silu,
    "relu": F.relu,
    "gelu": F.gelu,  # HF "gelu" is the exact erf form
    "gelu_new": lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3)))),
}


def sinusoidal_positions(n_pos, dim):
    """MarianSinusoidalPositionalEmbedding._init_weight: sin in the first half, cos in the second."""
    pos = torch.arange(n_pos, dtype=F64)[:, None]
    j = torch.arange(dim, dtype=F64)[None, :]
    enc = pos / torch.pow(torch.tensor(10000.0, dtype=F64), 2 * torch.div(j, 2, rounding_mode="floor") / dim)
    sentinel = dim // 2 if dim % 2 == 0 else dim // 2 + 1
    out = torch.zeros(n_pos, dim, dtype=F64)
    out[:, :sentinel] = torch.sin(enc[:, 0::2])
    out[:, sentinel:] = torch.cos(enc[:, 1::2])
    # HF builds the table in numpy float64 and stores it as float32
    return out.to(torch.float32).to(F64)


class MarianMTModel:
    def __init__(self, config, weights):
        self.c = config
        self.w = {k: v.to(F64) for k, v in weights.items()}
        shared = next(self.w[n] for n in ("model.shared.weight", "model.encoder.embed_tokens.weight", "lm_head.weight") if n in self.w)
        self.embed = shared
        self.bias = self.w["final_logits_bias"].reshape(-1)
        self.d = config["d_model"]
        self.scale = math.sqrt(self.d) if config.get("scale_embedding", False) else 1.0
        self.positions = sinusoidal_positions(config["max_position_embeddings"], self.d)
        self.act = ACTIVATIONS[config["activation_function"]]

    def _linear(self, x, p):
        return x @ self.w[p + ".weight"].T + self.w[p + ".bias"]

    def _ln(self, x, p):
        return F.layer_norm(x, (x.shape[-1],), self.w[p + ".weight"], self.w[p + ".bias"], 1e-5)

    def _attention(self, x, kv, p, heads, key_mask, causal):
        """MarianAttention: q scaled by head_dim^-0.5 after its projection; masks add finfo.min."""
        B, Tq, D = x.shape
        Tk = kv.shape[1]
        hd = D // heads
        q = (self._linear(x, p + ".q_proj") * hd**-0.5).view(B, Tq, heads, hd).transpose(1, 2)
        k = self._linear(kv, p + ".k_proj").view(B, Tk, heads, hd).transpose(1, 2)
        v = self._linear(kv, p + ".v_proj").view(B, Tk, heads, hd).transpose(1, 2)
        scores = q @ k.transpose(-1, -2)  # [B, H, Tq, Tk]
        allowed = torch.ones(B, 1, Tq, Tk, dtype=torch.bool)
        if key_mask is not None:
            allowed = allowed & key_mask[:, None, None, :].bool()
        if causal:
            allowed = allowed & torch.ones(Tq, Tk, dtype=torch.bool).tril(Tk - Tq)
        scores = scores.masked_fill(~allowed, torch.finfo(F64).min)
        out = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, Tq, D)
        return self._linear(out, p + ".out_proj")

    def _embed(self, ids):
        T = ids.shape[1]
        return self.embed[ids] * self.scale + self.positions[:T][None]

    def encode(self, ids, mask):
        """ids, mask: long [B, T] (mask 1 = token, 0 = padding) -> hidden [B, T, D]."""
        x = self._embed(ids)
        for i in range(self.c["encoder_layers"]):
            p = f"model.encoder.layers.{i}"
            x = self._ln(x + self._attention(x, x, p + ".self_attn", self.c["encoder_attention_heads"], mask, False), p + ".self_attn_layer_norm")
            h = self._linear(self.act(self._linear(x, p + ".fc1")), p + ".fc2")
            x = self._ln(x + h, p + ".final_layer_norm")
        return x

    def decode(self, dec_ids, enc, enc_mask):
        """dec_ids long [B, T] (starting with decoder_start_token_id) -> logits [B, T, V]."""
        x = self._embed(dec_ids)
        heads = self.c["decoder_attention_heads"]
        for i in range(self.c["decoder_layers"]):
            p = f"model.decoder.layers.{i}"
            x = self._ln(x + self._attention(x, x, p + ".self_attn", heads, None, True), p + ".self_attn_layer_norm")
            x = self._ln(x + self._attention(x, enc, p + ".encoder_attn", heads, enc_mask, False), p + ".encoder_attn_layer_norm")
            h = self._linear(self.act(self._linear(x, p + ".fc1")), p + ".fc2")
            x = self._ln(x + h, p + ".final_layer_norm")
        return x @ self.embed.T + self.bias  # lm_head tied to the shared embedding, + final_logits_bias


def pad_batch(sources, pad):
    """Right-pad a list of id lists: (ids [B, T], mask [B, T]), as MarianTokenizer does."""
    T = max(len(s) for s in sources)
    ids = torch.full((len(sources), T), pad, dtype=torch.long)
    mask = torch.zeros(len(sources), T, dtype=torch.long)
    for b, s in enumerate(sources):
        ids[b, : len(s)] = torch.tensor(s)
        mask[b, : len(s)] = 1
    return ids, mask


# ----------------------------------------------------------------------------------------------
# The generation settings, as `from_pretrained` and `generate(**kwargs)` resolve them.

# GenerationConfig.__init__'s defaults for the keys used here.
GENERATION_DEFAULTS = {
    "max_length": 20,
    "max_new_tokens": None,
    "min_length": 0,
    "min_new_tokens": None,
    "num_beams": 1,
    "length_penalty": 1.0,
    "early_stopping": False,
    "do_sample": False,
    "bos_token_id": None,
    "eos_token_id": None,
    "pad_token_id": None,
    "decoder_start_token_id": None,
    "bad_words_ids": None,
    "forced_eos_token_id": None,
    "renormalize_logits": False,
}

# MarianConfig.__init__'s defaults for the generation keys it sets (they reach the generation config
# through from_model_config when the folder has no generation_config.json).
MARIAN_CONFIG_DEFAULTS = {"pad_token_id": 58100, "eos_token_id": 0, "decoder_start_token_id": 58100, "forced_eos_token_id": 0}


def generation_config_of(config, generation_config=None):
    """`model.generation_config` after `MarianMTModel.from_pretrained(folder)`.

    `generation_config` is the parsed generation_config.json when the folder has one: then it alone
    counts (GenerationConfig.from_pretrained; config.json's generation keys are ignored). Without it,
    GenerationConfig.from_model_config(MarianConfig(**config)) takes the keys from config.json, and
    MarianConfig's own defaults (forced_eos_token_id 0, ...) for the keys config.json lacks.
    """
    if generation_config is not None:
        source = generation_config
    else:
        source = {**MARIAN_CONFIG_DEFAULTS, **config}
    return {key: source.get(key, default) for key, default in GENERATION_DEFAULTS.items()}


def _ids(value):
    if value is None:
        return []
    return [value] if isinstance(value, int) else list(value)


def prepare_generation(generation_config, **kwargs):
    """`generate(**kwargs)` up to the search: kwargs update a copy of the generation config, then
    `_prepare_special_tokens` and `_prepare_generated_length` (transformers 4.40-4.45), and
    `_get_logits_processor`'s processors for these keys. The decoder prompt is the start token alone
    (input_ids_length 1), so max_new_tokens / min_new_tokens become max_length / min_length = 1 + n.
    """
    unknown = set(kwargs) - set(GENERATION_DEFAULTS)
    assert not unknown, f"not a generation key: {unknown}"
    gc = {**generation_config, **kwargs}
    eos = _ids(gc["eos_token_id"])
    pad = gc["pad_token_id"]
    if pad is None and eos:
        pad = eos[0]  # "Setting `pad_token_id` to `eos_token_id`:... for open-end generation."
    start = gc["decoder_start_token_id"] if gc["decoder_start_token_id"] is not None else gc["bos_token_id"]
    if start is None:
        raise ValueError("`decoder_start_token_id` or `bos_token_id` has to be defined for encoder-decoder generation.")
    max_length = gc["max_length"] if gc["max_new_tokens"] is None else 1 + gc["max_new_tokens"]
    min_length = gc["min_length"] if gc["min_new_tokens"] is None else 1 + gc["min_new_tokens"]
    # NoBadWordsLogitsProcessor drops the bad words that are a single EOS id.
    bad = [list(w) for w in gc["bad_words_ids"] or [] if not any(list(w) == [e] for e in eos)]
    return {
        "num_beams": gc["num_beams"],
        "max_length": max_length,
        "min_length": min_length,
        "length_penalty": gc["length_penalty"],
        "early_stopping": gc["early_stopping"],
        "eos": eos,
        "pad": pad,
        "start": start,
        "bad_words": bad,
        "forced_eos": _ids(gc["forced_eos_token_id"]),
        "renormalize": gc["renormalize_logits"],
    }


def process_scores(scores, seqs, s):
    """HF's processors in `_get_logits_processor`'s order: NoBadWords, MinLength (MinNewTokens
    bans the same), ForcedEOS, and LogitNormalization last (renormalize_logits: log_softmax of the
    processed scores). `seqs` [N, cur_len] are the rows' tokens so far, start token included."""
    scores = scores.clone()
    cur_len = seqs.shape[1]
    # NoBadWords (SequenceBiasLogitsProcessor with bias -inf): single tokens always; a longer word
    # bans its last token in the rows whose last tokens are the rest of it (skipped while the word
    # is longer than the sequence so far, start token included).
    for word in s["bad_words"]:
        if len(word) == 1:
            scores[:, word[0]] = -math.inf
        elif len(word) <= cur_len:
            prefix = torch.tensor(word[:-1], dtype=torch.long)
            match = (seqs[:, cur_len - len(prefix) :] == prefix).all(dim=1)
            scores[match, word[-1]] = -math.inf
    if s["eos"] and cur_len < s["min_length"]:
        scores[:, s["eos"]] = -math.inf
    if s["forced_eos"] and cur_len == s["max_length"] - 1:
        scores[:, :] = -math.inf
        scores[:, s["forced_eos"]] = 0
    if s["renormalize"]:
        scores = F.log_softmax(scores, dim=-1)
    return scores


def generate(model, sources, s):
    """`MarianMTModel.generate(input_ids, attention_mask)` with prepared settings `s`, for a batch
    of sources right-padded as MarianTokenizer pads them (the attention mask marks the padding).
    Returns {"ids": per source, the generated ids without the start token, up to and with EOS,
    "scores" (beam search), "margin": the closest decision (see greedy / beam_search)}."""
    if s["num_beams"] == 1:
        return _greedy(model, sources, s)
    return _beam_search(model, sources, s)


def _greedy(model, sources, s):
    """GenerationMixin._greedy_search: argmax of the processed logits; finished rows get pad."""
    eos = s["eos"]
    ids, mask = pad_batch(sources, model.c["pad_token_id"])
    enc = model.encode(ids, mask)
    seqs = torch.full((len(sources), 1), s["start"], dtype=torch.long)
    unfinished = torch.ones(len(sources), dtype=torch.long)
    margins = []
    while True:
        logits = model.decode(seqs, enc, mask)[:, -1, :]
        scores = process_scores(logits, seqs, s)
        top2 = scores.topk(2, dim=-1).values
        margins += [float(top2[b, 0] - top2[b, 1]) for b in range(len(sources)) if unfinished[b]]
        nxt = scores.argmax(dim=-1)
        if eos:
            nxt = nxt * unfinished + s["pad"] * (1 - unfinished)
        seqs = torch.cat([seqs, nxt[:, None]], dim=1)
        if eos:
            unfinished = unfinished & ~torch.isin(nxt, torch.tensor(eos))
        if unfinished.max() == 0 or seqs.shape[1] >= s["max_length"]:
            break
    out = []
    for row in seqs[:, 1:].tolist():
        end = next((i for i, t in enumerate(row) if t in eos), None)
        out.append(row if end is None else row[: end + 1])
    return {"ids": out, "margin": min(margins)}


class BeamHypotheses:
    def __init__(self, num_beams, length_penalty, early_stopping, max_length):
        self.num_beams, self.length_penalty, self.early_stopping, self.max_length = num_beams, length_penalty, early_stopping, max_length
        self.beams = []
        self.worst_score = 1e9

    def add(self, hyp, sum_logprobs, generated_len):
        score = sum_logprobs / (generated_len**self.length_penalty)
        if len(self.beams) < self.num_beams or score > self.worst_score:
            self.beams.append((score, hyp))
            if len(self.beams) > self.num_beams:
                ranked = sorted([(s, i) for i, (s, _) in enumerate(self.beams)])
                del self.beams[ranked[0][1]]
                self.worst_score = ranked[1][0]
            else:
                self.worst_score = min(score, self.worst_score)

    def is_done(self, best_sum_logprobs, cur_len, decoder_prompt_len):
        if len(self.beams) < self.num_beams:
            return False
        if self.early_stopping is True:
            return True
        if self.early_stopping is False:
            return self.worst_score >= best_sum_logprobs / (cur_len - decoder_prompt_len) ** self.length_penalty
        # "never": the best score any continuation could still reach
        length = self.max_length if self.length_penalty > 0.0 else cur_len
        return self.worst_score >= best_sum_logprobs / (length - decoder_prompt_len) ** self.length_penalty


def _beam_search(model, sources, s):
    """GenerationMixin._beam_search with BeamSearchScorer: returns ids, scores and the smallest gap."""
    eos, pad, nb = s["eos"], s["pad"], s["num_beams"]
    B = len(sources)
    ids, mask = pad_batch(sources, model.c["pad_token_id"])
    enc = model.encode(ids, mask).repeat_interleave(nb, dim=0)  # _expand_inputs_for_generation
    mask = mask.repeat_interleave(nb, dim=0)
    seqs = torch.full((B * nb, 1), s["start"], dtype=torch.long)
    decoder_prompt_len = 1
    hyps = [BeamHypotheses(nb, s["length_penalty"], s["early_stopping"], s["max_length"]) for _ in range(B)]
    done = [False] * B
    beam_scores = torch.zeros(B, nb, dtype=F64)
    beam_scores[:, 1:] = -1e9
    beam_scores = beam_scores.view(-1)
    # "Sample 1 + len(eos_token_id) next tokens for each beam so we have at least 1 non eos token per beam."
    k = max(2, 1 + len(eos)) * nb
    gaps = []
    while True:
        cur_len = seqs.shape[1]
        logits = model.decode(seqs, enc, mask)[:, -1, :]
        V = logits.shape[-1]
        scores = process_scores(F.log_softmax(logits, dim=-1), seqs, s)
        scores = (scores + beam_scores[:, None]).view(B, nb * V)
        top_scores, top_tokens = torch.topk(scores, k, dim=1, largest=True, sorted=True)
        # How close the decisions were (a near-tie could flip under float32 rounding): the cut after
        # the nb best candidates (an EOS must rank among them to finish a hypothesis) and the cut
        # after the nb-th candidate that is not EOS (the beams kept for the next step).
        for b in range(B):
            if not done[b]:
                ranked = scores[b].sort(descending=True)
                values, tokens = ranked.values[: k + nb + 1], ranked.indices[: k + nb + 1] % V
                cuts = [nb - 1, [r for r in range(len(tokens)) if int(tokens[r]) not in eos][nb - 1]]
                gaps += [float(values[r] - values[r + 1]) for r in cuts if torch.isfinite(values[r + 1])]
        next_indices = torch.div(top_tokens, V, rounding_mode="floor")
        next_tokens = top_tokens % V
        # BeamSearchScorer.process
        new_scores = torch.zeros(B, nb, dtype=F64)
        new_tokens = torch.zeros(B, nb, dtype=torch.long)
        new_indices = torch.zeros(B, nb, dtype=torch.long)
        for b in range(B):
            if done[b]:
                new_tokens[b, :] = pad
                continue
            beam_idx = 0
            for rank in range(k):
                token, score, index = int(next_tokens[b, rank]), float(top_scores[b, rank]), int(next_indices[b, rank])
                row = b * nb + index
                if token in eos:
                    if rank >= nb:
                        continue
                    hyps[b].add(seqs[row].clone(), score, generated_len=cur_len + 1 - decoder_prompt_len)
                else:
                    new_scores[b, beam_idx], new_tokens[b, beam_idx], new_indices[b, beam_idx] = score, token, row
                    beam_idx += 1
                if beam_idx == nb:
                    break
            assert beam_idx == nb
            done[b] = done[b] or hyps[b].is_done(float(top_scores[b].max()), cur_len + 1, decoder_prompt_len)
        beam_scores = new_scores.view(-1)
        seqs = torch.cat([seqs[new_indices.view(-1)], new_tokens.view(-1, 1)], dim=1)
        if all(done) or seqs.shape[1] >= s["max_length"]:
            break
    # BeamSearchScorer.finalize
    results, result_scores = [], []
    for b in range(B):
        if not done[b]:
            for j in range(nb):
                row = b * nb + j
                hyps[b].add(seqs[row], float(beam_scores[row]), generated_len=seqs.shape[1] - decoder_prompt_len)
        score, best = sorted(hyps[b].beams, key=lambda x: x[0])[-1]
        tokens = best.tolist()[1:]
        if len(best) < s["max_length"]:  # it ended on EOS: finalize writes the first EOS id after the hypothesis
            tokens.append(eos[0])
        results.append(tokens)
        result_scores.append(score)
    return {"ids": results, "scores": result_scores, "margin": min(gaps)}


# The calls make_marian_fixtures.py makes: marian-tiny's config.json is its generation config.


def greedy(model, sources, max_new_tokens, min_new_tokens=0, forced_eos=True):
    gc = generation_config_of(model.c)
    kwargs = {} if forced_eos else {"forced_eos_token_id": None}
    s = prepare_generation(gc, num_beams=1, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens, **kwargs)
    out = _greedy(model, sources, s)
    return out["ids"], out["margin"]


def beam_search(model, sources, num_beams, max_new_tokens, length_penalty=1.0, early_stopping=False, min_new_tokens=0, forced_eos=True):
    """HF generate(num_beams > 1) for an encoder-decoder: returns (ids per source, scores, smallest gap)."""
    gc = generation_config_of(model.c)
    kwargs = {} if forced_eos else {"forced_eos_token_id": None}
    s = prepare_generation(
        gc, num_beams=num_beams, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens, length_penalty=length_penalty, early_stopping=early_stopping, **kwargs
    )
    out = _beam_search(model, sources, s)
    return out["ids"], out["scores"], out["margin"]
