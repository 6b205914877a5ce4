#!/usr/bin/env python3
"""Writes the small synthetic vocabularies of tests/data/tokenizers/ and their golden token ids.

The real vocabularies of the families the engine runs (Qwen2/3, Qwen3.5, gpt-oss, Llama 3,
DeepSeek V3/V3.2/V4, Gemma 3, Gemma 4) are hundreds of thousands of tokens and may not be
committed. These stand in for them: each has the family's tokenizer model, pre-tokenizer and
special tokens, and a few hundred merges learned from text that was *not* pre-tokenized, so many
merges cross the word boundaries the pre-tokenizer draws (" 1", "o W", "3 4", "\\n\\n ", ...) and
a wrong split gives different ids. The golden ids come from llama.cpp's own tokenizer
(llama-tokenize), never from the engine.

    PYTHONPATH=/work/peer/llama.cpp/gguf-py /usr/bin/python3 tools/make_tokenizer_vocabs.py write
    /usr/bin/python3 tools/make_tokenizer_vocabs.py golden --llama-tokenize /work/peer/llama.cpp/build/bin/llama-tokenize \\
        [--llama-inputs /work/peer/llama.cpp/models]

`write` makes NAME.gguf and NAME.inp (the test strings, each followed by "\\n__ggml_vocab_test__\\n"
as in llama.cpp's models/*.inp). `golden` runs llama-tokenize on every string twice and writes
NAME.out (no BOS, special tokens not parsed: as llama.cpp's test vectors) and NAME.chat.out
(BOS as the vocabulary asks, special tokens parsed: how a chat prompt is tokenized), one line of
ids per string, and NAME.eog (the end-of-generation ids llama.cpp reports when loading). With
--llama-inputs it also tokenizes llama.cpp's own test strings (models/ggml-vocab-FAMILY.gguf.inp)
with each synthetic vocabulary into NAME.llama-inp.out, and our test strings with the real
vocabularies of that folder into real-NAME.out / real-NAME.chat.out, so a checkout of llama.cpp
adds those checks.
"""
import argparse
import collections
import os
import pathlib
import re
import subprocess
import sys
import tempfile

SEPARATOR = "\n__ggml_vocab_test__\n"
SPACE = "\u2581"

# ---------------------------------------------------------------------------------------------
# Training text: the kinds of text a pre-tokenizer treats differently, each many times, so the
# merges cover them.
TRAIN_LINES = [
    "Hello world, hello World! HELLO WORLD. HelloWorld helloWorld XMLHttpRequest iPhone McDonald's",
    "I'm sure you're right; they'll say it's fine, we've seen it, I'd go. DON'T SHOUT, IT'S LOUD.",
    "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away again.",
    "Numbers: 1 12 123 1234 12345 123456 1234567 3.14159 2024-06-01 10,000 $100.50 7% 0x1F",
    "Zahlen 33 333 3333 und Äpfel, Öl, Übung; naïve café résumé École ÉCOLE Éric à la carte",
    "Cửa Việt, tiếng Việt có dấu; e\u0301 a\u0301 o\u0308 combining marks n\u0303 u\u0308ber",
    "Русский текст: Привет, мир! Это проверка. нещо на Български език",
    "中文文本：你好，世界！我想在apple工作1314151天。日本語のテキスト、カタカナとひらがな。",
    "한국어 텍스트 입니다. 안녕하세요 세계! 가나다라마바사",
    "Arabic digits ٣٤٥ and superscripts ²³ and roman Ⅻ; Greek αβγ ΑΒΓ; Hebrew שלום",
    "emoji 🦙🚀✅ 😶\u200d🌫️ (multiple emojis) 😁 ?我 ～ tilde~ ^caret^ `tick` |pipe| <tag> {brace}",
    "    indented code\n        more indented\n\tdef f(x):\n\t\treturn x ** 2\n",
    "line one\nline two\n\nline four\r\nwindows line\r\n\n\n   spaces before\n \n  \n",
    "   leading spaces and trailing spaces   \t tabs\t\tand\t\t\tmore   ",
    "!!!!!! ??? ... --- === +++ *** ### @@@ %%% &&& ((( ))) [[[ ]]] {{{ }}} /// \\\\\\",
    "https://example.com/path/to/page?query=1&x=y#frag user@example.com C:\\Users\\me\\file.txt",
    '{"key": [1, 2, 3], "name": "value", "nested": {"a": true, "b": null}}',
    "w048 7tuijk dsdfhu ' era ied 4 ½ months  discards (normal) =\n =",
    "\u00a0nbsp\u3000ideographic\u2003em space zero\u200bwidth ǅungla ǈ ǋ ßẞ ﬁ",
    "aaaaaaaaaaaaaaaa bbbbbbbb abababab 1111111111 0000",
]
TRAIN_TEXT = "\n".join(TRAIN_LINES * 3)

# Probes: strings that pre-tokenizers split differently (case changes inside a word for o200k,
# contractions, combining marks for Qwen3.5, digit runs for Qwen2 vs Llama 3, '~' for DeepSeek
# V3's \p{S}, spaces and newlines between words). Each gets a chain of merges ranked before the
# learned ones that builds it whole, so it becomes one token exactly when the pre-tokenizer
# leaves it in one word and the ids show any difference in the split.
PROBES = [
    "helloWorld", "HelloWorld", "XMLHttp", "iPHONE", "ÉCOLEécole", "don't", "DON'T", "they'LL", "It's",
    "e\u0301", "a\u0301o\u0308", "n\u0303", "123", "1234", "12345", " 12", "3.14", "~~~", " ~~", "~tilde~",
    "o W", "d, w", "  Hello", "\n\n ", " \n", "!!!\n", "Äpfel", "工作1314151", "apple工作", "😶\u200d🌫️",
]
# A token no merge builds: a pre-tokenizer that takes whole words first (Llama 3) finds it.
WHOLE_WORD_ONLY = "xyzzyq"

# ---------------------------------------------------------------------------------------------
# Test strings: the kinds above and their edges, malformed UTF-8, and chat markup.
TEST_STRINGS = [
    b"", b" ", b"  ", b"   ", b"\t", b"\n", b"\n\n", b"\n\n\n", b"\t\n", b" \n", b"\n \n\n \n",
    b"Hello world", b" Hello world", b"Hello World", b" Hello World!", b"Hello, world!", b"  Hello\n    Hello",
    b"HELLOworld helloWorld HelloWorld XMLHttpRequest iPHONE McDonald's",
    b"I'm HERE. You'RE there; they'LL've it's 'S 's don't",
    b"1 12 123 1234 12345 123456789 3.14159 2024-06-01",
    "٣٤٥ ²³ Ⅻ ½".encode(), "Äpfel Öl Übung naïve café ÉCOLE École Éric".encode(),
    "e\u0301 a\u0301o\u0308 n\u0303 Cửa Việt".encode(), "Привет, мир! нещо на Български".encode(),
    "中文字符 我想在apple工作1314151天～ 日本語のテキスト カタカナ".encode(), "한국어 텍스트 안녕하세요".encode(),
    "emoji 🦙.cpp 🚀 😶\u200d🌫️ ✅ 😁 ?".encode(), "αβγ ΑΒΓ שלום ǅungla ǈ ßẞ ﬁ".encode(),
    b"tabs\tand\tspaces   end  ", b"line1\r\nline2\rline3\n", b"    indented\n\tdef f(x):\n\t\treturn x ** 2\n",
    b"!!!!!! ??? ... --- === +++ ~~~ ^^^ ``` |||", b"$100.50 + 7% <tag> ~tilde~ ^caret^ `tick` |pipe|",
    b"https://example.com/a?b=c&d=e#f user@example.com C:\\dir\\f.txt", b'{"key": [1, 2, 3], "a": null}',
    "\u00a0nbsp\u3000ideographic\u2003em zero\u200bwidth".encode(), b"aaaaaaaaaaaaaaaaaaaa abababab 1111111111",
    b"w048 7tuijk dsdfhu ' era ied 4 months  discards", b" (", b"\n =", b"' era",
    # Malformed UTF-8: a stray byte, cut sequences, overlong forms, a surrogate, 5-byte and
    # Latin-1 text.
    b"bad \xff byte", b"\xc3", b"x\xe4\xb8", b"ok \xf0\x9f\x98 cut", b"\xc0\x80 overlong \xc1\xbf",
    b"\xed\xa0\x80 surrogate", b"\x80\x80 stray", b"\xf8\x88\x80\x80\x80 five", b"caf\xe9 na\xefve", b"\xfe\xff\xfe",
    # Chat markup of every family (parsed only in the .chat.out run).
    b"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    b"<think>\n\n</think>\n\nAnswer.<|im_end|><|endoftext|>",
    b"<|start|>system<|message|>You are ChatGPT.<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant",
    b"<|channel|>analysis<|message|>think<|end|><|start|>assistant<|channel|>final<|message|>Hi<|return|>",
    b"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "<｜begin▁of▁sentence｜>Be brief.<｜User｜>Hi<｜Assistant｜></think>Hello<｜end▁of▁sentence｜>".encode(),
    b"<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
    b"<|turn>system\nBe brief.<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n<|channel>thought\n<channel|>",
    b"<|user|>\nHi <|end|>\n<|assistant|>\n",
    b"xyzzyq xyzzyq.xyzzyq", "helloWorld they'LL iPHONE ÉCOLEécole It's ~~~ ~tilde~ d, w 3.14".encode(),
]

# ---------------------------------------------------------------------------------------------
# Families: tokenizer model and pre, specials (text, type) and which of them are BOS/EOS.
CONTROL, USER_DEFINED = 3, 4
QWEN_SPECIALS = [
    ("<|endoftext|>", CONTROL), ("<|im_start|>", CONTROL), ("<|im_end|>", CONTROL), ("<|object_ref_start|>", CONTROL),
    ("<|fim_prefix|>", CONTROL), ("<|fim_middle|>", CONTROL), ("<|fim_suffix|>", CONTROL), ("<|fim_pad|>", CONTROL),
    ("<|repo_name|>", CONTROL), ("<|file_sep|>", CONTROL), ("<tool_call>", USER_DEFINED), ("</tool_call>", USER_DEFINED),
    ("<think>", USER_DEFINED), ("</think>", USER_DEFINED),
]
HARMONY_SPECIALS = [
    ("<|startoftext|>", CONTROL), ("<|endoftext|>", CONTROL), ("<|reserved_200000|>", CONTROL),
    ("<|reserved_200001|>", CONTROL), ("<|return|>", CONTROL), ("<|constrain|>", CONTROL),
    ("<|reserved_200004|>", CONTROL), ("<|channel|>", CONTROL), ("<|start|>", CONTROL), ("<|end|>", CONTROL),
    ("<|message|>", CONTROL), ("<|reserved_200009|>", CONTROL), ("<|reserved_200010|>", CONTROL),
    ("<|reserved_200011|>", CONTROL), ("<|call|>", CONTROL),
]
LLAMA3_SPECIALS = [
    ("<|begin_of_text|>", CONTROL), ("<|end_of_text|>", CONTROL), ("<|reserved_special_token_0|>", CONTROL),
    ("<|start_header_id|>", CONTROL), ("<|end_header_id|>", CONTROL), ("<|eom_id|>", CONTROL), ("<|eot_id|>", CONTROL),
]
DEEPSEEK_SPECIALS = [
    ("<｜begin▁of▁sentence｜>", CONTROL), ("<｜end▁of▁sentence｜>", CONTROL), ("<｜▁pad▁｜>", CONTROL),
    ("<｜fim▁hole｜>", CONTROL), ("<｜fim▁begin｜>", CONTROL), ("<｜fim▁end｜>", CONTROL),
    ("<｜User｜>", CONTROL), ("<｜Assistant｜>", CONTROL), ("<think>", USER_DEFINED), ("</think>", USER_DEFINED),
]
# Types as llama.cpp's converter writes them: added tokens marked special, or looking special
# (<|...|>, <｜...｜>, <mask>), are control tokens; other added tokens (Qwen's <think>) user-defined.
GEMMA3_SPECIALS = [("<pad>", CONTROL), ("<eos>", CONTROL), ("<bos>", CONTROL), ("<unk>", 2), ("<mask>", CONTROL),
                   ("<start_of_turn>", CONTROL), ("<end_of_turn>", CONTROL), ("<start_of_image>", CONTROL)]
GEMMA4_SPECIALS = [("<pad>", CONTROL), ("<eos>", CONTROL), ("<bos>", CONTROL), ("<unk>", 2), ("<mask>", CONTROL),
                   ("<|turn>", CONTROL), ("<turn|>", CONTROL), ("<|channel>", CONTROL), ("<channel|>", CONTROL),
                   ("<|think|>", CONTROL), ("<|tool_response>", CONTROL), ("<tool_response|>", CONTROL),
                   ("</s>", CONTROL)]

FAMILIES = {
    # name: model, pre, specials, where the specials go ("end": after the merged tokens; "start"),
    # bos text, eos text, extra metadata
    "qwen2": dict(model="gpt2", pre="qwen2", specials=QWEN_SPECIALS, bos="<|endoftext|>", eos="<|im_end|>",
                  add_bos=False),
    "qwen35": dict(model="gpt2", pre="qwen35", specials=QWEN_SPECIALS, bos="<|endoftext|>", eos="<|im_end|>",
                   add_bos=False),
    "gpt-oss": dict(model="gpt2", pre="gpt-4o", specials=HARMONY_SPECIALS, bos="<|startoftext|>", eos="<|return|>",
                    pad="<|endoftext|>", add_bos=False),
    "llama-bpe": dict(model="gpt2", pre="llama-bpe", specials=LLAMA3_SPECIALS, bos="<|begin_of_text|>",
                      eos="<|eot_id|>"),
    "deepseek-v3": dict(model="gpt2", pre="deepseek-v3", specials=DEEPSEEK_SPECIALS, bos="<｜begin▁of▁sentence｜>",
                        eos="<｜end▁of▁sentence｜>", add_bos=True),
    "gemma3": dict(model="llama", pre="default", specials=GEMMA3_SPECIALS, bos="<bos>", eos="<eos>", unk="<unk>",
                   pad="<pad>", add_bos=True, add_space_prefix=False),
    "gemma4": dict(model="gemma4", pre="gemma4", specials=GEMMA4_SPECIALS, bos="<bos>", eos="<eos>", unk="<unk>",
                   pad="<pad>", add_bos=True, add_space_prefix=False),
}
# llama.cpp test strings (models/ggml-vocab-X.gguf.inp) run through each synthetic vocabulary.
LLAMA_INPUTS = {"qwen2": "qwen2", "qwen35": "qwen35", "llama-bpe": "llama-bpe", "gemma4": "gemma-4",
                "gpt-oss": "llama-bpe", "deepseek-v3": "qwen2", "gemma3": "llama-spm"}
N_MERGES = 600
# Real vocabularies of a llama.cpp checkout (models/ggml-vocab-NAME.gguf, not committed): our test
# strings through them give real-NAME.out and real-NAME.chat.out.
REAL_VOCABS = ["llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "mpt", "starcoder", "refact"]


def bytes_to_unicode():
    """GPT-2's byte -> printable code point map (encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def train_merges(sequences, n_merges):
    """Plain BPE: repeatedly merge the most frequent adjacent pair (ties: the smaller pair)."""
    seqs = [list(s) for s in sequences if s]
    merges = []
    for _ in range(n_merges):
        counts = collections.Counter()
        for s in seqs:
            for a, b in zip(s, s[1:]):
                counts[(a, b)] += 1
        if not counts:
            break
        best = max(counts.items(), key=lambda kv: (kv[1], [-ord(c) for c in kv[0][0] + "\0" + kv[0][1]]))[0]
        if counts[best] < 2:
            break
        merges.append(best)
        merged = best[0] + best[1]
        for i, s in enumerate(seqs):
            out, j = [], 0
            while j < len(s):
                if j + 1 < len(s) and s[j] == best[0] and s[j + 1] == best[1]:
                    out.append(merged)
                    j += 2
                else:
                    out.append(s[j])
                    j += 1
            seqs[i] = out
    return merges


def probe_merges(symbols_of):
    """Merges that build each probe left to right: ((a b) c) d ..."""
    merges = []
    for probe in PROBES:
        symbols = symbols_of(probe)
        left = symbols[0]
        for right in symbols[1:]:
            merges.append((left, right))
            left += right
    return merges


def unique(merges):
    seen, out = set(), []
    for m in merges:
        if m not in seen:
            seen.add(m)
            out.append(m)
    return out


def build_vocab(name, family):
    """(tokens, types, scores or None, merges or None)."""
    tokens, types = [], []

    def add(text, ttype):
        tokens.append(text)
        types.append(ttype)

    if family["model"] == "gpt2":
        byte_map = bytes_to_unicode()
        for b in range(256):
            add(byte_map[b], 1)
        # Each line with its newline, so merges also cross line ends.
        merges = train_merges(["".join(byte_map[b] for b in (l + "\n").encode()) for l in TRAIN_TEXT.split("\n")],
                              N_MERGES)
        merges = unique(probe_merges(lambda t: [byte_map[b] for b in t.encode()]) + merges)
        seen = set(tokens)
        for a, b in merges:
            if a + b not in seen:
                seen.add(a + b)
                add(a + b, 1)
        add("".join(byte_map[b] for b in WHOLE_WORD_ONLY.encode()), 1)
        for text, ttype in family["specials"]:
            add(text, ttype)
        return tokens, types, None, [f"{a} {b}" for a, b in merges]

    # SentencePiece-style (gemma3) and Gemma 4: specials first, then <0xNN>, characters, merges.
    for text, ttype in family["specials"]:
        add(text, ttype)
    for b in range(256):
        add(f"<0x{b:02X}>", 6)
    escaped = TRAIN_TEXT.replace(" ", SPACE)
    chars = sorted(set(escaped + "\n"))
    for c in chars:
        add(c, 1)
    if family["model"] == "gemma4":
        # Gemma 4 merges never see a newline (its pre-tokenizer cuts newline runs out), but
        # runs of newlines are tokens of their own.
        for run in ("\n\n", "\n\n\n"):
            add(run, 1)
        lines = escaped.split("\n")
    else:
        lines = [l + "\n" for l in escaped.split("\n")]
    merges = train_merges(lines, N_MERGES)
    probe_chars = sorted({c for p in PROBES for c in p.replace(" ", SPACE)} - set(tokens))
    for c in probe_chars:
        add(c, 1)
    merges = unique(probe_merges(lambda t: list(t.replace(" ", SPACE))) + merges)
    seen = set(tokens)
    merged = []
    for a, b in merges:
        if a + b not in seen:
            seen.add(a + b)
            add(a + b, 1)
            merged.append(a + b)
    add(WHOLE_WORD_ONLY, 1)
    if family["model"] == "gemma4":
        return tokens, types, None, [f"{a} {b}" for a, b in merges]
    # SPM scores: earlier merges score higher; characters and specials score 0.
    rank = {t: i for i, t in enumerate(merged)}
    scores = [-float(rank[t] + 1) if t in rank else 0.0 for t in tokens]
    return tokens, types, scores, None


def write(out_dir):
    import gguf  # gguf-py from a llama.cpp checkout (PYTHONPATH)

    for name, family in FAMILIES.items():
        tokens, types, scores, merges = build_vocab(name, family)
        path = out_dir / f"{name}.gguf"
        w = gguf.GGUFWriter(str(path), "llama")
        w.add_name(f"synthetic-{name}")
        # The minimum llama.cpp wants to read hyperparameters before the vocabulary.
        w.add_context_length(4096)
        w.add_embedding_length(64)
        w.add_block_count(1)
        w.add_feed_forward_length(128)
        w.add_head_count(4)
        w.add_head_count_kv(4)
        w.add_layer_norm_rms_eps(1e-6)
        w.add_rope_dimension_count(16)
        w.add_tokenizer_model(family["model"])
        w.add_tokenizer_pre(family["pre"])
        w.add_token_list(tokens)
        w.add_token_types(types)
        if scores is not None:
            w.add_token_scores(scores)
        if merges is not None:
            w.add_token_merges(merges)
        w.add_bos_token_id(tokens.index(family["bos"]))
        w.add_eos_token_id(tokens.index(family["eos"]))
        if "unk" in family:
            w.add_unk_token_id(tokens.index(family["unk"]))
        if "pad" in family:
            w.add_pad_token_id(tokens.index(family["pad"]))
        if "add_bos" in family:
            w.add_add_bos_token(family["add_bos"])
        if "add_space_prefix" in family:
            w.add_add_space_prefix(family["add_space_prefix"])
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        (out_dir / f"{name}.inp").write_bytes(b"".join(s + SEPARATOR.encode() for s in TEST_STRINGS))
        print(f"{path}: {len(tokens)} tokens, {len(merges) if merges else 0} merges, {path.stat().st_size} bytes")


def read_inputs(path):
    data = path.read_bytes()
    parts = data.split(SEPARATOR.encode())
    return parts[:-1]


def tokenize(tool, gguf_path, text, chat):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(text)
        name = f.name
    try:
        args = [tool, "-m", str(gguf_path), "-f", name, "--ids", "--no-escape", "--log-disable"]
        if not chat:
            args += ["--no-bos", "--no-parse-special"]
        result = subprocess.run(args, capture_output=True, check=True)
    finally:
        os.unlink(name)
    match = re.search(rb"\[([0-9, ]*)\]", result.stdout)
    if not match:
        raise RuntimeError(f"llama-tokenize printed no ids for {text!r}: {result.stdout!r} {result.stderr!r}")
    return [int(x) for x in match.group(1).split(b",") if x.strip()]


def eog_ids(tool, gguf_path):
    """The ids llama.cpp's print_info lists as "EOG token = N" at load (its final set). Its log is
    written by a thread that may not drain into a pipe before exit: read a file, and retry."""
    for _ in range(5):
        with tempfile.TemporaryFile() as log:
            subprocess.run([tool, "-m", str(gguf_path), "-p", "x", "--ids", "-v"], stdout=subprocess.DEVNULL,
                           stderr=log, check=True)
            log.seek(0)
            text = log.read()
        if b"print_info: EOG token" in text and b"print_info: max token length" in text:
            return sorted({int(m) for m in re.findall(rb"print_info: EOG token\s+=\s+(\d+)", text)})
    raise RuntimeError(f"llama-tokenize did not list the end-of-generation tokens of {gguf_path}")


def golden(out_dir, tool, llama_inputs):
    for name in FAMILIES:
        gguf_path = out_dir / f"{name}.gguf"
        inputs = read_inputs(out_dir / f"{name}.inp")
        for suffix, chat in ((".out", False), (".chat.out", True)):
            lines = []
            for text in inputs:
                lines.append(" ".join(str(i) for i in tokenize(tool, gguf_path, text, chat)))
            (out_dir / f"{name}{suffix}").write_text("".join(" " + l + "\n" if l else "\n" for l in lines))
        (out_dir / f"{name}.eog").write_text(" ".join(str(i) for i in eog_ids(tool, gguf_path)) + "\n")
        if llama_inputs:
            inp = pathlib.Path(llama_inputs) / f"ggml-vocab-{LLAMA_INPUTS[name]}.gguf.inp"
            lines = [" ".join(str(i) for i in tokenize(tool, gguf_path, t, False)) for t in read_inputs(inp)]
            (out_dir / f"{name}.llama-inp.out").write_text("".join(" " + l + "\n" if l else "\n" for l in lines))
        print(f"{name}: {len(inputs)} strings")
    if llama_inputs:
        inputs = read_inputs(out_dir / "qwen2.inp")  # every family's .inp holds the same strings
        for name in REAL_VOCABS:
            gguf_path = pathlib.Path(llama_inputs) / f"ggml-vocab-{name}.gguf"
            for suffix, chat in ((".out", False), (".chat.out", True)):
                lines = [" ".join(str(i) for i in tokenize(tool, gguf_path, t, chat)) for t in inputs]
                (out_dir / f"real-{name}{suffix}").write_text("".join(" " + l + "\n" if l else "\n" for l in lines))
            print(f"real {name}: {len(inputs)} strings")


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=["write", "golden"])
    p.add_argument("--out", default=str(root / "tests/data/tokenizers"))
    p.add_argument("--llama-tokenize", help="llama.cpp's llama-tokenize (golden)")
    p.add_argument("--llama-inputs", help="llama.cpp's models/ folder, for its .inp test strings (golden)")
    args = p.parse_args()
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.step == "write":
        write(out_dir)
    else:
        if not args.llama_tokenize:
            sys.exit("golden needs --llama-tokenize")
        golden(out_dir, args.llama_tokenize, args.llama_inputs)


if __name__ == "__main__":
    main()
