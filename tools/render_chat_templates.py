#!/usr/bin/env python3
"""Renders the real chat templates in tests/data/chat_templates/ with Jinja2 (the engine
Hugging Face transformers uses) and prints the results as C++ string literals: the golden
strings of tests/engine/tst_chat_template.cpp, independent of engine/chat_template.cpp.

BOS follows the GGUF runtime convention: the tokenizer adds BOS itself, so the templates are
rendered with bos_token = "" (as llama.cpp does when it applies a template).

Usage: tools/render_chat_templates.py [TEMPLATE_DIR]
"""
import json
import pathlib
import sys

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

EOS = {
    "deepseek-v2": "<｜end▁of▁sentence｜>",
    "deepseek-v3": "<｜end▁of▁sentence｜>",
    "llama-3": "<|eot_id|>",
    "chatml": "<|im_end|>",
    "mistral-v1": "</s>",
    "mistral-v7": "</s>",
}

CONVERSATIONS = {
    # llama.cpp's test conversation: a system prompt, padded assistant content, three turns.
    "full": ([("system", "You are a helpful assistant"), ("user", "Hello"), ("assistant", "Hi there"),
              ("user", "Who are you"), ("assistant", "   I am an assistant   "), ("user", "Another question")], True),
    "no_system": ([("user", "What does clause 7 say?"), ("assistant", "It limits liability."),
                   ("user", "Quote it.")], True),
    "no_generation_prompt": ([("system", "Answer from the sources."), ("user", "Where is \"Standard Version\" defined?")], False),
}


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def cxx_literal(text):
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def main():
    here = pathlib.Path(__file__).resolve().parent
    directory = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent / "tests/data/chat_templates"
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    for family in sorted(EOS):
        template = env.from_string((directory / f"{family}.jinja").read_text(encoding="utf-8"))
        for name, (messages, add_generation_prompt) in CONVERSATIONS.items():
            rendered = template.render(
                messages=[{"role": r, "content": c} for r, c in messages],
                add_generation_prompt=add_generation_prompt,
                bos_token="",
                eos_token=EOS[family],
            )
            print(f'    {{"{family}", "{name}", {cxx_literal(rendered)}}},')


if __name__ == "__main__":
    main()
