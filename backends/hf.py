"""Backends running Hugging Face transformers models loaded from a local directory.

Every model is read with `local_files_only=True` from a directory written by
`save_pretrained` (or a downloaded snapshot): a hub id is refused, nothing is fetched.
torch and transformers are imported inside the classes, so importing this module is
cheap and works without the `[transformers]` extra.

| class            | kind                | models (auto class)                                   |
|------------------|---------------------|-------------------------------------------------------|
| HFDetector       | detection           | OWL-ViT, OWLv2 (AutoModelForZeroShotObjectDetection)  |
| HFVQA            | vqa                 | BLIP VQA (AutoModelForVisualQuestionAnswering)        |
| HFMatcher        | image_text_matching | CLIP and kin with `logits_per_image` (AutoModel)      |
| HFDepth          | depth               | DPT, Depth Anything (AutoModelForDepthEstimation)     |
| HFCausalLM       | llm                 | GPT-2, Llama, SmolLM, ... (AutoModelForCausalLM)      |

`cost` defaults to the parameter count of the loaded model in millions. A backend given
an explicit cost loads its model on the first call (or `load()`); one without loads at
construction, since the pool needs the cost to sort. The device is checked when the
backend is built (a CUDA device torch cannot use is an error there, not on every input),
and every failure of loading or inference is a `BackendError` naming the backend and its
model directory.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence

import numpy as np

from . import geometry
from .answers import llm_answer, property_question, read_yes_no
from .base import Backend, BackendError, Box, Call, Result
from .geometry import nms, pixel_box_to_dsl
from .options import (Count, DType, Fraction, PathOption, Positive, TorchDevice, device_name,
                      dtype_name)

#: a local model directory (hub ids are not fetched)
ModelDir = Annotated[str, PathOption("dir", "hub ids are not fetched: download the model "
                                               "and give its local directory")]

__all__ = ["HF_CLASSES", "HFBackend", "HFCausalLM", "HFDepth", "HFDetector", "HFMatcher",
           "HFVQA", "property_question", "read_yes_no", "torch_device"]


def check_image(image: np.ndarray) -> np.ndarray:
    """The interface's image format, (H, W, 3) uint8, or a BackendError."""
    return geometry.check_image(image, error=BackendError)


def _model_dir(model: str | Path, needs_config: bool = True) -> Path:
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ValueError(f"model directory {str(path)!r} does not exist (hub ids are not "
                         "fetched: download the model and give its local directory)")
    if needs_config and not (path / "config.json").is_file():
        raise ValueError(f"{str(path)!r} has no config.json: not a transformers model directory")
    return path


def _import_torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"transformers backends need torch (pip install -c constraints.txt "
                          f"'fmprog[transformers]'): {e}") from e
    return torch


def _import_transformers():
    torch = _import_torch()
    try:
        import transformers
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"transformers backends need transformers "
                          f"(pip install -c constraints.txt 'fmprog[transformers]'): {e}") from e
    return torch, transformers


def torch_device(device: str) -> str:
    """The torch device `device` means here ("auto": CUDA when torch can use it, else CPU).

    A CUDA device torch cannot use is a ValueError that says what to write instead.
    """
    device_name(device)
    torch = _import_torch()
    cuda = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if cuda else "cpu"
    if device == "cpu":
        return device
    if not cuda:
        why = "torch has no CUDA here" if torch.version.cuda is None else \
            "torch finds no CUDA device here"
        raise ValueError(f"device {device!r} is not available ({why}); use 'cpu' or 'auto'")
    index, count = int(device.partition(":")[2] or 0), torch.cuda.device_count()
    if index >= count:
        raise ValueError(f"device {device!r} is not available (torch sees {count} CUDA "
                         f"device(s), cuda:0 to cuda:{count - 1}); use one of them or 'auto'")
    return device


class HFBackend(Backend):
    """Shared loading: a local model directory, a device, an optional dtype, lazy load."""

    auto_class = "AutoModel"

    def __init__(self, name: str, model: ModelDir, cost: Positive | None = None,
                 device: TorchDevice = "cpu", dtype: DType | None = None):
        self.model_dir = self._check_model(model)
        self.device_name = torch_device(device)
        self.dtype_name = dtype_name(dtype)
        self._model: Any = None
        self._processor: Any = None
        self._lock = threading.Lock()
        super().__init__(name, cost if cost is not None else 1.0)
        if cost is None:
            self.cost = self.parameter_count() / 1e6

    def _check_model(self, model: str | Path) -> Path:
        return _model_dir(model)

    def load(self) -> None:
        """Load processor and model (idempotent, thread-safe); BackendError on failure."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            try:
                self._load()
            except Exception as e:
                raise BackendError(f"{self.name}: cannot load the model in {self.model_dir}: "
                                   f"{type(e).__name__}: {e}") from e

    def _load(self) -> None:
        torch, transformers = _import_transformers()
        kwargs: dict[str, Any] = {"local_files_only": True}
        if self.dtype_name is not None:
            name = self.dtype_name
            kwargs["dtype"] = name if name == "auto" else getattr(torch, name)
        kwargs.update(self._load_kwargs())
        auto = getattr(transformers, self.auto_class)
        model = auto.from_pretrained(str(self.model_dir), **kwargs)
        processor = self._load_processor(transformers)
        self._device = torch.device(self.device_name)
        self._processor = processor
        self._model = model.to(self._device).eval()

    def _load_kwargs(self) -> dict[str, Any]:
        return {}

    def _load_processor(self, transformers):
        return transformers.AutoProcessor.from_pretrained(str(self.model_dir),
                                                          local_files_only=True)

    def parameter_count(self) -> int:
        self.load()
        return sum(p.numel() for p in self._model.parameters())

    @property
    def model(self):
        self.load()
        return self._model

    @property
    def processor(self):
        self.load()
        return self._processor

    def serve_one(self, call: Call) -> Result:
        """One call; any failure of the model is a BackendError naming this backend."""
        try:
            return super().serve_one(call)
        except NotImplementedError:
            raise
        except BackendError as e:
            if str(e).startswith(f"{self.name}:"):
                raise
            raise BackendError(f"{self.name} ({self.model_dir}): {call.op}: {e}") from e
        except Exception as e:
            raise BackendError(f"{self.name} ({self.model_dir}): {call.op} failed: "
                               f"{type(e).__name__}: {e}") from e

    def describe(self) -> dict[str, Any]:
        """The device the model's weights are on once loaded (the one it will load on
        before), and whether it is loaded."""
        if self._model is None:
            return {"device": self.device_name, "provider": "torch", "loaded": False}
        return {"device": str(self._model.device), "provider": "torch", "loaded": True,
                "dtype": str(self._model.dtype).removeprefix("torch.")}

    def _inputs(self, **kwargs):
        """Run the processor and move its tensors to the model's device and float dtype."""
        import torch

        batch = self.processor(return_tensors="pt", **kwargs)
        out = {}
        for k, v in batch.items():
            if isinstance(v, torch.Tensor):
                v = v.to(self._device)
                if v.is_floating_point():
                    v = v.to(self._model.dtype)
            out[k] = v
        return out


def _pil(image: np.ndarray):
    from PIL import Image

    return Image.fromarray(check_image(image))


class HFDetector(HFBackend):
    """Open-vocabulary detection: OWL-ViT / OWLv2 queried with `prompt.format(object)`.

    Keeps detections with score >= `threshold`, suppresses overlaps above `nms_iou`
    (None: off) and returns at most `max_detections` boxes, best first, in DSL
    coordinates (y up).
    """

    kind = "detection"
    auto_class = "AutoModelForZeroShotObjectDetection"

    def __init__(self, name: str, model: ModelDir, cost: Positive | None = None,
                 device: TorchDevice = "cpu", dtype: DType | None = None,
                 threshold: Fraction = 0.1,
                 prompt: str = "a photo of a {}", nms_iou: Fraction | None = 0.5,
                 max_detections: Count = 100):
        self.threshold = float(threshold)
        self.prompt = prompt
        self.nms_iou = nms_iou
        self.max_detections = int(max_detections)
        super().__init__(name, model, cost, device, dtype)

    def detect(self, image: np.ndarray, object_name: str) -> list[Box]:
        import torch

        h, w = check_image(image).shape[:2]
        inputs = self._inputs(text=[[self.prompt.format(object_name)]], images=_pil(image),
                              truncation=True)
        with torch.inference_mode():
            outputs = self.model(**inputs)
        # OWLv2 pads the image to a square at the bottom/right before resizing.
        square = self.model.config.model_type == "owlv2"
        size = (max(h, w), max(h, w)) if square else (h, w)
        result = self.processor.post_process_grounded_object_detection(
            outputs, threshold=self.threshold, target_sizes=torch.tensor([size]))[0]
        boxes = []
        for (x0, y0, x1, y1), s in zip(result["boxes"].tolist(), result["scores"].tolist()):
            box = pixel_box_to_dsl(x0, y0, x1, y1, h, w, s)
            if box is not None:
                boxes.append(box)
        boxes.sort(key=lambda b: -b.score)
        if self.nms_iou is not None:
            boxes = nms(boxes, self.nms_iou)
        return boxes[: self.max_detections]


class HFVQA(HFBackend):
    """Visual question answering by generation (BLIP VQA and other generative VQA models).

    `verify_property` asks `property_question(object, property)` and reads yes/no.
    """

    kind = "vqa"
    auto_class = "AutoModelForVisualQuestionAnswering"

    def __init__(self, name: str, model: ModelDir, cost: Positive | None = None,
                 device: TorchDevice = "cpu", dtype: DType | None = None,
                 max_new_tokens: Count = 10):
        self.max_new_tokens = int(max_new_tokens)
        super().__init__(name, model, cost, device, dtype)

    def query(self, image: np.ndarray, question: str) -> str:
        import torch

        inputs = self._inputs(images=_pil(image), text=question)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens)
        return self.processor.decode(out[0], skip_special_tokens=True).strip()

    def verify_property(self, image: np.ndarray, object_name: str, prop: str) -> bool:
        return read_yes_no(self.query(image, property_question(object_name, prop)))


class HFMatcher(HFBackend):
    """Image-text matching with a contrastive model (CLIP, SigLIP): `logits_per_image`."""

    kind = "image_text_matching"
    auto_class = "AutoModel"

    def __init__(self, name: str, model: ModelDir, cost: Positive | None = None,
                 device: TorchDevice = "cpu", dtype: DType | None = None,
                 prompt: str = "a photo of {}", padding: str | bool = True):
        self.prompt = prompt
        self.padding = padding
        super().__init__(name, model, cost, device, dtype)

    def match_scores(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
        import torch

        if not images or not texts:
            return np.zeros((len(images), len(texts)), dtype=np.float32)
        inputs = self._inputs(text=[self.prompt.format(t) for t in texts],
                              images=[_pil(im) for im in images], padding=self.padding,
                              truncation=True)
        with torch.inference_mode():
            logits = self.model(**inputs).logits_per_image
        return logits.float().cpu().numpy()


class HFDepth(HFBackend):
    """Monocular depth (DPT, Depth Anything): the median of the predicted map.

    `output="disparity"` (DPT, Depth Anything: larger is nearer) returns 1/median so that
    larger is farther, as the interface wants; `output="depth"` returns the median as is.
    """

    kind = "depth"
    auto_class = "AutoModelForDepthEstimation"

    def __init__(self, name: str, model: ModelDir, cost: Positive | None = None,
                 device: TorchDevice = "cpu", dtype: DType | None = None,
                 output: Literal["disparity", "depth"] = "disparity"):
        if output not in ("disparity", "depth"):
            raise ValueError(f"output must be 'disparity' or 'depth', not {output!r}")
        self.output = output
        super().__init__(name, model, cost, device, dtype)

    def _load_processor(self, transformers):
        return transformers.AutoImageProcessor.from_pretrained(str(self.model_dir),
                                                               local_files_only=True)

    def depth(self, image: np.ndarray) -> float:
        import torch

        inputs = self._inputs(images=_pil(image))
        with torch.inference_mode():
            pred = self.model(**inputs).predicted_depth
        median = float(pred.float().median())
        if self.output == "depth":
            return median
        return 1.0 / max(median, 1e-6)


class HFCausalLM(HFBackend):
    """Text completion with a causal LM, greedy decoding.

    The prompt goes through the tokenizer's chat template when `chat_template` is True
    (None: when the tokenizer has one). Long answers get `max_new_tokens`; short ones get
    `max_new_tokens_short` and keep their first non-empty line. `gguf_file` loads a GGUF
    file inside the model directory (needs the `gguf` package).
    """

    kind = "llm"
    auto_class = "AutoModelForCausalLM"

    def __init__(self, name: str, model: ModelDir, cost: Positive | None = None,
                 device: TorchDevice = "cpu", dtype: DType | None = None,
                 max_new_tokens: Count = 256, max_new_tokens_short: Count = 16,
                 chat_template: bool | None = None, gguf_file: str | None = None):
        self.max_new_tokens = int(max_new_tokens)
        self.max_new_tokens_short = int(max_new_tokens_short)
        self.chat_template = chat_template
        self.gguf_file = gguf_file
        super().__init__(name, model, cost, device, dtype)

    def _check_model(self, model: str | Path) -> Path:
        if not self.gguf_file:
            return _model_dir(model)
        path = _model_dir(model, needs_config=False)
        if not (path / self.gguf_file).is_file():
            raise ValueError(f"gguf_file {self.gguf_file!r} is not in {str(path)!r}")
        return path

    def _load_kwargs(self) -> dict[str, Any]:
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}

    def _load_processor(self, transformers):
        return transformers.AutoTokenizer.from_pretrained(
            str(self.model_dir), local_files_only=True, **self._load_kwargs())

    def complete(self, prompt: str, long_answer: bool = True) -> str:
        """Greedy completion; `long_answer=False`: fewer tokens, first non-empty line."""
        import torch

        tok = self.processor
        use_chat = self.chat_template if self.chat_template is not None else bool(
            getattr(tok, "chat_template", None))
        if use_chat:
            text = tok.apply_chat_template([{"role": "user", "content": prompt}],
                                           tokenize=False, add_generation_prompt=True)
        else:
            text = prompt
        inputs = {k: v.to(self._device) for k, v in tok(text, return_tensors="pt").items()}
        limit = self.max_new_tokens if long_answer else self.max_new_tokens_short
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        # Denormal activations make CPU generation crawl (SmolLM2 from its GGUF: 25x
        # slower per forward pass); flushing them to zero changes nothing measurable. The
        # flag is the thread's floating-point mode, so it is put back after generating:
        # left on, it changes every later float computation of that thread.
        torch.set_flush_denormal(True)
        try:
            with torch.inference_mode():
                out = self.model.generate(**inputs, max_new_tokens=limit, do_sample=False,
                                          pad_token_id=pad)
        finally:
            torch.set_flush_denormal(False)
        answer = tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        return llm_answer(answer, long_answer)


HF_CLASSES: dict[str, type[HFBackend]] = {
    c.kind: c for c in (HFDetector, HFVQA, HFMatcher, HFDepth, HFCausalLM)
}
