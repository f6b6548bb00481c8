"""Response schemas for the OpenAPI document (/docs). Routes send pre-encoded bytes; these
models describe exactly what those bytes hold, and the API tests check both agree."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.ml.shifts import GRID_SHIFTS


class ErrorOut(BaseModel):
    detail: str = Field(examples=["unknown model 'maxx'; this server has max, avg, strided, "
                                  "nopool, blurmax"])


class InputOut(BaseModel):
    shape: list[int] = Field(examples=[[28, 28]])
    encoding: Literal["uint8", "float16", "float32"]
    blank: bool = Field(description="true when no ink survived preprocessing: the networks "
                                    "saw only zeros, so each prediction is a guess about "
                                    "nothing (an empty drawing is valid input)")
    data: str = Field(description="base64 of the 28x28 input, row-major; uint8 means q/255")


class LayerOut(BaseModel):
    name: str = Field(examples=["pool1"])
    kind: Literal["conv", "pool"]
    shape: list[int] = Field(description="[C, H, W]", examples=[[32, 13, 13]])
    encoding: Literal["uint8", "float16", "float32"]
    # JSON writes them to 7 decimals, the binary format as float32 (found by an API review:
    # the two differed by a float32 step, unsaid)
    low: list[float] = Field(description="per-channel minimum (C values), to 7 decimals (the "
                                         "binary format carries the float32 itself)")
    high: list[float] = Field(description="per-channel maximum (C values), to 7 decimals")
    data: str = Field(description="base64 of C*H*W values, row-major; for uint8 each channel "
                                  "is quantised: value = low + q/255 * (high - low); float16/32 "
                                  "are little-endian")


class NetOut(BaseModel):
    prediction: int = Field(ge=0, le=9, examples=[7])
    probabilities: list[float] = Field(
        min_length=10, max_length=10,
        description="softmax of the ten classes, each to 7 significant digits (the binary "
                    "format carries the float32 itself)")
    layers: list[LayerOut]


class FeatureMapsOut(BaseModel):
    input: InputOut
    # the sample 7's answer from max, its five layers left out of the example for length
    models: dict[str, NetOut] = Field(
        description="one entry per network asked for, by name (the example's `layers` is "
                    "left empty for length: an answer has one LayerOut per conv and pool "
                    "layer)",
        examples=[{"max": {"prediction": 7, "probabilities": [
            6.105041e-11, 1.359559e-07, 9.303971e-06, 1.365641e-06, 5.018962e-10,
            6.878362e-09, 9.568287e-14, 0.9999889, 3.603095e-09, 2.123334e-07],
            "layers": []}}])


class ReceptiveField(BaseModel):
    size: int = Field(description="side of the input patch one unit sees, pixels")
    jump: int = Field(description="input pixels between neighbouring units")
    start: float = Field(description="input position of unit 0's centre")


class Reads(BaseModel):
    """Which units of the layer before one unit reads, on each axis: unit i reads units
    i * stride - padding .. i * stride - padding + kernel - 1 (those inside the layer)."""
    layer: str = Field(description="the layer this one reads ('input' for conv1)")
    # a science review: blurmax's 4, 2, 1 read as a 4x4 pool with zero padding
    kernel: int = Field(description="units read on each axis: a conv's kernel, a pool's "
                                    "window; blurmax's pool, a 2x2 max then a 3x3 blur of "
                                    "stride 2, reads 4 in all")
    stride: int = Field(description="units between the first units two neighbours read")
    padding: int = Field(description="units the first window starts before the layer's "
                                     "edge; blurmax's edge is mirrored, so an edge unit reads "
                                     "3 units, one of them twice")


class LayerInfo(BaseModel):
    name: str
    kind: Literal["conv", "pool"]
    shape: list[int]
    params: int
    receptive_field: ReceptiveField
    reads: Reads
    silent_channels: list[int] | None = Field(
        description="channels that are 0 at every unit on every one of MNIST's 10,000 test "
                    "digits, from the model card (featuremaps evaluate --write-cards): dead, "
                    "a conv whose ReLU never passes anything, or a pool of one; null where the "
                    "card has none", examples=[[30]])


class DenseInfo(BaseModel):
    name: str
    units: int
    params: int


class AugmentationInfo(BaseModel):
    shift_px: float | None = Field(description="largest random shift of a training image, in "
                                               "x and in y, px, as drawn: the scaling and "
                                               "rotation after it carry it further (up to "
                                               "shift x largest scale x (cos + sin) of the "
                                               "largest angle, for angles up to 45 "
                                               "degrees)", examples=[2.5])
    rotate_deg: float | None = Field(description="largest random rotation, degrees",
                                     examples=[12.0])
    scale: list[float] | None = Field(description="range of random scaling, [low, high]",
                                      examples=[[0.85, 1.1]])


class ModelInfo(BaseModel):
    name: str = Field(examples=["max"])
    title: str
    downsampling: str = Field(description="how the network shrinks its maps, in words",
                              examples=["MaxPool2d(2) after conv1 and conv2"])
    layers: list[LayerInfo]
    dense: list[DenseInfo]
    params: int = Field(examples=[93322])
    test_accuracy: float | None = Field(description="share of the 10,000 MNIST test digits "
                                                    "classified right, from the model card; null "
                                                    "where the card has none", examples=[0.9954])
    valid_accuracy: float | None = Field(
        description="share of the 10,000 MNIST validation digits classified right, from the "
                    "model card: a second held-out set, which training neither learned from "
                    "nor was tuned on; null where the card has none", examples=[0.9937])
    shift_consistency: float | None = Field(
        description="share of MNIST test digits given the same class under two random shifts "
                    "of up to 3 px each, one against the other: the median over "
                    "`shift_consistency_draws` (featuremaps evaluate --shifts); null where "
                    "the card has none", examples=[0.9869])
    shift_consistency_draws: list[float] | None = Field(
        description="the share for each draw of random shifts, the same shifts for every "
                    "network in a draw, in the order of their seeds (0, 1, 2, ... for the "
                    "shipped cards; `featuremaps evaluate --shifts --seed S` starts at S): a "
                    "draw moves it by a few tenths of a point, as much as the gaps between the "
                    "networks; null where the card has none")
    epochs: int | None = Field(description="training epochs, from the model card")
    seed: int | None = Field(description="the training seed; networks of equal architecture "
                                         "trained from one seed start from the same weights")
    augmentation: AugmentationInfo | None = Field(
        description="how the training images were varied at random (featuremaps train); null: "
                    "not at all. Read shift consistency with it: a network trained on shifted "
                    "digits met shifts in training, pooling or not")
    weights_sha256: str = Field(description="sha256 of the weights file loaded")


class FiltersOut(BaseModel):
    model: str = Field(examples=["max"])
    layer: str = Field(examples=["conv1"])
    channel: int | None = Field(description="the one out channel asked for (channel=), or "
                                            "null for all")
    shape: list[int] = Field(description="(out channels, in channels, 3, 3); out is 1 with "
                                         "channel=",
                             examples=[[32, 1, 3, 3]])
    weights: list[list[list[list[float]]]] = Field(
        description="weights[k][c] is the 3x3 filter channel k applies to input channel c; "
                    "rows top to bottom, columns left to right, as the maps")
    bias: list[float] = Field(description="one per out channel, added before the ReLU")


class ModelsOut(BaseModel):
    device: str = Field(examples=["cpu"])
    models: list[ModelInfo]


class HealthOut(BaseModel):
    status: Literal["ok"]
    device: str
    models: list[str]
    version: str


# the shift lab's grid: a row per dy of GRID_SHIFTS (-4..4), a cell per dx
CELLS = len(GRID_SHIFTS)
Row = Annotated[list[float], Field(min_length=CELLS, max_length=CELLS)]
ClassRow = Annotated[list[Annotated[int, Field(ge=0, le=9)]],
                     Field(min_length=CELLS, max_length=CELLS)]


class ShiftGrid(BaseModel):
    prediction: list[ClassRow] = Field(min_length=CELLS, max_length=CELLS,
                                       description="9x9 predicted class; rows dy, columns dx")
    probability: list[Row] = Field(min_length=CELLS, max_length=CELLS,
                                   description="9x9 probability of each cell's class")
    reference: list[Row] = Field(min_length=CELLS, max_length=CELLS,
                                 description="9x9 probability of the zero-shift class")


class Nudges(BaseModel):
    """One value per one-pixel nudge of the input."""
    left: float | None
    right: float | None
    up: float | None
    down: float | None


class LayerShiftOut(BaseModel):
    name: str
    jump: int = Field(description="input pixels per map unit")
    change: Nudges = Field(
        description="relative L2 change of the maps per one-pixel nudge, compared in place; "
                    "null where the maps before are all zero and the maps after are not")
    mean: float | None = Field(description="the mean of `change`'s values")
    change_shifted_back: Nudges | None = Field(
        description="the same once the maps before are moved along with the input, for a "
                    "layer with jump 1 (0: the layer simply moves with the input), over the "
                    "units both maps hold: the row or column the move empties is left out, "
                    "as what is moved in there is unknown; null where one pixel is a fraction "
                    "of a unit")
    mean_shifted_back: float | None = Field(description="the mean of `change_shifted_back`")


class NetShiftsOut(BaseModel):
    prediction: int = Field(ge=0, le=9, description="the class of the unshifted input")
    probability: float
    consistency: float = Field(description="share of the 81 shifts keeping the zero-shift class")
    grid: ShiftGrid
    layers: list[LayerShiftOut]


class ShiftsOut(BaseModel):
    input: InputOut
    shifts: list[int] = Field(examples=[[-4, -3, -2, -1, 0, 1, 2, 3, 4]])
    models: dict[str, NetShiftsOut]
