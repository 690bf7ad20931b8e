"""Backends running user-supplied ONNX files with onnxruntime.

Each class fixes the signature the file must have (documented in `docs/backends.md`):

- OnnxClassifier (vqa, image_text_matching): one image input -> scores (N, C) over `labels`.
- OnnxDetector (detection): one image input -> `logits` (1, P, C) over `labels` and
  `pred_boxes` (1, P, 4) as (cx, cy, w, h) relative to the image, y down.
- OnnxDepth (depth): one image input -> a depth or disparity map (N, H', W').
- OnnxCLIP (image_text_matching): `input_ids`, `attention_mask`?, `pixel_values` ->
  `logits_per_image` (N, T), as `optimum` exports CLIP.

The image tensor is NCHW or NHWC (read from the static shape, or `layout`), float32
(pixels/255, then `(x - mean) / std`) or uint8 (raw pixels), resized to `input_size` or the
model's static size. Sessions run on CPU by default; `device="cuda"` or `"auto"` uses CUDA
only when onnxruntime lists it *and* the created session confirms it.

`cost` defaults to the parameters in millions, counted from the model's initializers
(`onnx_proto.parameter_count`: external data included, whatever the dtype).
`describe()` reports the execution provider the session really runs on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from .base import Backend, BackendError, Box
from .geometry import nms, pixel_box_to_dsl
from .hf import check_image
from .onnx_proto import parameter_count
from .options import Count, ExistingFile, ExistingPath, Fraction, PerChannel, Positive

Device = Literal["cpu", "cuda", "auto"]
Layout = Literal["NCHW", "NHWC"]
Labels = list[str] | ExistingFile

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


def make_session(path: str | Path, device: str = "cpu"):
    """An onnxruntime session on `device` ("cpu", "cuda" or "auto"), CUDA only if confirmed."""
    import onnxruntime as ort

    if device not in ("cpu", "cuda", "auto"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', not {device!r}")
    if device != "cpu" and CUDA in ort.get_available_providers():
        # Without a usable GPU this logs an error and silently falls back to CPU, while
        # still listing CUDA as available: only the session's own providers tell.
        session = ort.InferenceSession(str(path), providers=[CUDA, CPU])
        if session.get_providers()[0] == CUDA:
            return session
    if device == "cuda":
        raise ValueError(f"device 'cuda' is not available (onnxruntime cannot run "
                         f"CUDAExecutionProvider here: {_cuda_reason(ort)}); use 'cpu' or 'auto'")
    return ort.InferenceSession(str(path), providers=[CPU])


def _cuda_reason(ort) -> str:
    if CUDA not in ort.get_available_providers():
        return "this onnxruntime has no CUDA provider"
    return "no usable GPU or CUDA/cuDNN libraries, so the session fell back to CPU"


def _check_file(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ValueError(f"ONNX file {str(p)!r} does not exist")
    return p


def load_labels(labels: Sequence[str] | str | Path) -> list[str]:
    """Labels as a list, or read from a text file with one label a line."""
    if isinstance(labels, (str, Path)):
        lines = Path(labels).expanduser().read_text().splitlines()
        labels = [line.strip() for line in lines if line.strip()]
    labels = [str(x) for x in labels]
    if not labels or len(set(labels)) != len(labels):
        raise ValueError("labels must be a non-empty list without duplicates")
    return labels


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


class OnnxBackend(Backend):
    """A session, an image input spec and the preprocessing shared by the classes."""

    kinds: tuple[str, ...] = ()

    def __init__(self, name: str, model: ExistingFile, kind: str | None = None,
                 cost: Positive | None = None, device: Device = "cpu",
                 input_size: Sequence[Count] | None = None, layout: Layout | None = None,
                 mean: PerChannel = (0.0, 0.0, 0.0), std: PerChannel = (1.0, 1.0, 1.0)):
        kind = kind or self.kinds[0]
        if kind not in self.kinds:
            raise ValueError(f"{type(self).__name__} serves {list(self.kinds)}, not {kind!r}")
        self.kind = kind
        self.path = _check_file(model)
        if cost is None:
            cost = parameter_count(self.path) / 1e6
        super().__init__(name, cost)
        self.session = make_session(self.path, device)
        self.providers = self.session.get_providers()
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self._image_input = self._find_image_input()
        self.layout, self.input_size = self._image_spec(layout, input_size)

    def describe(self) -> dict[str, Any]:
        """The execution provider the session really runs on (not the one asked for)."""
        provider = self.session.get_providers()[0]
        device = "cpu" if provider == CPU else "cuda"
        return {"device": device, "provider": provider, "loaded": True}

    def _find_image_input(self):
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(f"{self.path.name}: expected one image input, got "
                             f"{[i.name for i in inputs]}")
        return inputs[0]

    def _image_spec(self, layout, input_size) -> tuple[str, tuple[int, int]]:
        shape = list(self._image_input.shape)
        if len(shape) != 4:
            raise ValueError(f"{self.path.name}: image input {self._image_input.name!r} has "
                             f"shape {shape}, expected 4 dimensions")
        if layout is None:
            layout = "NCHW" if shape[1] == 3 else "NHWC" if shape[3] == 3 else None
            if layout is None:
                raise ValueError(f"{self.path.name}: cannot tell the layout from shape "
                                 f"{shape}; set layout to NCHW or NHWC")
        if layout not in ("NCHW", "NHWC"):
            raise ValueError(f"layout must be 'NCHW' or 'NHWC', not {layout!r}")
        hw = shape[2:4] if layout == "NCHW" else shape[1:3]
        if input_size is None:
            if not all(isinstance(d, int) and d > 0 for d in hw):
                raise ValueError(f"{self.path.name}: the image size is dynamic ({hw}); "
                                 "set input_size to [height, width]")
            input_size = hw
        if len(input_size) != 2:
            raise ValueError(f"input_size must be [height, width], not {input_size!r}")
        return layout, (int(input_size[0]), int(input_size[1]))

    def _pixels(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Resize and normalise images into the model's image tensor."""
        from PIL import Image

        h, w = self.input_size
        arr = np.stack([
            np.asarray(Image.fromarray(check_image(im)).resize((w, h), Image.BILINEAR))
            for im in images
        ])
        if self._image_input.type == "tensor(uint8)":
            x = arr
        else:
            x = ((arr.astype(np.float32) / 255.0 - self.mean) / self.std).astype(np.float32)
        return x.transpose(0, 3, 1, 2) if self.layout == "NCHW" else x

    def _run_images(self, images: Sequence[np.ndarray], output: str | None = None) -> np.ndarray:
        """Run the image input on all images (one by one when the batch size is fixed to 1)."""
        batch_dim = self._image_input.shape[0]
        groups = [[im] for im in images] if batch_dim == 1 else [list(images)]
        outs = []
        for group in groups:
            try:
                res = self.session.run([output] if output else None,
                                       {self._image_input.name: self._pixels(group)})
            except Exception as e:  # onnxruntime raises its own exception types
                raise BackendError(f"{self.name}: onnxruntime failed: {e}") from e
            outs.append(np.asarray(res[0]))
        return np.concatenate(outs)


class OnnxClassifier(OnnxBackend):
    """An image classifier over `labels`, serving verify_property or match_scores.

    Scores go through `activation` ("softmax", "sigmoid" or "none"). verify_property
    looks up the label "<object> <property>", then "<property>" (case-insensitive) and
    answers score >= `threshold`; match_scores takes the column of each text's label.
    A property or text outside the labels raises BackendError.
    """

    kinds = ("vqa", "image_text_matching")

    def __init__(self, name: str, model: ExistingFile, labels: Labels,
                 kind: str | None = None, cost: Positive | None = None, device: Device = "cpu",
                 input_size: Sequence[Count] | None = None, layout: Layout | None = None,
                 mean: PerChannel = (0.0, 0.0, 0.0), std: PerChannel = (1.0, 1.0, 1.0),
                 activation: Literal["softmax", "sigmoid", "none"] = "softmax",
                 threshold: Fraction = 0.5, output: str | None = None):
        if activation not in ("softmax", "sigmoid", "none"):
            raise ValueError(f"activation must be softmax, sigmoid or none, not {activation!r}")
        self.labels = load_labels(labels)
        self._index = {_norm(x): i for i, x in enumerate(self.labels)}
        self.activation = activation
        self.threshold = float(threshold)
        self.output = output
        super().__init__(name, model, kind, cost, device, input_size, layout, mean, std)

    def scores(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Activated scores of shape (len(images), len(labels))."""
        logits = self._run_images(images, self.output).astype(np.float64)
        if logits.ndim != 2 or logits.shape[1] != len(self.labels):
            raise BackendError(f"{self.name}: output shape {logits.shape} does not match "
                               f"{len(self.labels)} labels")
        if self.activation == "softmax":
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        if self.activation == "sigmoid":
            return 1.0 / (1.0 + np.exp(-logits))
        return logits

    def _label(self, *candidates: str) -> int:
        for c in candidates:
            if _norm(c) in self._index:
                return self._index[_norm(c)]
        raise BackendError(f"{self.name}: none of {list(candidates)} is among its labels")

    def verify_property(self, image: np.ndarray, object_name: str, prop: str) -> bool:
        if self.kind != "vqa":
            return super().verify_property(image, object_name, prop)
        j = self._label(f"{object_name} {prop}", prop)
        return bool(self.scores([image])[0, j] >= self.threshold)

    def match_scores(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
        if self.kind != "image_text_matching":
            return super().match_scores(images, texts)
        cols = [self._label(t) for t in texts]
        if not images or not texts:
            return np.zeros((len(images), len(texts)), dtype=np.float32)
        return self.scores(images)[:, cols].astype(np.float32)


class OnnxDetector(OnnxBackend):
    """A fixed-vocabulary detector in the DETR / OWL-ViT output format.

    Outputs `logits_output` (1, P, C) over `labels` and `boxes_output` (1, P, 4) as
    (cx, cy, w, h) relative to the input image, y down. Scores are the sigmoid of the
    object's label column; boxes with score >= `threshold` are returned, NMS'd, y up.
    """

    kinds = ("detection",)

    def __init__(self, name: str, model: ExistingFile, labels: Labels,
                 kind: str | None = None, cost: Positive | None = None, device: Device = "cpu",
                 input_size: Sequence[Count] | None = None, layout: Layout | None = None,
                 mean: PerChannel = (0.0, 0.0, 0.0), std: PerChannel = (1.0, 1.0, 1.0),
                 threshold: Fraction = 0.1, nms_iou: Fraction | None = 0.5,
                 logits_output: str = "logits", boxes_output: str = "pred_boxes"):
        self.labels = load_labels(labels)
        self._index = {_norm(x): i for i, x in enumerate(self.labels)}
        self.threshold = float(threshold)
        self.nms_iou = nms_iou
        self.outputs = [logits_output, boxes_output]
        super().__init__(name, model, kind, cost, device, input_size, layout, mean, std)
        names = [o.name for o in self.session.get_outputs()]
        if not set(self.outputs) <= set(names):
            raise ValueError(f"{self.path.name}: outputs {names} lack {self.outputs}")

    def detect(self, image: np.ndarray, object_name: str) -> list[Box]:
        j = self._index.get(_norm(object_name))
        if j is None:
            raise BackendError(f"{self.name}: {object_name!r} is not among its labels")
        h, w = check_image(image).shape[:2]
        try:
            logits, boxes = self.session.run(self.outputs,
                                             {self._image_input.name: self._pixels([image])})
        except Exception as e:
            raise BackendError(f"{self.name}: onnxruntime failed: {e}") from e
        scores = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)[0, :, j]))
        found = []
        for (cx, cy, bw, bh), s in zip(np.asarray(boxes)[0], scores):
            if s < self.threshold:
                continue
            box = pixel_box_to_dsl((cx - bw / 2) * w, (cy - bh / 2) * h,
                                   (cx + bw / 2) * w, (cy + bh / 2) * h, h, w, s)
            if box is not None:
                found.append(box)
        found.sort(key=lambda b: -b.score)
        return nms(found, self.nms_iou) if self.nms_iou is not None else found


class OnnxDepth(OnnxBackend):
    """A depth or disparity map model: the median of its first output.

    `output="disparity"` (MiDaS, DPT, Depth Anything exports) returns 1/median, so larger is
    farther; `output="depth"` returns the median.
    """

    kinds = ("depth",)

    def __init__(self, name: str, model: ExistingFile, kind: str | None = None,
                 cost: Positive | None = None, device: Device = "cpu",
                 input_size: Sequence[Count] | None = None, layout: Layout | None = None,
                 mean: PerChannel = (0.0, 0.0, 0.0), std: PerChannel = (1.0, 1.0, 1.0),
                 output: Literal["disparity", "depth"] = "disparity"):
        if output not in ("disparity", "depth"):
            raise ValueError(f"output must be 'disparity' or 'depth', not {output!r}")
        self.output = output
        super().__init__(name, model, kind, cost, device, input_size, layout, mean, std)

    def depth(self, image: np.ndarray) -> float:
        median = float(np.median(self._run_images([image])))
        return median if self.output == "depth" else 1.0 / max(median, 1e-6)


CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class OnnxCLIP(OnnxBackend):
    """A CLIP-style ONNX export (as `optimum` writes it) with its tokenizer.

    Inputs `input_ids` (T, L) int64, optionally `attention_mask` (T, L), and `pixel_values`
    (N, 3, H, W); output `logits_per_image` (N, T). `tokenizer` is a `tokenizer.json` file
    (or a directory holding one) read with the `tokenizers` package; texts are formatted with
    `prompt`, padded with `pad_token` and cut to `max_length` tokens.
    """

    kinds = ("image_text_matching",)

    def __init__(self, name: str, model: ExistingFile, tokenizer: ExistingPath,
                 kind: str | None = None, cost: Positive | None = None, device: Device = "cpu",
                 input_size: Sequence[Count] | None = None, layout: Layout | None = None,
                 mean: PerChannel = CLIP_MEAN, std: PerChannel = CLIP_STD,
                 prompt: str = "a photo of {}", max_length: Count = 77,
                 pad_token: str = "<|endoftext|>", output: str = "logits_per_image"):
        self.tokenizer = self._load_tokenizer(tokenizer, max_length, pad_token)
        self.prompt = prompt
        self.output = output
        super().__init__(name, model, kind, cost, device, input_size, layout, mean, std)
        names = [i.name for i in self.session.get_inputs()]
        if "input_ids" not in names:
            raise ValueError(f"{self.path.name}: inputs {names} lack input_ids")

    @staticmethod
    def _load_tokenizer(path: str | Path, max_length: int, pad_token: str):
        try:
            from tokenizers import Tokenizer
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("OnnxCLIP needs the tokenizers package") from e
        p = Path(path).expanduser()
        if p.is_dir():
            p = p / "tokenizer.json"
        if not p.is_file():
            raise ValueError(f"tokenizer file {str(p)!r} does not exist")
        tok = Tokenizer.from_file(str(p))
        pad_id = tok.token_to_id(pad_token)
        if pad_id is None:
            raise ValueError(f"pad token {pad_token!r} is not in the tokenizer's vocabulary")
        tok.enable_padding(pad_id=pad_id, pad_token=pad_token)
        tok.enable_truncation(max_length=int(max_length))
        return tok

    def _find_image_input(self):
        for i in self.session.get_inputs():
            if i.name == "pixel_values":
                return i
        raise ValueError(f"{self.path.name}: no pixel_values input")

    def match_scores(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
        if not images or not texts:
            return np.zeros((len(images), len(texts)), dtype=np.float32)
        enc = self.tokenizer.encode_batch([self.prompt.format(t) for t in texts])
        feeds: dict[str, Any] = {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                                 "pixel_values": self._pixels(images)}
        if any(i.name == "attention_mask" for i in self.session.get_inputs()):
            feeds["attention_mask"] = np.array([e.attention_mask for e in enc], dtype=np.int64)
        try:
            (logits,) = self.session.run([self.output], feeds)
        except Exception as e:
            raise BackendError(f"{self.name}: onnxruntime failed: {e}") from e
        return np.asarray(logits, dtype=np.float32)


ONNX_CLASSES: dict[str, type[OnnxBackend]] = {
    "classifier": OnnxClassifier, "clip": OnnxCLIP, "detector": OnnxDetector, "depth": OnnxDepth,
}
