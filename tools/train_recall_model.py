#!/usr/bin/python3
"""Trains the tiny llama-architecture "recall model" used by the needle tests and exports it to GGUF.

The model learns one task: given filler text with 1-4 needles `The pass key for KEY is VALUE.`
and the question `What is the pass key for KEY?`, answer VALUE then EOS. It exists so that
tests and the demo show a true effect of KV compression on recall (issue 7).

Needs Debian's python3-torch (CPU) and numpy; the tests only need the committed GGUF.
The vocabulary is the SentencePiece vocabulary of stories260K.gguf (its tokenizer.ggml.* keys are
copied), so the engine's SPM tokenizer works unchanged; the script tokenizes with its own copy of
that algorithm (llama.cpp's llm_tokenizer_spm: merges by score, ties to the leftmost pair).

    /usr/bin/python3 tools/train_recall_model.py --out tests/data/recall-model.gguf

Everything random comes from --seed (default 1234); see tools/README.md for the recipe.
"""

import argparse
import glob
import heapq
import math
import os
import random
import re
import struct
import sys
import time

# Idle OpenMP workers sleep instead of spinning: on a machine shared with busy builds a spinning
# worker burns its share waiting for a descheduled sibling. Read when libgomp loads, so set first.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F

CHAT_TEMPLATE = ("{% for message in messages %}{{ message['content'] }}{% endfor %}"
                 "{% if add_generation_prompt %}\nAnswer: {% endif %}")
SPACE_MARK = "\u2581"

# ---------------------------------------------------------------------------------------------
# GGUF (v3) reading and writing. Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata
# count, metadata (key string, u32 type, value), tensor infos (name, u32 n_dims, u64 dims with
# dims[0] the row length, u32 type, u64 offset in the data section), padding to the alignment
# (general.alignment, default 32), tensor data (each tensor at an aligned offset).

GGUF_UINT8, GGUF_INT8, GGUF_UINT16, GGUF_INT16, GGUF_UINT32, GGUF_INT32, GGUF_FLOAT32, GGUF_BOOL, \
    GGUF_STRING, GGUF_ARRAY, GGUF_UINT64, GGUF_INT64, GGUF_FLOAT64 = range(13)
SCALAR_FORMATS = {GGUF_UINT8: "B", GGUF_INT8: "b", GGUF_UINT16: "H", GGUF_INT16: "h", GGUF_UINT32: "I",
                  GGUF_INT32: "i", GGUF_FLOAT32: "f", GGUF_BOOL: "?", GGUF_UINT64: "Q", GGUF_INT64: "q",
                  GGUF_FLOAT64: "d"}
GGML_TYPE_F32 = 0
GGML_TYPE_F16 = 1
ALIGNMENT = 32


class GgufReader:
    """Reads the metadata of a GGUF file (values and their types); tensors are not needed here."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        self.pos = 0
        if self.data[:4] != b"GGUF":
            sys.exit(f"{path}: not a GGUF file")
        self.pos = 4
        version = self._scalar("I")
        if version not in (2, 3):
            sys.exit(f"{path}: GGUF version {version} is not supported")
        n_tensors = self._scalar("Q")
        n_kv = self._scalar("Q")
        self.metadata = {}  # key -> (type, value); arrays: (GGUF_ARRAY, (element type, [values]))
        for _ in range(n_kv):
            key = self._string()
            value_type = self._scalar("I")
            self.metadata[key] = (value_type, self._value(value_type))
        self.tensor_infos = []  # (name, dims with the row length first, ggml type, offset)
        for _ in range(n_tensors):
            name = self._string()
            n_dims = self._scalar("I")
            dims = [self._scalar("Q") for _ in range(n_dims)]
            self.tensor_infos.append((name, dims, self._scalar("I"), self._scalar("Q")))
        alignment = self.metadata.get("general.alignment", (GGUF_UINT32, ALIGNMENT))[1]
        self.data_start = (self.pos + alignment - 1) // alignment * alignment

    def tensor(self, name):
        """An f32 or f16 tensor as a float32 array in PyTorch order (dims reversed)."""
        for tensor_name, dims, ggml_type, offset in self.tensor_infos:
            if tensor_name == name:
                dtype = {GGML_TYPE_F32: np.float32, GGML_TYPE_F16: np.float16}[ggml_type]
                count = int(np.prod(dims))
                array = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.data_start + offset)
                return array.astype(np.float32).reshape(list(reversed(dims)))
        sys.exit(f"tensor {name} is missing")

    def _scalar(self, fmt):
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def _string(self):
        n = self._scalar("Q")
        raw = self.data[self.pos:self.pos + n]
        self.pos += n
        return raw.decode("utf-8")

    def _value(self, value_type):
        if value_type == GGUF_STRING:
            return self._string()
        if value_type == GGUF_ARRAY:
            element_type = self._scalar("I")
            n = self._scalar("Q")
            return element_type, [self._value(element_type) for _ in range(n)]
        return self._scalar(SCALAR_FORMATS[value_type])


class GgufWriter:
    """Builds a GGUF v3 file: metadata in insertion order, then f32/f16 tensors."""

    def __init__(self):
        self.metadata = []  # (key, type, value)
        self.tensors = []   # (name, ggml type, dims (row length first), bytes)

    def add(self, key, value_type, value):
        self.metadata.append((key, value_type, value))

    def add_tensor(self, name, array, ggml_type=GGML_TYPE_F32):
        """`array` in PyTorch order ([out, in] for a matrix); GGUF dims are the reverse."""
        array = np.ascontiguousarray(array, dtype=np.float32 if ggml_type == GGML_TYPE_F32 else np.float16)
        self.tensors.append((name, ggml_type, list(reversed(array.shape)), array.tobytes()))

    @staticmethod
    def _string(s):
        raw = s.encode("utf-8")
        return struct.pack("<Q", len(raw)) + raw

    def _value(self, value_type, value):
        if value_type == GGUF_STRING:
            return self._string(value)
        if value_type == GGUF_ARRAY:
            element_type, values = value
            out = [struct.pack("<IQ", element_type, len(values))]
            out += [self._value(element_type, v) for v in values]
            return b"".join(out)
        return struct.pack("<" + SCALAR_FORMATS[value_type], value)

    def write(self, path):
        out = [b"GGUF", struct.pack("<IQQ", 3, len(self.tensors), len(self.metadata))]
        for key, value_type, value in self.metadata:
            out += [self._string(key), struct.pack("<I", value_type), self._value(value_type, value)]
        offset = 0
        offsets = []
        for name, ggml_type, dims, raw in self.tensors:
            offsets.append(offset)
            out += [self._string(name), struct.pack("<I", len(dims)), struct.pack(f"<{len(dims)}Q", *dims),
                    struct.pack("<IQ", ggml_type, offset)]
            offset += (len(raw) + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
        header = b"".join(out)
        header += b"\0" * (-len(header) % ALIGNMENT)
        body = []
        for (name, ggml_type, dims, raw), at in zip(self.tensors, offsets):
            body.append(raw + b"\0" * (-len(raw) % ALIGNMENT))
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(b"".join(body))
        os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# SentencePiece tokenization as the engine does it (engine/spm_tokenizer.cpp, llama.cpp's
# llm_tokenizer_spm): " " -> U+2581, a space prefix at the start of the text, symbols start as
# UTF-8 characters, the adjacent pair whose merged text is a token with the highest score merges
# first (ties: leftmost), characters that are no token fall back to <0xXX> byte tokens.

class SpmTokenizer:
    def __init__(self, tokens, scores, bos, eos):
        self.ids = {t: i for i, t in enumerate(tokens)}
        self.scores = scores
        self.tokens = tokens
        self.bos = bos
        self.eos = eos
        self.cache = {}
        # When no token holds U+2581 after another character, no merge crosses the start of a
        # word, so words can be tokenized (and cached) one by one.
        self.split_at_spaces = all(SPACE_MARK not in t[1:] for t in tokens)
        assert self.split_at_spaces, "the vocabulary merges across words; per-word caching would be wrong"

    def encode(self, text, bos=True):
        text = SPACE_MARK + text.replace(" ", SPACE_MARK)
        out = [self.bos] if bos else []
        begin = 0
        for m in re.finditer(SPACE_MARK + "+", text):
            at = m.start()
            if at > begin:
                out += self._segment(text[begin:at])
                begin = at
        out += self._segment(text[begin:])
        return out

    def encode_piece(self, text):
        """Ids of `text` with no space prefix and no BOS: how a continuation such as the answer reads."""
        return self._segment(text.replace(" ", SPACE_MARK))

    def _segment(self, text):
        if not text:
            return []
        cached = self.cache.get(text)
        if cached is not None:
            return cached
        symbols = list(text)
        alive = [True] * len(symbols)
        nxt = list(range(1, len(symbols))) + [-1]
        prv = list(range(-1, len(symbols) - 1))
        heap = []

        def push(left, right):
            if left < 0 or right < 0:
                return
            merged = symbols[left] + symbols[right]
            token = self.ids.get(merged)
            if token is not None:
                heapq.heappush(heap, (-self.scores[token], left, right, len(merged)))

        for i in range(1, len(symbols)):
            push(i - 1, i)
        while heap:
            _, left, right, length = heapq.heappop(heap)
            if not alive[left] or not alive[right] or len(symbols[left]) + len(symbols[right]) != length \
                    or nxt[left] != right:
                continue
            symbols[left] += symbols[right]
            alive[right] = False
            nxt[left] = nxt[right]
            if nxt[right] >= 0:
                prv[nxt[right]] = left
            push(prv[left], left)
            push(left, nxt[left])
        out = []
        i = 0
        while i >= 0:
            piece = symbols[i]
            token = self.ids.get(piece)
            if token is not None:
                out.append(token)
            else:
                out += [self.ids[f"<0x{b:02X}>"] for b in piece.encode("utf-8")]
            i = nxt[i]
        self.cache[text] = out
        return out

    def decode(self, ids):
        raw = bytearray()
        for i in ids:
            t = self.tokens[i]
            if re.fullmatch(r"<0x[0-9A-F]{2}>", t):
                raw.append(int(t[3:5], 16))
            elif i in (self.bos, self.eos, 0):
                continue
            else:
                raw += t.replace(SPACE_MARK, " ").encode("utf-8")
        text = raw.decode("utf-8", errors="replace")
        return text[1:] if text.startswith(" ") else text


# ---------------------------------------------------------------------------------------------
# Task data: haystacks from the sample corpus with needles, in the fixed format the `needle`
# harness writes (app/): `The pass key for KEY is VALUE.` between sentences, the question
# `HAYSTACK\nWhat is the pass key for KEY?` and the chat template's `\nAnswer: `.

def load_sentences(corpus_dir):
    sentences = []
    for path in sorted(glob.glob(os.path.join(corpus_dir, "*.txt"))):
        with open(path, encoding="utf-8") as f:
            text = " ".join(f.read().split())  # one line, single spaces
        for s in re.split(r"(?<=[.;:!?])\s+", text):
            words = s.split(" ")
            # Long runs without punctuation (tables of contents) become 40-word pieces, so that a
            # haystack's length is set by sentence counts, not by one giant sentence.
            for i in range(0, len(words), 40):
                piece = " ".join(words[i:i + 40])
                if len(piece) >= 2:
                    sentences.append(piece)
    return sentences


def random_key(rng):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(5, 8)))


def similar_key(rng, key):
    """A different key that shares a prefix (2-4 letters) with `key`."""
    while True:
        keep = rng.randint(2, min(4, len(key) - 1))
        other = key[:keep] + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                                     for _ in range(rng.randint(max(5, keep + 1), 8) - keep))
        if other != key:
            return other


def make_needles(rng, max_needles=4):
    """1-max_needles (key, value) pairs, the first is the one asked for; some distractors share
    its prefix. The harness plants at most 4; training plants more (see --train-needles)."""
    n = rng.choice([1, 1, 2, 2, 3, 4]) if max_needles == 4 else rng.randint(1, max_needles)
    asked = random_key(rng)
    keys = [asked]
    while len(keys) < n:
        k = similar_key(rng, asked) if rng.random() < 0.5 else random_key(rng)
        if k not in keys:
            keys.append(k)
    values = []
    while len(values) < n:
        v = rng.randint(100000, 999999)
        if v not in values:
            values.append(v)
    return list(zip(keys, values))


class Filler:
    """The corpus sentences, each tokenized once. Because no token of the vocabulary holds U+2581
    after its first character, SentencePiece never merges across a word start, so a text's ids are
    the concatenation of its space-separated sentences' ids; a prompt is then assembled from cached
    pieces instead of re-tokenizing thousands of words per sample (checked in `check_prompt_ids`)."""

    def __init__(self, sentences, tok):
        self.sentences = sentences
        self.ids = [tok.encode(s, bos=False) for s in sentences]


def build_prompt(rng, filler, tok, filler_tokens, needles, depths=None):
    """(prompt text, prompt ids): about `filler_tokens` tokens of consecutive corpus sentences with
    the needles at the given (or random) depths in [0, 1], then the question and `\nAnswer: ` and
    the answer prefix."""
    n = len(filler.sentences)
    chosen, count = [], 0
    i = rng.randrange(n)
    while count < filler_tokens:
        chosen.append(i % n)
        count += len(filler.ids[i % n])
        i += 1
    if depths is None:
        depths = [rng.random() for _ in needles]
    inserts = {}
    for j in sorted(range(len(needles)), key=lambda j: depths[j]):
        inserts.setdefault(round(depths[j] * len(chosen)), []).append(j)
    parts = []  # a sentence index of the filler, or a needle's text
    for at in range(len(chosen) + 1):
        for j in inserts.get(at, []):
            key, value = needles[j]
            parts.append(f"The pass key for {key} is {value}.")
        if at < len(chosen):
            parts.append(chosen[at])

    def text_of(part):
        return filler.sentences[part] if isinstance(part, int) else part

    def ids_of(part):
        return filler.ids[part] if isinstance(part, int) else tok.encode(part, bos=False)

    tail = text_of(parts[-1]) + question_and_prefix(needles[0][0])  # the last word joins "\nWhat"
    ids = [tok.bos]
    for part in parts[:-1]:
        ids += ids_of(part)
    ids += tok.encode(tail, bos=False)
    return " ".join(text_of(p) for p in parts[:-1]) + (" " if len(parts) > 1 else "") + tail, ids


def check_prompt_ids(rng, filler, tok, n=200):
    """The assembled ids equal the tokenizer's ids of the whole prompt text."""
    for _ in range(n):
        text, ids = build_prompt(rng, filler, tok, rng.randint(0, 600), make_needles(rng, 8))
        assert ids == tok.encode(text), f"assembled prompt ids differ from the tokenizer's for: {text[:200]}"


def question_and_prefix(key):
    """The question, the template's generation prompt, and the answer prefix the harness puts in
    the model's mouth (as RULER does): the answer is then the value copied from the needle."""
    return f"\nWhat is the pass key for {key}?\nAnswer: The pass key for {key} is"


def answer_ids(tok, value):
    """` VALUE.` as it appears in the needle sentence, then EOS."""
    return tok.encode_piece(f" {value}.") + [tok.eos]


def make_sample(rng, filler, tok, filler_tokens, max_needles=4):
    """(prompt ids, answer ids + EOS, needles) of one haystack and its question, as the harness asks it."""
    needles = make_needles(rng, max_needles)
    _, ids = build_prompt(rng, filler, tok, filler_tokens, needles)
    return ids, answer_ids(tok, needles[0][1]), needles


def make_training_sequence(rng, filler, tok, filler_tokens, max_needles):
    """A haystack, its question and answer, then (training only) the questions about the other
    needles, each after the previous answer's EOS: the haystack costs most of the compute, so
    asking about every needle gets more answers out of it. The first question is exactly the
    inference-time prompt; later ones only add supervised answers. Returns (ids, answer starts,
    where the first question starts)."""
    ids, answer, needles = make_sample(rng, filler, tok, filler_tokens, max_needles)
    # The tail's first word joins the haystack's last one, so this is where the question starts to
    # within a token.
    question = max(1, len(ids) - len(tok.encode_piece(question_and_prefix(needles[0][0]))) + 1)
    starts = [len(ids)]
    ids = ids + answer
    for key, value in rng.sample(needles[1:], len(needles) - 1):
        ids += tok.encode_piece(question_and_prefix(key))
        starts.append(len(ids))
        ids += answer_ids(tok, value)
    return ids, starts, question


def make_batch(rng, filler, tok, n, filler_lo, filler_hi, max_needles):
    """(tokens, answer targets, question targets): targets are -100 where there is no loss. The
    answers are the task. The questions and answer prefixes after the haystack are an auxiliary
    target: the key in `...pass key for KEY is` can be copied from the question above it, and the
    question's key after its first letters from a needle, which is the same lookup-and-copy
    (induction) the answer needs, with many more targets per haystack to learn it from."""
    seqs = [make_training_sequence(rng, filler, tok, rng.randint(filler_lo, filler_hi), max_needles)
            for _ in range(n)]
    length = max(len(ids) for ids, _, _ in seqs)
    x = torch.full((n, length), tok.eos, dtype=torch.long)
    y = torch.full((n, length), -100, dtype=torch.long)
    y_aux = torch.full((n, length), -100, dtype=torch.long)
    for b, (ids, starts, question) in enumerate(seqs):
        x[b, :len(ids)] = torch.tensor(ids)
        y_aux[b, question - 1:len(ids) - 1] = torch.tensor(ids[question:])
        for p in starts:
            end = ids.index(tok.eos, p) + 1
            y[b, p - 1:end - 1] = torch.tensor(ids[p:end])
            y_aux[b, p - 1:end - 1] = -100
    return x, y, y_aux


def make_copy_batch(rng, filler, tok, n, gap_hi):
    """A warm-up task: a random run of tokens S (letters, digits or corpus text, 8-48 tokens) after
    some filler, more filler (0-gap_hi tokens), then S again; the loss is on S's second copy. Every
    target there needs the lookup the pass key needs (find where the current tokens occurred
    before, copy what followed), and there are dozens per sequence, so a fresh model learns it in
    a few hundred steps instead of sitting at chance on the sparse answers. Returns (x, y)."""
    letters = [tok.ids[c] for c in "abcdefghijklmnopqrstuvwxyz"]
    digits = [tok.ids[c] for c in "0123456789"]

    def corpus_run(length):
        ids = filler.ids[rng.randrange(len(filler.ids))]
        while len(ids) < length:
            ids = ids + filler.ids[rng.randrange(len(filler.ids))]
        at = rng.randrange(len(ids) - length + 1)
        return ids[at:at + length]

    seqs = []
    for _ in range(n):
        length = rng.randint(8, 48)
        kind = rng.random()
        if kind < 0.35:
            s = [rng.choice(letters) for _ in range(length)]
        elif kind < 0.7:
            s = [rng.choice(digits + letters[:4]) for _ in range(length)]
        else:
            s = corpus_run(length)
        before, gap = corpus_run(rng.randint(1, 32)), corpus_run(rng.randint(1, max(1, gap_hi)))
        ids = [tok.bos] + before + s + gap + s
        seqs.append((ids, len(ids) - len(s)))
    width = max(len(ids) for ids, _ in seqs)
    x = torch.full((n, width), tok.eos, dtype=torch.long)
    y = torch.full((n, width), -100, dtype=torch.long)
    for b, (ids, second) in enumerate(seqs):
        x[b, :len(ids)] = torch.tensor(ids)
        y[b, second:len(ids) - 1] = torch.tensor(ids[second + 1:])  # from the copy's second token
    return x, y


# ---------------------------------------------------------------------------------------------
# The model: llama (RMSNorm, GQA attention with RoPE, SwiGLU), written so that its tensors are
# exactly llama.cpp's LLM_ARCH_LLAMA ones. RoPE rotates adjacent pairs (x[2i], x[2i+1]), which is
# what GGUF llama files expect (converters permute HF's half-split Q/K rows into this order).

class RecallModel(torch.nn.Module):
    def __init__(self, n_vocab, n_embd, n_layers, n_heads, n_kv_heads, n_ff, rope_base, eps):
        super().__init__()
        self.n_heads, self.n_kv_heads = n_heads, n_kv_heads
        self.head_dim = n_embd // n_heads
        self.eps = eps
        hd = self.head_dim
        self.tok_embd = torch.nn.Embedding(n_vocab, n_embd)
        self.layers = torch.nn.ModuleList()
        for _ in range(n_layers):
            layer = torch.nn.Module()
            layer.attn_norm = torch.nn.Parameter(torch.ones(n_embd))
            layer.wq = torch.nn.Linear(n_embd, n_heads * hd, bias=False)
            layer.wk = torch.nn.Linear(n_embd, n_kv_heads * hd, bias=False)
            layer.wv = torch.nn.Linear(n_embd, n_kv_heads * hd, bias=False)
            layer.wo = torch.nn.Linear(n_heads * hd, n_embd, bias=False)
            layer.ffn_norm = torch.nn.Parameter(torch.ones(n_embd))
            layer.gate = torch.nn.Linear(n_embd, n_ff, bias=False)
            layer.up = torch.nn.Linear(n_embd, n_ff, bias=False)
            layer.down = torch.nn.Linear(n_ff, n_embd, bias=False)
            self.layers.append(layer)
        self.out_norm = torch.nn.Parameter(torch.ones(n_embd))
        self.output = torch.nn.Linear(n_embd, n_vocab, bias=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)
            if name.endswith("wo.weight") or name.endswith("down.weight"):
                torch.nn.init.normal_(p, std=0.02 / math.sqrt(2 * n_layers))
        inv_freq = rope_base ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x, cos, sin):
        # x: [B, H, T, hd]; pairs (2i, 2i+1) rotate by angle pos * inv_freq[i]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)

    def forward(self, tokens, select=None):
        """Logits [B, T, vocab], or only at the positions where the bool mask `select` [B, T] is set."""
        B, T = tokens.shape
        hd = self.head_dim
        pos = torch.arange(T, dtype=torch.float32)
        angle = pos[:, None] * self.inv_freq[None, :]  # [T, hd/2]
        cos, sin = angle.cos(), angle.sin()
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = self.tok_embd(tokens)
        group = self.n_heads // self.n_kv_heads
        for l in self.layers:
            h = self.rms(x, l.attn_norm)
            q = l.wq(h).view(B, T, self.n_heads, hd).transpose(1, 2)
            k = l.wk(h).view(B, T, self.n_kv_heads, hd).transpose(1, 2)
            v = l.wv(h).view(B, T, self.n_kv_heads, hd).transpose(1, 2)
            q, k = self.rope(q, cos, sin), self.rope(k, cos, sin)
            k = k.repeat_interleave(group, dim=1)  # query head j reads KV head j // group (GQA)
            v = v.repeat_interleave(group, dim=1)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
            att = att.softmax(-1) @ v
            x = x + l.wo(att.transpose(1, 2).reshape(B, T, self.n_heads * hd))
            h = self.rms(x, l.ffn_norm)
            x = x + l.down(F.silu(l.gate(h)) * l.up(h))
        if select is not None:
            x = x[select]
        return self.output(self.rms(x, self.out_norm))


@torch.no_grad()
def init_previous_token_head(model, frequencies=8, sharpness=8.0):
    """Starts layer 0's first KV head as a previous-token head: every token embedding gets a constant
    component in dimension 0, head 0's query and key read only it, with the key's RoPE pairs
    pre-rotated by one position, so the score q_i . k_j = A^2 sum_f cos((1 - (i - j)) theta_f) over the
    `frequencies` fastest pairs peaks at j = i - 1 whatever the content. Content-based lookup
    (an induction head: match the token before, copy the one after) needs such a head beneath it;
    learnt from scratch the two form together only after a long plateau (thousands of steps at
    chance on this task, measured), so the run starts with one and training adapts the rest."""
    d, hd = model.tok_embd.weight.shape[1], model.head_dim
    const = 0.02 * math.sqrt(d)              # as large as the random part of an embedding
    model.tok_embd.weight[:, 0] = const
    n0 = const / math.sqrt((const ** 2 + (d - 1) * 0.02 ** 2) / d)  # dimension 0 after RMSNorm
    a = math.sqrt(sharpness * math.sqrt(hd)) / n0
    layer = model.layers[0]
    theta = model.inv_freq
    layer.wq.weight[:hd] = 0
    layer.wk.weight[:hd] = 0
    for f in range(min(frequencies, hd // 2)):
        layer.wq.weight[2 * f, 0] = a
        layer.wk.weight[2 * f, 0] = a * math.cos(theta[f])
        layer.wk.weight[2 * f + 1, 0] = a * math.sin(theta[f])


def export_gguf(model, args, vocab_meta, path):
    w = GgufWriter()
    w.add("general.architecture", GGUF_STRING, "llama")
    w.add("general.name", GGUF_STRING, "needlework-recall")
    w.add("general.description", GGUF_STRING,
          "Tiny llama-architecture model trained by tools/train_recall_model.py "
          f"(seed {args.seed}) on pass-key recall in filler text")
    w.add("llama.context_length", GGUF_UINT32, args.n_ctx)
    w.add("llama.embedding_length", GGUF_UINT32, args.n_embd)
    w.add("llama.feed_forward_length", GGUF_UINT32, args.n_ff)
    w.add("llama.block_count", GGUF_UINT32, args.n_layers)
    w.add("llama.attention.head_count", GGUF_UINT32, args.n_heads)
    w.add("llama.attention.head_count_kv", GGUF_UINT32, args.n_kv_heads)
    w.add("llama.rope.dimension_count", GGUF_UINT32, args.n_embd // args.n_heads)
    w.add("llama.rope.freq_base", GGUF_FLOAT32, args.rope_base)
    w.add("llama.attention.layer_norm_rms_epsilon", GGUF_FLOAT32, args.eps)
    w.add("llama.vocab_size", GGUF_UINT32, len(vocab_meta["tokenizer.ggml.tokens"][1][1]))
    w.add("general.file_type", GGUF_UINT32, 0)  # all F32
    for key, (value_type, value) in vocab_meta.items():
        w.add(key, value_type, value)
    w.add("tokenizer.chat_template", GGUF_STRING, CHAT_TEMPLATE)

    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    for ours, theirs in gguf_names(args.n_layers).items():
        w.add_tensor(theirs, sd[ours])
    w.write(path)


def gguf_names(n_layers):
    """State-dict name -> llama.cpp tensor name."""
    names = {"tok_embd.weight": "token_embd.weight", "out_norm": "output_norm.weight", "output.weight": "output.weight"}
    per_layer = {"attn_norm": "attn_norm", "wq.weight": "attn_q", "wk.weight": "attn_k", "wv.weight": "attn_v",
                 "wo.weight": "attn_output", "ffn_norm": "ffn_norm", "gate.weight": "ffn_gate",
                 "up.weight": "ffn_up", "down.weight": "ffn_down"}
    for i in range(n_layers):
        for ours, theirs in per_layer.items():
            names[f"layers.{i}.{ours}"] = f"blk.{i}.{theirs}.weight"
    return names


@torch.no_grad()
def evaluate(model, rng, filler, tok, filler_tokens, n):
    """Exact-match rate: every answer token (and EOS) is the argmax, i.e. what greedy decoding gives."""
    model.eval()
    hits = 0
    for _ in range(n):
        prompt, answer, _ = make_sample(rng, filler, tok, filler_tokens)
        x = torch.tensor([prompt + answer[:-1]])
        pred = model(x)[0, len(prompt) - 1:].argmax(-1).tolist()
        hits += pred == answer
    model.train()
    return hits / n


def filler_range(frac, args):
    """The curriculum: (shortest, longest) filler at this fraction of the run. Short haystacks
    first, where the lookup (an induction circuit: match the asked key, copy what followed it) is
    cheap to learn; then the longest filler grows to --max-filler; the last stretch trains over the
    whole range so that short haystacks are not forgotten."""
    short, grow = args.short_until, args.grow_until
    if frac < short:
        return 0, args.short_filler
    if frac < grow:
        ramp = (frac - short) / (grow - short)
        return 0, round(args.short_filler + (args.max_filler - args.short_filler) * ramp)
    return 0, args.max_filler


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(root, "tests/data/recall-model.gguf"))
    p.add_argument("--vocab-from", default=os.path.join(root, "../shared/conformance/models/stories260K.gguf"))
    p.add_argument("--corpus", default=os.path.join(root, "resources/sample"))
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--minutes", type=float, default=65,
                   help="training time; the learning rate and the length curriculum follow the elapsed fraction")
    p.add_argument("--steps", type=int, default=0,
                   help="if set, the schedule follows step/steps instead of time (to replay a logged run exactly)")
    p.add_argument("--tokens-per-batch", type=int, default=2048)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--n-layers", type=int, default=4)
    p.add_argument("--n-heads", type=int, default=4)
    p.add_argument("--n-kv-heads", type=int, default=2)
    p.add_argument("--n-ff", type=int, default=384)
    p.add_argument("--n-ctx", type=int, default=1280)
    p.add_argument("--rope-base", type=float, default=10000.0)
    p.add_argument("--eps", type=float, default=1e-5)
    p.add_argument("--short-filler", type=int, default=48, help="longest filler while --short-until")
    p.add_argument("--short-until", type=float, default=0.3, help="fraction of the run on short filler")
    p.add_argument("--grow-until", type=float, default=0.75,
                   help="fraction of the run by which the longest filler has grown to --max-filler")
    p.add_argument("--max-filler", type=int, default=1000)
    p.add_argument("--train-needles", type=int, default=8,
                   help="plant 1..N needles per training haystack and ask about each: every question "
                        "is a supervised answer, and the haystack costs most of the compute")
    p.add_argument("--copy-until", type=float, default=0.3,
                   help="fraction of the run spent on the copy warm-up task alone (see make_copy_batch)")
    p.add_argument("--copy-every", type=int, default=5, help="after the warm-up, every Nth step is a copy batch")
    p.add_argument("--previous-token-head", action=argparse.BooleanOptionalAction, default=True,
                   help="start layer 0's first head as a previous-token head (see init_previous_token_head)")
    p.add_argument("--aux-weight", type=float, default=0.5,
                   help="weight of the loss on the questions and answer prefixes (see make_batch)")
    p.add_argument("--resume", help="start from the weights of this GGUF (one this script wrote, same shape)")
    p.add_argument("--export-minutes", type=float, default=8, help="evaluate and export this often")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    eval_rng = random.Random(args.seed + 1)

    vocab_file = GgufReader(args.vocab_from)
    vocab_meta = {k: v for k, v in vocab_file.metadata.items() if k.startswith("tokenizer.ggml.")}
    tokens = vocab_meta["tokenizer.ggml.tokens"][1][1]
    scores = vocab_meta["tokenizer.ggml.scores"][1][1]
    tok = SpmTokenizer(tokens, scores, vocab_meta["tokenizer.ggml.bos_token_id"][1],
                       vocab_meta["tokenizer.ggml.eos_token_id"][1])
    filler = Filler(load_sentences(args.corpus), tok)
    check_prompt_ids(random.Random(args.seed + 2), filler, tok)

    model = RecallModel(len(tokens), args.n_embd, args.n_layers, args.n_heads, args.n_kv_heads, args.n_ff,
                        args.rope_base, args.eps)
    if args.resume:
        saved = GgufReader(args.resume)
        state = {ours: torch.from_numpy(saved.tensor(theirs).copy()) for ours, theirs in gguf_names(args.n_layers).items()}
        model.load_state_dict(state)
        print(f"resumed from {args.resume}", flush=True)
    elif args.previous_token_head:
        init_previous_token_head(model)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params} parameters, {len(filler.ids)} filler sentences, seed {args.seed}", flush=True)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98))
    t0 = time.time()
    budget = args.minutes * 60
    next_export = args.export_minutes * 60
    avg = copy_avg = None
    step = 0
    while True:
        step += 1
        frac = step / args.steps if args.steps else min(1.0, (time.time() - t0) / budget)
        lr = args.lr * min(1.0, step / 50) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        if frac < args.copy_until or step % args.copy_every == 0:
            # The copy task: alone at first, then every --copy-every steps so the skill stays.
            gap = round(args.short_filler + (args.max_filler - args.short_filler) * max(0.0, frac - args.copy_until))
            n = max(1, args.tokens_per_batch // (gap // 2 + 90))
            x, y_copy = make_copy_batch(rng, filler, tok, n, gap)
            select = y_copy >= 0
            loss = F.cross_entropy(model(x, select), y_copy[select])
            copy_avg = loss.item() if copy_avg is None else 0.9 * copy_avg + 0.1 * loss.item()
            kind, lo_band, hi_band = "copy", 0, gap
        else:
            # One length band per batch (little padding); the batch size keeps the token count level.
            lo, hi = filler_range((frac - args.copy_until) / (1 - args.copy_until), args)
            lo_band = rng.randint(lo, hi)
            hi_band = min(hi, lo_band + 48)
            # A needle costs ~75 tokens with its question and answer; 1..N needles average (N + 1) / 2.
            n = max(1, args.tokens_per_batch // (hi_band + 75 * (args.train_needles + 1) // 2))
            x, y, y_aux = make_batch(rng, filler, tok, n, lo_band, hi_band, args.train_needles)
            select = (y >= 0) | (y_aux >= 0)
            logits = model(x, select)
            is_answer = y[select] >= 0
            answer_loss = F.cross_entropy(logits[is_answer], y[select][is_answer])
            loss = answer_loss + args.aux_weight * F.cross_entropy(logits[~is_answer], y_aux[select][~is_answer])
            avg = answer_loss.item() if avg is None else 0.95 * avg + 0.05 * answer_loss.item()
            kind = "recall"
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        elapsed = time.time() - t0
        if step % 10 == 0:
            print(f"step {step} {kind} filler {lo_band}-{hi_band} batch {n} loss {loss.item():.4f} answer avg "
                  f"{avg if avg is not None else float('nan'):.4f} copy avg "
                  f"{copy_avg if copy_avg is not None else float('nan'):.4f} lr {lr:.2e} {elapsed:.0f}s", flush=True)
        last = step >= args.steps if args.steps else elapsed >= budget
        if elapsed >= next_export or last:
            next_export += args.export_minutes * 60
            accs = [evaluate(model, eval_rng, filler, tok, f, 12) for f in (40, 250, 800)]
            print(f"eval step {step}: exact {accs[0]:.2f} @40, {accs[1]:.2f} @250, {accs[2]:.2f} @800 filler tokens",
                  flush=True)
            export_gguf(model, args, vocab_meta, args.out)
            print(f"exported {args.out} ({os.path.getsize(args.out)} bytes)", flush=True)
        if last:
            break
    print(f"done: {step} steps in {time.time() - t0:.0f}s, final answer loss {avg:.4f}", flush=True)

if __name__ == "__main__":
    main()
