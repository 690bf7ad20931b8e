"""The FMProgramming paper's configuration layout, converted to fmprog entries.

The paper's YAML files (e.g. `config/binary_vqa.yaml`) hold one list per model family:

    debug: true
    object_detection:
      - {name: grounding_dino_swin-t_finetune_16xb2_1x_coco, type: TextToBbox, device: 0, threshold: 0.3}
    vqa:
      - name: Qwen/Qwen2.5-VL-3B-Instruct
        type: vllm/VQA
        cost: 3750
        api_key: EMPTY
        base_url: http://0.0.0.0:8001/v1
        args: {temperature: 0.0, max_tokens: 1, seed: 42}
    llm:
      - {name: meta-llama/Meta-Llama-3.1-8B-Instruct, url: https://.../v1/openai, cost: 8000,
         temperature: 0, prompt: You are a helpful assistant. ...}

`convert(data)` turns each item into an fmprog entry of the section's kind
(`object_detection` -> detection; `vqa`, `llm` and fmprog's own kind names as they are):

- `type: vllm/...` (a VQA model behind vLLM) and `llm` items without a type (the paper
  sends them to an OpenAI-compatible API) become `openai` entries: `name` is also the
  `model` id, `base_url` (or `url`), `cost`, `api_key` ("EMPTY" means none),
  `args.temperature`, `args.max_tokens`, `args.prompt` (appended to every VQA question:
  `question_suffix`), other `args` (such as `seed`) go in `extra_body`; an llm item's
  `prompt` is its `system_prompt`, its `temperature` the temperature.
- Items whose `type` is an fmprog type (`hf`, `onnx`, `openai`, `gguf`, ...) are fmprog
  entries already and keep their options; an integer `device` N means "cuda:N".
- `TextToBbox`, `ObjectDetection` and `VQA` items name mmdetection / agentlego tools, which
  fmprog does not run: they are an error that says what to write instead.
- The top-level `debug` key is ignored.
"""

from __future__ import annotations

from typing import Any, Iterator

SECTIONS = {"object_detection": "detection", "detection": "detection", "vqa": "vqa",
            "llm": "llm", "image_text_matching": "image_text_matching", "depth": "depth"}
IGNORED = ("debug",)
AGENTLEGO = {
    "TextToBbox": "an 'hf' detection entry (OWL-ViT or OWLv2 saved to a local directory) or "
                  "an 'onnx' detector",
    "ObjectDetection": "an 'hf' detection entry (OWL-ViT or OWLv2 saved to a local "
                       "directory) or an 'onnx' detector",
    "VQA": "an 'hf' vqa entry (BLIP VQA saved to a local directory) or a 'vllm/VQA' item "
           "served by an OpenAI-compatible server",
}
OPENAI_ARGS = {"temperature": "temperature", "max_tokens": "max_tokens"}


class PaperLayoutError(ValueError):
    """A paper-layout item fmprog cannot convert; `where` is its place in the file."""

    def __init__(self, where: str, message: str):
        super().__init__(message)
        self.where = where


def is_paper_layout(data: Any) -> bool:
    """Whether `data` is a mapping of model-family sections (the paper's files)."""
    return isinstance(data, dict) and "backends" not in data and bool(set(data) & set(SECTIONS))


def convert(data: dict, own_types: set[str]) -> Iterator[tuple[str, Any]]:
    """(place, fmprog entry) for every item, in file order; `own_types` are fmprog's."""
    unknown = sorted(set(data) - set(SECTIONS) - set(IGNORED))
    if unknown:
        raise PaperLayoutError("top level", f"unknown section(s) {unknown}; expected "
                               f"{sorted(SECTIONS)} (and {list(IGNORED)}, ignored)")
    for section, items in data.items():
        if section in IGNORED:
            continue
        if not isinstance(items, list):
            raise PaperLayoutError(section, f"must be a list of models, got "
                                            f"{type(items).__name__}")
        for i, item in enumerate(items):
            where = f"{section}[{i}]"
            yield where, convert_item(item, SECTIONS[section], own_types, where)


def convert_item(item: Any, kind: str, own_types: set[str], where: str) -> Any:
    """One paper item as an fmprog entry of `kind`."""
    if not isinstance(item, dict):
        return item  # the entry checks say what is wrong
    kind = item.get("kind", kind)
    kind_of = {"kind": kind}
    type_ = item.get("type")
    if type_ in own_types:
        return {**item, **kind_of, **_device(item)}
    if isinstance(type_, str) and type_ in AGENTLEGO:
        raise PaperLayoutError(where, f"({item.get('name')!r}) type {type_!r} is an "
                                      f"mmdetection/agentlego tool, which fmprog does not run; "
                                      f"write {AGENTLEGO[type_]} instead (docs/backends.md)")
    if (isinstance(type_, str) and type_.startswith("vllm")) or (
            type_ is None and ("url" in item or "base_url" in item)):
        return _openai(item, kind, where)
    raise PaperLayoutError(where, f"({item.get('name')!r}) type {type_!r} is neither an fmprog "
                                  f"type {sorted(own_types)} nor one of the paper's "
                                  f"(vllm/..., or an llm item with a url)")


def _device(item: dict) -> dict:
    device = item.get("device")
    if isinstance(device, int) and not isinstance(device, bool):
        return {"device": f"cuda:{device}"}
    return {}


def _openai(item: dict, kind: str, where: str) -> dict:
    known = {"name", "type", "cost", "api_key", "base_url", "url", "args", "prompt",
             "temperature", "model", "timeout", "retries", "api_key_env", "device"}
    unknown = sorted(set(item) - known)
    if unknown:
        raise PaperLayoutError(where, f"({item.get('name')!r}) unknown key(s) {unknown} for "
                                      f"an OpenAI-compatible model")
    entry: dict[str, Any] = {"name": item.get("name"), "kind": kind, "type": "openai",
                             "model": item.get("model", item.get("name")),
                             "base_url": item.get("base_url", item.get("url"))}
    for key in ("cost", "timeout", "retries", "api_key_env", "temperature"):
        if key in item:
            entry[key] = item[key]
    if item.get("api_key") not in (None, "EMPTY"):
        entry["api_key"] = item["api_key"]
    if "prompt" in item:
        entry["system_prompt"] = item["prompt"]
    entry.update(_args(item.get("args") or {}, kind, where))
    return entry


def _args(args: Any, kind: str, where: str) -> dict:
    """The paper's `args` (sent with every request) as adapter options."""
    if not isinstance(args, dict):
        raise PaperLayoutError(where, f"'args' must be a mapping, got {type(args).__name__}")
    out: dict[str, Any] = {}
    extra = {}
    for key, value in args.items():
        if key in OPENAI_ARGS:
            out[OPENAI_ARGS[key]] = value
        elif key == "prompt":
            out["question_suffix" if kind == "vqa" else "system_prompt"] = str(value)
        else:
            extra[key] = value
    if "max_tokens" in out:  # the paper sends one limit with every request
        out["max_tokens_short"] = out["max_tokens"]
    if extra:
        out["extra_body"] = extra
    return out
