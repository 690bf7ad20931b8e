# The fmprog DSL: the API that LLM-written programs may call.
#
# This stub is the single source of truth. The checker's signatures, the runtime's
# bindings and the prompt text (`fmprog dsl --prompt`) are all derived from it.
# `@neural(kind)` marks a method that calls a model of that kind; everything else is
# symbolic (plain Python run by the interpreter). `@alias(name)` shares the backend of
# another method; `@also_called(...)` lists names LLMs use by mistake, for the checker's
# "did you mean" hints. Lines starting with `# prompt:` are part of the prompt text.

class ImagePatch:
    """A crop of an image centered around a particular object, with information about
    the crop and methods that call vision models on it.

    Coordinates are in pixels with the origin at the bottom-left corner of the image:
    `lower` is the bottom edge and `upper` the top edge.
    """

    left: int
    lower: int
    right: int
    upper: int
    width: int
    height: int
    horizontal_center: float
    vertical_center: float
    cropped_image: Image

    def __init__(self, image: Image, left: int = None, lower: int = None, right: int = None, upper: int = None) -> None:
        """Crop `image` to the box (left, lower, right, upper); the whole image if omitted."""

    @neural("detection")
    def find(self, object_name: str) -> list[ImagePatch]:
        """Returns a list of ImagePatch objects matching object_name contained in the crop,
        possibly empty."""

    @neural("detection")
    @also_called("contains", "has", "has_object", "detect", "is_present")
    def exists(self, object_name: str) -> bool:
        """Returns True if an object named object_name is in the crop, else False."""

    @neural("vqa")
    @also_called("has_attribute", "has_property", "check_property", "verify_attribute")
    def verify_property(self, object_name: str, property: str) -> bool:
        """Returns True if the object has the property (a color, material, state...),
        else False."""

    @neural("vqa")
    def query(self, question: str) -> str:
        """Returns the answer to a basic question asked about the image."""

    @neural("vqa")
    @alias("query")
    @also_called("ask", "vqa", "answer")
    def simple_query(self, question: str) -> str:
        """Same as query: returns the answer to a basic question about the image."""

    @neural("image_text_matching")
    @also_called("simple_best_text_match", "text_match", "classify")
    def best_text_match(self, option_list: list[str], prefix: str = None) -> str:
        """Returns the option of option_list that best matches the image."""

    @neural("depth")
    @also_called("depth", "get_depth", "estimate_depth")
    def compute_depth(self) -> float:
        """Returns the median depth of the crop (larger is farther)."""

    @neural("llm")
    def llm_query(self, question: str, long_answer: bool = True) -> str:
        """Answers a question that needs outside knowledge, with a language model."""

    def crop(self, left: int, lower: int, right: int, upper: int) -> ImagePatch:
        """Returns a new ImagePatch cropped from this one, in this patch's coordinates."""

    @also_called("overlaps", "intersects", "overlap")
    def overlaps_with(self, left: int, lower: int, right: int, upper: int) -> bool:
        """Returns True if the crop overlaps the box (left, lower, right, upper)."""


class VideoSegment:
    """Video input (ViperGPT's VideoSegment): not supported yet. It is a parameter of the long
    entry signature; a program that uses it is refused."""


@neural("llm")
def llm_query(question: str, long_answer: bool = True) -> str:
    """Answers a question that needs outside knowledge, with a language model."""

@neural("image_text_matching")
def best_image_match(list_patches: list[ImagePatch], content: list[str], return_index: bool = False) -> ImagePatch:
    """Returns the patch of list_patches that best matches the content, or its index if
    return_index is True. None if list_patches is empty."""

@also_called("distance_to", "dist", "distance_from")
def distance(patch_a: ImagePatch | float, patch_b: ImagePatch | float) -> float:
    """Returns the distance between the edges of two patches, or minus their intersection
    over union if they touch or overlap; or the distance between two numbers."""

def bool_to_yesno(bool_answer: bool) -> str:
    """Returns "yes" if bool_answer is True, else "no"."""

def coerce_to_numeric(string: str, no_string: bool = False) -> float | str:
    """Returns the number written in string ("3", "three", "3.5 m", the first of "10-15"),
    an int unless it has a decimal point. If there is none, returns string itself, or raises
    ValueError if no_string is True."""

@alias("coerce_to_numeric")
def to_numeric(string: str, no_string: bool = False) -> float | str:
    """Same as coerce_to_numeric."""


# The program's entry point. Either of these two signatures.
# prompt: def execute_command(image) -> str | ImagePatch: ...
# prompt: def execute_command_<id>(image, possible_answers, query, ImagePatch, VideoSegment, llm_query, bool_to_yesno, distance, best_image_match): ...
# The names in braces are filled in from the tables ({builtins}: those of python_subset.pyi).
# prompt: Programs may use: if/elif/else, for loops (break, continue, else), while loops
# prompt: (bounded at run time), comprehensions, lambdas, f-strings, `import math`, and
# prompt: the builtins {builtins}. No other imports, no classes, no nested functions, no
# prompt: try/except, no with, no global state.
