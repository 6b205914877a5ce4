#!/usr/bin/env python3
"""Renders the real chat templates in tests/data/chat_templates/ with Jinja2 (the engine
Hugging Face transformers uses, with its options) and prints the results as C++ initialisers:
the golden strings of tests/engine/tst_chat_template.cpp, independent of engine/chat_template.cpp.

BOS follows the GGUF runtime convention: the tokenizer adds BOS itself, so the templates are
rendered with bos_token = "" (as llama.cpp does when it applies a template). Templates that ask
for the date (gpt-oss) get a fixed one, 2026-01-15; the engine takes the date as an option.
Families with a thinking switch are rendered twice: enable_thinking = false (what the workbench
sends) and true. A conversation a template refuses (raise_exception) prints nullptr.

Usage: /usr/bin/python3 tools/render_chat_templates.py [TEMPLATE_DIR]
"""
import datetime
import pathlib
import sys

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

EOS = {
    "deepseek-v2": "<｜end▁of▁sentence｜>",
    "deepseek-v3": "<｜end▁of▁sentence｜>",
    "deepseek-r1": "<｜end▁of▁sentence｜>",
    "deepseek-v3.2": "<｜end▁of▁sentence｜>",
    "deepseek-v4": "<｜end▁of▁sentence｜>",
    "llama-3": "<|eot_id|>",
    "chatml": "<|im_end|>",
    "qwen2.5": "<|im_end|>",
    "qwen3": "<|im_end|>",
    "qwen3.5": "<|im_end|>",
    "mistral-v1": "</s>",
    "mistral-v7": "</s>",
    "gemma-3": "<eos>",
    "gemma-4": "<eos>",
    "phi-3.5": "<|endoftext|>",
    "phi-4-mini": "<|endoftext|>",
    "gpt-oss": "<|return|>",
}
# Families whose templates read enable_thinking (DeepSeek's read `thinking`, falling back to it).
THINKING = {"qwen3", "qwen3.5", "gemma-4", "deepseek-v3.2", "deepseek-v4"}
DATE = datetime.date(2026, 1, 15)

CONVERSATIONS = {
    # llama.cpp's test conversation: a system prompt, padded assistant content, three turns.
    "full": ([("system", "You are a helpful assistant"), ("user", "Hello"), ("assistant", "Hi there"),
              ("user", "Who are you"), ("assistant", "   I am an assistant   "), ("user", "Another question")], True),
    "no_system": ([("user", "What does clause 7 say?"), ("assistant", "It limits liability."),
                   ("user", "Quote it.")], True),
    "no_generation_prompt": ([("system", "Answer from the sources."), ("user", "Where is \"Standard Version\" defined?")], False),
    # A finished exchange: where templates close the last assistant turn differently.
    "ends_with_assistant": ([("user", "What is 2+2?"), ("assistant", "4")], False),
    # An earlier answer that kept its reasoning, and padding a template may trim.
    "reasoning_in_history": ([("system", "Cite pages."), ("user", "  Q1?\n"),
                              ("assistant", "<think>\nfirst thoughts\n</think>\n\nA1 [p. 3]"), ("user", "Q2?")], True),
    "empty_system": ([("system", ""), ("user", "Hi")], True),
    # Two user messages in a row (a question split in two); several templates refuse it.
    "two_users": ([("user", "Part one."), ("user", "Part two.")], True),
}


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def strftime_now(fmt):
    return DATE.strftime(fmt)


def cxx_literal(text):
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def main():
    here = pathlib.Path(__file__).resolve().parent
    directory = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent / "tests/data/chat_templates"
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    for family in sorted(EOS):
        template = env.from_string((directory / f"{family}.jinja").read_text(encoding="utf-8"))
        for thinking in ([False, True] if family in THINKING else [False]):
            for name, (messages, add_generation_prompt) in CONVERSATIONS.items():
                variables = dict(messages=[{"role": r, "content": c} for r, c in messages],
                                 add_generation_prompt=add_generation_prompt, bos_token="", eos_token=EOS[family])
                if family in THINKING:
                    variables["enable_thinking"] = thinking
                try:
                    rendered = cxx_literal(template.render(**variables))
                except jinja2.exceptions.TemplateError:
                    rendered = "nullptr"
                print(f'    {{"{family}", "{name}", {"true" if thinking else "false"}, {rendered}}},')


if __name__ == "__main__":
    main()
