"""POST /api/v1/featuremaps/batch and the extraction behind it."""

from __future__ import annotations

import base64
import io
import struct
import zipfile
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

from app.api.routes.batch import EVERY_MAP, EVERY_MAP_SPECS, answer_too_large
from app.config import Settings
from app.ml import batch
from app.ml.data import Mnist
from app.ml.pack import Layout


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


@pytest.mark.slow
def test_batch_maps_equal_the_single_image_maps(client: TestClient, mnist: Mnist) -> None:
    images = mnist.images("test")[:64]
    r = client.post("/api/v1/featuremaps/batch?layers=pool1,conv3", content=npy(images))
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-npz"
    z = np.load(io.BytesIO(r.content))
    assert sorted(z.files) == sorted(
        f"{m}/{k}" for m in ("max", "avg") for k in
        ("probabilities", "prediction", "pool1", "pool1/low", "pool1/high",
         "conv3", "conv3/low", "conv3/high"))
    assert z["max/pool1"].shape == (64, 32, 13, 13) and z["max/pool1"].dtype == np.uint8
    assert z["avg/conv3/low"].shape == (64, 64)
    assert (z["max/prediction"] == mnist.labels("test")[:64]).mean() >= 0.98
    for i in (0, 17, 63):
        pixels = (images[i] / 255.0).tolist()
        single = client.post("/api/v1/featuremaps?models=max&encoding=uint8",
                             json={"pixels": pixels}).json()["models"]["max"]
        pool1 = np.frombuffer(base64.b64decode(single["layers"][1]["data"]), np.uint8)
        diff = np.abs(pool1.astype(int) - z["max/pool1"][i].ravel().astype(int))
        assert diff.max() <= 1
        assert single["prediction"] == int(z["max/prediction"][i])


def test_float_images_and_npz_input(client: TestClient) -> None:
    """Float images in 0..1, inside an .npz, are read as the one-image route reads the same
    pixels: float32 maps equal to the last bit (a test audit: images divided by 255 again,
    all but blank, passed a check of shapes and of one prediction shared by the three)."""
    images = np.zeros((3, 28, 28), np.float32)
    images[:, 4:24, 13:15] = 1.0
    images[1, 4:24, 15] = 0.5  # a second image unlike the first, a third as the first
    buf = io.BytesIO()
    np.savez(buf, images=images)
    r = client.post("/api/v1/featuremaps/batch?models=avg&layers=conv1&encoding=float32",
                    content=buf.getvalue())
    assert r.headers["content-disposition"] == 'attachment; filename="featuremaps.npz"'
    z = np.load(io.BytesIO(r.content))
    assert z["avg/conv1"].shape == (3, 32, 26, 26)
    assert z["avg/prediction"].tolist() == [1, 1, 1]  # a vertical bar
    for i, image in enumerate(images):
        single = client.post("/api/v1/featuremaps?models=avg&encoding=float32",
                             json={"pixels": image.tolist()}).json()["models"]["avg"]
        conv1 = np.frombuffer(base64.b64decode(single["layers"][0]["data"]), "<f4")
        np.testing.assert_array_equal(z["avg/conv1"][i].ravel(), conv1)
        assert z["avg/probabilities"][i].tolist() == pytest.approx(single["probabilities"],
                                                                   rel=1e-5, abs=0)
    assert not np.array_equal(z["avg/conv1"][0], z["avg/conv1"][1])


@pytest.mark.slow
def test_uint8_levels_are_read_as_level_over_255_as_one_image_s_pixels_are(
        client: TestClient, mnist: Mnist) -> None:
    """A uint8 batch's levels are divided by 255, as the one-image route's pixels in 0..1
    were: the batch's floats for test image 0, its pool1 highs and its probabilities, are
    the JSON answer's for image / 255 (rel 1e-5; JSON writes a high to 7 decimals). The
    uint8 maps alone, each channel scaled to its own range, would hide another divisor."""
    images = mnist.images("test")[:3]
    r = client.post("/api/v1/featuremaps/batch?models=max&layers=pool1", content=npy(images))
    z = np.load(io.BytesIO(r.content))
    single = client.post("/api/v1/featuremaps?models=max&encoding=float32",
                         json={"pixels": (images[0] / 255.0).tolist()}).json()["models"]["max"]
    pool1 = single["layers"][1]
    assert pool1["name"] == "pool1"
    assert z["max/pool1/high"][0].tolist() == pytest.approx(pool1["high"], rel=1e-5, abs=1e-7)
    assert z["max/probabilities"][0].tolist() == pytest.approx(single["probabilities"],
                                                               rel=1e-5, abs=0)


def test_a_batch_tells_the_gate_its_images_for_retry_after(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's Retry-After is reckoned by its images (InferenceGate.weigh): the route tells
    the batch gate how many the header declares, .npy or .npz, before the work (an API review:
    a batch of 10,000 images just begun said 1), and its kind: the networks, layers,
    encoding= and, to prepare, pictures' size that make an image's cost (a later one:
    pool2 alone takes a third of every map's time). And before any batch has finished, the
    gate takes an image to need what one took in batches timed at start-up (a review: the
    first batches after start said 1)."""
    gate = client.app.state.batch_gate  # type: ignore[attr-defined]
    assert 0 < gate._prior < 0.1  # seconds an image, every map of both networks
    told: list[tuple[float, object, int]] = []
    monkeypatch.setattr(gate, "weigh", lambda n, kind: told.append((n, kind, gate.inflight)))
    images = np.zeros((37, 28, 28), np.uint8)
    for body in (npy(images), npz(images=images[:5])):
        assert client.post("/api/v1/featuremaps/batch?layers=pool2", content=body).is_success
    assert client.post("/api/v1/featuremaps/batch?models=avg&encoding=float16&preprocess=true",
                       content=npy(images[:2])).is_success
    assert client.post("/api/v1/featuremaps/batch?models=avg,max&layers=pool2",
                       content=npy(images[:1])).is_success
    two, pool2 = frozenset(("max", "avg")), frozenset(("pool2",))
    assert told == [(37, (two, pool2, None, "uint8"), 1), (5, (two, pool2, None, "uint8"), 1),
                    # pictures to prepare by their size: 784 pixels, up to 1,024
                    (2, (frozenset(("avg",)), None, 1024, "float16"), 1),
                    (1, (two, pool2, None, "uint8"), 1)]  # the names' order is no kind


def test_the_one_image_routes_format_is_pointed_to_what_a_batch_answers(
        client: TestClient) -> None:
    """An API review asked a batch for format=json and was told only that the parameter was
    unknown."""
    body = npy(np.zeros((2, 28, 28), np.uint8))
    r = client.post("/api/v1/featuremaps/batch?format=json", content=body)
    assert (r.status_code, r.json()["detail"]) == (400, (
        "unknown query parameter 'format'; accepted: models, layers, preprocess, encoding (a "
        "batch is answered as an .npz)"))


def test_a_batch_gives_the_floats_themselves_when_asked(client: TestClient) -> None:
    """An API review: activation statistics over a data set need the floats, and a batch
    gave only uint8 (within half a level of each channel's range), so it took one request an
    image. encoding=float16 or float32 gives the values, in the same arrays: float32 the one-
    image route's floats, float16 those rounded, low and high as for uint8; the answer is
    weighed by its type."""
    images = np.zeros((3, 28, 28), np.uint8)
    images[:, 4:24, 12:16] = 255
    images[1, 8:12, 4:24] = 200
    layout = Layout.plan(client.app.state.engine.nets(["max"]), ["pool1"])  # type: ignore[attr-defined]
    got = {}
    for encoding in ("uint8", "float16", "float32"):
        r = client.post(f"/api/v1/featuremaps/batch?models=max&layers=pool1&encoding={encoding}",
                        content=npy(images))
        assert r.status_code == 200
        assert len(r.content) == batch.npz_size(layout, 3, encoding=encoding)
        got[encoding] = np.load(io.BytesIO(r.content))
    z8, z16, z32 = got["uint8"], got["float16"], got["float32"]
    assert [z["max/pool1"].dtype for z in (z8, z16, z32)] == [np.uint8, np.float16, np.float32]
    assert z32.files == z8.files == z16.files
    single = client.post("/api/v1/featuremaps?models=max&encoding=float32",
                         json={"pixels": (images[1] / 255.0).tolist()}).json()["models"]["max"]
    pool1 = np.frombuffer(base64.b64decode(single["layers"][1]["data"]), "<f4")
    np.testing.assert_allclose(z32["max/pool1"][1].ravel(), pool1, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(z16["max/pool1"], z32["max/pool1"].astype(np.float16))
    for end in ("low", "high"):
        np.testing.assert_array_equal(z32[f"max/pool1/{end}"], z8[f"max/pool1/{end}"])
    np.testing.assert_array_equal(z32["max/pool1/high"], z32["max/pool1"].max(axis=(2, 3)))
    r = client.post("/api/v1/featuremaps/batch?encoding=float64", content=npy(images))
    assert (r.status_code, r.json()["detail"]) == (422, (
        "query parameter 'encoding': Input should be 'uint8', 'float16' or 'float32'; got "
        "'float64'"))


def test_a_float_answer_is_weighed_by_its_bytes(settings: Settings) -> None:
    """float32 maps are four times uint8's: the answer's limit counts them so, and its 422
    names uint8 as the way to more images."""
    from app.main import create_app

    small = settings.model_copy(update={"max_batch_response_bytes": 1_000_000})
    with TestClient(create_app(small)) as client:
        layout = Layout.plan(client.app.state.engine.nets(["max"]), ["pool1"])  # type: ignore[attr-defined]
        images = npy(np.zeros((60, 28, 28), np.uint8))
        assert client.post("/api/v1/featuremaps/batch?models=max&layers=pool1",
                           content=images).status_code == 200
        r = client.post("/api/v1/featuremaps/batch?models=max&layers=pool1&encoding=float32",
                        content=images)
        fit = (1_000_000 - batch.npz_size(layout, 0, encoding="float32")) // (
            batch.bytes_per_image(layout, "float32"))
        assert (r.status_code, r.json()["detail"]) == (422, (
            f"the answer would be {batch.npz_size(layout, 60, encoding='float32'):,} bytes, over "
            f"the limit of 1,000,000: ask for fewer layers=, or uint8 maps (encoding=float32 "
            f"now), or for at most {fit} images at a time with these"))
        assert 40 < fit < 60
    # where not one float image fits, uint8 is named still
    tiny = settings.model_copy(update={"max_batch_response_bytes": 15_000})
    with TestClient(create_app(tiny)) as client:
        r = client.post("/api/v1/featuremaps/batch?models=max&layers=pool1&encoding=float32",
                        content=images)
        assert r.status_code == 422
        assert r.json()["detail"].endswith(
            "which one image's answer with these layers passes: ask for fewer layers= or "
            "models=, or uint8 maps (encoding=float32 now), or raise the server's "
            "FEATUREMAPS_MAX_BATCH_RESPONSE_BYTES")


def test_layers_come_in_the_network_s_order_whatever_the_order_asked(
        client: TestClient) -> None:
    """As the README says: layers=conv3,pool1 answers pool1's arrays before conv3's."""
    image = np.zeros((1, 28, 28), np.uint8)
    image[0, 4:24, 13:15] = 255
    r = client.post("/api/v1/featuremaps/batch?models=max&layers=conv3,pool1", content=npy(image))
    assert r.status_code == 200
    assert np.load(io.BytesIO(r.content)).files == [
        "max/probabilities", "max/pool1", "max/pool1/low", "max/pool1/high",
        "max/conv3", "max/conv3/low", "max/conv3/high", "max/prediction"]


def test_pytorch_and_keras_layouts_give_the_same_maps(client: TestClient) -> None:
    """An (N, 1, 28, 28) batch as PyTorch holds it, or (N, 28, 28, 1) as Keras does (the
    article's model; found by a review, it was refused), is the (N, 28, 28) batch."""
    images = np.zeros((3, 28, 28), np.uint8)
    images[0, 4:24, 13:15] = 255
    images[1, 13:15, 4:24] = 200
    images[2, 6:22, 6:22] = 90
    answers = [client.post("/api/v1/featuremaps/batch?layers=pool1", content=body).content
               for body in (npy(images), npy(images[:, None]), npy(images[..., None]),
                            npy(np.asfortranarray(images[..., None])))]
    plain = np.load(io.BytesIO(answers[0]))
    for answer in answers[1:]:
        z = np.load(io.BytesIO(answer))
        assert sorted(z.files) == sorted(plain.files)
        for name in plain.files:
            np.testing.assert_array_equal(z[name], plain[name])


def test_one_image_alone_or_channels_last_is_a_batch_of_one(client: TestClient) -> None:
    """One image as (28, 28), or as (28, 28, 1) as x_train[0] of a Keras set is (refused
    until a review found it), answers what the (1, 28, 28) batch of it does. (A batch of
    three differs in the last bit of a few units: the convolution sums in another order.)"""
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 13:15] = 255
    batch = np.load(io.BytesIO(client.post("/api/v1/featuremaps/batch?layers=pool2",
                                           content=npy(image[None])).content))
    assert batch["max/pool2"].shape == (1, 64, 5, 5)
    for one in (image, image[..., None]):
        z = np.load(io.BytesIO(client.post("/api/v1/featuremaps/batch?layers=pool2",
                                           content=npy(one)).content))
        assert sorted(z.files) == sorted(batch.files)
        for name in batch.files:
            np.testing.assert_array_equal(z[name], batch[name])


def photos(images: np.ndarray) -> np.ndarray:
    """MNIST's digits as a photo of a page shrunk to 28x28 would hold them: dark ink (20 of
    255 at its darkest) on grey paper (200)."""
    return (200 - images.astype(np.float32) * 180 / 255).astype(np.uint8)


def test_preprocess_prepares_each_image_as_the_one_image_route_prepares_a_picture(
        client: TestClient, mnist: Mnist) -> None:
    """An API review: a folder of photos shrunk to 28x28, sent as they are, got confident
    wrong answers, and the route could not be asked to prepare them. With preprocess=true
    the answer's `inputs` is, image by image, the input the one-image route prepares from
    the same picture, sent as a PNG or as JSON pixels with "preprocess": true, to the level,
    with the same prediction; float images q/255 give the same as levels q."""
    from PIL import Image

    shot = photos(mnist.images("test")[:3])
    floats = (shot / 255.0).astype(np.float32)
    answers = [np.load(io.BytesIO(client.post(
        f"/api/v1/featuremaps/batch?models=max&layers=pool2&preprocess={word}",
        content=npy(images)).content)) for images, word in ((shot, "true"), (floats, "1"))]
    for z in answers:
        assert z.files[0] == "inputs" and z["inputs"].shape == (3, 28, 28)
        assert z["inputs"].dtype == np.uint8
    np.testing.assert_array_equal(answers[0]["inputs"], answers[1]["inputs"])
    np.testing.assert_array_equal(answers[0]["max/pool2"], answers[1]["max/pool2"])
    for i in range(3):
        png = io.BytesIO()
        Image.fromarray(shot[i]).save(png, format="PNG")
        for sent in ({"content": png.getvalue(), "headers": {"Content-Type": "image/png"}},
                     {"json": {"pixels": (shot[i] / 255.0).tolist(), "preprocess": True}}):
            single = client.post("/api/v1/featuremaps?models=max", **sent).json()
            seen = np.frombuffer(base64.b64decode(single["input"]["data"]), np.uint8)
            np.testing.assert_array_equal(answers[0]["inputs"][i].ravel(), seen)
            assert single["models"]["max"]["prediction"] == answers[0]["max/prediction"][i]


def test_preprocess_takes_pictures_of_any_one_size_as_the_one_image_route_does(
        client: TestClient, mnist: Mnist) -> None:
    """An API review: photos had to be shrunk to 28x28 first, and a digit small in its frame
    lost detail there. With preprocess=true a batch's images may be of any one size up to
    512 x 512, each prepared as the same picture sent to the one-image route is; without
    it, such a batch is told where it is taken."""
    from PIL import Image

    frames = np.full((3, 60, 45), 200, np.uint8)
    frames[:, 20:48, 10:38] = photos(mnist.images("test")[:3])
    r = client.post("/api/v1/featuremaps/batch?models=max&layers=pool2", content=npy(frames))
    assert (r.status_code, r.json()) == (422, {"detail": (
        "images must have shape (N, 28, 28), (N, 1, 28, 28) or (N, 28, 28, 1), or (28, 28) or "
        "(28, 28, 1) for one image; got (3, 60, 45) (other sizes, up to 512 x 512, with "
        "preprocess=true, which crops and scales each image as POST /api/v1/featuremaps "
        "does)")})
    answers = [np.load(io.BytesIO(client.post(
        "/api/v1/featuremaps/batch?models=max&layers=pool2&preprocess=true",
        content=npy(sent)).content)) for sent in (frames, frames[:, None], frames[..., None])]
    for z in answers:
        assert z["inputs"].shape == (3, 28, 28)
        np.testing.assert_array_equal(z["inputs"], answers[0]["inputs"])
    for i in range(3):
        png = io.BytesIO()
        Image.fromarray(frames[i]).save(png, format="PNG")
        single = client.post("/api/v1/featuremaps?models=max", content=png.getvalue(),
                             headers={"Content-Type": "image/png"}).json()
        seen = np.frombuffer(base64.b64decode(single["input"]["data"]), np.uint8)
        np.testing.assert_array_equal(answers[0]["inputs"][i].ravel(), seen)
        assert single["models"]["max"]["prediction"] == answers[0]["max/prediction"][i]
    # one image alone, and with its grey channel last: three axes ending in 1 are one image
    # (an API review asked which they were), not 60 of 45x1
    for alone in (frames[1], frames[1][..., None]):
        one = client.post("/api/v1/featuremaps/batch?models=max&layers=pool2&preprocess=true",
                          content=npy(alone))
        np.testing.assert_array_equal(np.load(io.BytesIO(one.content))["inputs"],
                                      answers[0]["inputs"][1:2])


@pytest.mark.parametrize(("query", "said"), [
    ("preprocess=maybe", "got 'maybe'"),
    ("preprocess", "got '' (write preprocess=true)"),
    ("preprocess=+true", "got ' true' (a + or %20 in an address reads as a space)")])
def test_a_preprocess_neither_true_nor_false_is_told_so(client: TestClient, query: str,
                                                        said: str) -> None:
    r = client.post(f"/api/v1/featuremaps/batch?{query}", content=npy(np.zeros((28, 28))))
    assert (r.status_code, r.json()) == (422, {"detail": (
        f"query parameter 'preprocess': expected true or false (or t or f, 1 or 0, yes or no, "
        f"y or n, on or off, in any case); {said}")})
    # every word it names is taken, and none other (an API review: yes was, unsaid; a later one
    # found t, y, f and n taken, unsaid)
    for word, inputs in (("yes", True), ("on", True), ("0", False), ("t", True), ("Y", True),
                         ("TRUE", True), ("f", False), ("n", False), ("Off", False)):
        r = client.post(f"/api/v1/featuremaps/batch?layers=pool2&preprocess={word}",
                        content=npy(np.zeros((28, 28))))
        assert r.status_code == 200
        assert ("inputs" in np.load(io.BytesIO(r.content))) is inputs, word


ALPHA_HINT = (" (2 channels: grey and alpha? convert to grey: the grey where opaque, the "
              "paper where clear)")


@pytest.mark.parametrize(("shape", "hint"), [
    ((64, 64, 3), " (3 colour channels? convert to grey, e.g. their mean over the last axis; "
                  "or 64 images 3 px wide? shape them (64, 64, 3, 1))"),
    ((2, 4, 64, 64), " (4 colour channels? convert to grey, e.g. their mean over the channel "
                     "axis)"),
    ((2, 64, 64, 4), " (4 colour channels? convert to grey, e.g. their mean over the last "
                     "axis)"),
    # a CLI review: which (N, H, W) fits, but for the rule's colour (now said in it); a later
    # API review: images 2 to 4 px wide were told only of channels
    ((2, 3, 3), " (3 colour channels? convert to grey, e.g. their mean over the last axis; "
                "or 2 images 3 px wide? shape them (2, 3, 3, 1))"),
    # an API review: np.array() of a grey picture with alpha was read as 140 images 2 px wide
    ((140, 140, 2), ALPHA_HINT[:-1] + "; or 140 images 2 px wide? shape them (140, 140, 2, 1))"),
    ((2, 2, 64, 64), ALPHA_HINT),
    # a shape that would be refused too is not offered (a review)
    ((600, 800, 3), " (3 colour channels? convert to grey, e.g. their mean over the last axis)"),
    ((2, 513, 60), ""), ((2, 0, 60), ""), ((5,), "")])
def test_preprocess_refuses_channels_and_sides_past_512(client: TestClient,
                                                        shape: tuple[int, ...], hint: str) -> None:
    r = client.post("/api/v1/featuremaps/batch?preprocess=true",
                    content=npy(np.zeros(shape, np.uint8)))
    assert (r.status_code, r.json()) == (422, {"detail": (
        "images must have shape (N, H, W), (N, 1, H, W) or (N, H, W, 1), or (H, W) or "
        "(H, W, 1) for one image, each side 1 to 512 (a last axis of 1 is the grey channel, so "
        "three axes ending in 1 are one image; of 2, 3 or 4, channels, grey and alpha or colour: "
        f"convert to grey); got {shape}{hint}")})


@pytest.mark.slow
def test_preprocess_reads_photos_that_sent_as_they_are_the_networks_misread(
        client: TestClient, mnist: Mnist) -> None:
    """The first 100 test digits as photos: as sent, max and avg name few of them (they
    never saw dark ink on light paper); prepared, nearly all. The prepared answer is the
    unprepared one's arrays and `inputs`, and weighs what npz_size says."""
    images, labels = mnist.images("test")[:100], mnist.labels("test")[:100]
    right = {}
    for word in ("false", "true"):
        r = client.post(f"/api/v1/featuremaps/batch?layers=pool2&preprocess={word}",
                        content=npy(photos(images)))
        z = np.load(io.BytesIO(r.content))
        right[word] = [int((z[f"{m}/prediction"] == labels).sum()) for m in ("max", "avg")]
        prepared = word == "true"
        layout = Layout.plan(EVERY_MAP_SPECS, ["pool2"])
        assert len(r.content) == batch.npz_size(layout, 100, inputs=prepared)
        assert z.files == [batch.INPUTS] * prepared + list(batch._answer_arrays(layout, 0))
    assert max(right["false"]) <= 15 and min(right["true"]) >= 98, right


def test_an_answer_too_large_says_how_many_images_would_fit() -> None:
    """A review: a server whose response limit is below one image's answer was told to ask
    for "at most 0 images"; one that fits a single image, "1 images". The sizes are the
    .npz's: 78,112 bytes an image for every map of max and avg, and 8,754 of member headers
    and zip records (4,320 and 2,610 for pool2 alone)."""
    pool2 = Layout.plan(EVERY_MAP_SPECS, ["pool2"])
    assert answer_too_large(3, EVERY_MAP, 30_000) == (
        "the answer would be 243,090 bytes, over the limit of 30,000, which one image's answer "
        "with these layers passes: ask for fewer layers= or models=, or raise the server's "
        "FEATUREMAPS_MAX_BATCH_RESPONSE_BYTES")
    assert answer_too_large(2, EVERY_MAP, 8_754 + 78_112).endswith(
        "ask for fewer layers=, or for at most 1 image at a time with these")
    assert answer_too_large(2, EVERY_MAP, 8_754 + 78_111).endswith(
        "which one image's answer with these layers passes: ask for fewer layers= or models=, "
        "or raise the server's FEATUREMAPS_MAX_BATCH_RESPONSE_BYTES")
    assert answer_too_large(3, pool2, 2_610 + 2 * 4_320).endswith(
        "or for at most 2 images at a time with these")
    assert answer_too_large(3, pool2, 100).endswith("which one image's answer with these "
                                                    "layers passes: ask for fewer layers= or "
                                                    "models=, or raise the server's "
                                                    "FEATUREMAPS_MAX_BATCH_RESPONSE_BYTES")


@pytest.mark.parametrize(("layers", "prepared"), [(None, False), ("pool2", False),
                                                  ("pool2", True)])
def test_the_response_limit_weighs_the_whole_npz(settings: Settings, layers: str | None,
                                                 prepared: bool) -> None:
    """Found by a review: the limit was held against the maps alone, 8,754 bytes under the
    .npz of every map, so an answer over the limit by up to that much was sent. An answer of
    exactly the limit is sent; one byte more is refused, saying how many images fit. With
    preprocess=true the prepared images it holds are weighed too."""
    from app.main import create_app

    layout = Layout.plan(EVERY_MAP_SPECS, None if layers is None else [layers])
    body = npy(np.zeros((3, 28, 28), np.uint8))
    query = "" if layers is None else f"?layers={layers}"
    query += "&preprocess=true" if prepared else ""
    size = batch.npz_size(layout, 3, inputs=prepared)
    for limit in (size, size - 1):
        app = create_app(settings.model_copy(update={"max_batch_response_bytes": limit}))
        with TestClient(app) as c:
            r = c.post(f"/api/v1/featuremaps/batch{query}", content=body)
        if limit == size:
            assert r.status_code == 200 and len(r.content) == size
        else:
            inputs = " (with the prepared images, 784 bytes each)" if prepared else ""
            assert (r.status_code, r.json()) == (422, {"detail": (
                f"the answer would be {size:,} bytes{inputs}, over the limit of {limit:,}: ask "
                "for fewer layers=, or for at most 2 images at a time with these")})


def test_an_answer_too_large_is_refused_from_the_header_before_inflating(
        client: TestClient) -> None:
    """Found by a review: 40,000 compressed images (a 40 kB .npz) were inflated and copied,
    hundreds of MB and a second, before their answer was found too large. The header's
    number of images decides: the member's data is damaged near its end here, and is never
    read."""
    import zipfile

    buf = io.BytesIO()
    np.savez_compressed(buf, images=np.zeros((40_000, 28, 28), np.uint8))
    body = bytearray(buf.getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(body))).getinfo("images.npy")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    end = start + info.compress_size
    body[end - 64:end - 32] = b"\xff" * 32  # deflate data an inflation stumbles on
    r = client.post("/api/v1/featuremaps/batch", content=bytes(body))
    # every map of max and avg, their ranges and probabilities, and the .npz's headers
    size = 40_000 * 78_112 + 8_754
    assert (r.status_code, r.json()) == (422, {"detail": (
        f"the answer would be {size:,} bytes, over the limit of 536,870,912: ask for fewer "
        "layers=, or for at most 6,872 images at a time with these")})
    assert 6_872 * 78_112 + 8_754 <= 536_870_912 < 6_873 * 78_112 + 8_754  # the most that fit
    # a few layers fit: the same images are then read to the end, damage and all
    r = client.post("/api/v1/featuremaps/batch?layers=conv3", content=bytes(body))
    assert r.status_code == 422 and r.json()["detail"].startswith("body is not a readable .npz")


def npy_with_shape(shape: str, descr: str = "|u1", version: bytes = b"\x01\x00") -> bytes:
    """A .npy of 784 data bytes whose header declares `shape`, `descr` and `version`, as
    written."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (117 - len(header)) + "\n"
    size = len(header).to_bytes(2 if version == b"\x01\x00" else 4, "little")
    return b"\x93NUMPY" + version + size + header.encode() + bytes(784)


def zipped(**members: bytes) -> bytes:
    """An .npz of the files `members`, written as they are (name.npy)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(f"{name}.npy", data)
    return buf.getvalue()


def npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


@pytest.mark.parametrize(("body", "status", "detail"), [
    (npy(np.zeros((2, 28, 27), np.uint8)), 422,
     "images must have shape (N, 28, 28), (N, 1, 28, 28) or (N, 28, 28, 1), or (28, 28) or "
     "(28, 28, 1) for one image; got (2, 28, 27) (other sizes, up to 512 x 512, with "
     "preprocess=true, which crops and scales each image as POST /api/v1/featuremaps does)"),
    (npy(np.zeros((2, 28, 600), np.uint8)), 422,
     "images must have shape (N, 28, 28), (N, 1, 28, 28) or (N, 28, 28, 1), or (28, 28) or "
     "(28, 28, 1) for one image; got (2, 28, 600)"),
    (npy(np.zeros((2, 28, 28, 3), np.uint8)), 422,
     "images must have shape (N, 28, 28), (N, 1, 28, 28) or (N, 28, 28, 1), or (28, 28) or "
     "(28, 28, 1) for one image; got (2, 28, 28, 3) (3 colour channels? convert to grey, e.g. "
     "their mean over the last axis)"),
    (npy(np.zeros((2, 3, 28, 28), np.uint8)), 422,
     "images must have shape (N, 28, 28), (N, 1, 28, 28) or (N, 28, 28, 1), or (28, 28) or "
     "(28, 28, 1) for one image; got (2, 3, 28, 28) (3 colour channels? convert to grey, e.g. "
     "their mean over the channel axis)"),
    (npy(np.zeros((0, 28, 28), np.uint8)), 422, "no images: the array has N = 0"),
    (npy(np.full((1, 28, 28), 2.0)), 422,
     "float images must lie in 0..1; found 2..2 (levels 0..255? divide them by 255)"),
    # an end in range as short as the other (an API review: "found 0.0..254")
    (npy(np.eye(28)[None] * 254), 422,
     "float images must lie in 0..1; found 0..254 (levels 0..255? divide them by 255)"),
    # a hair over: a resampling's overshoot, not levels (found by a review)
    (npy(np.full((1, 28, 28), 1.0000001)), 422,
     "float images must lie in 0..1; found 1.0000001..1.0000001 (clip them to 0..1 if they "
     "only overshoot)"),
    # found by a review: torchvision's Normalize((0.1307,), (0.3081,)) was told to send uint8
    (npy((np.eye(28)[None] - 0.1307) / 0.3081), 422,
     "float images must lie in 0..1; found -0.4242..2.821 "
     "(normalised? undo it: x * std + mean, for MNIST's usual 0.3081 and 0.1307)"),
    # found by a review: Normalize((0.5,), (0.5,)), -1..1, was told to undo MNIST's own
    # std and mean, after which it was still refused; and its end at -0.0 read "-0"
    (npy(np.eye(28)[None] * 2 - 1), 422,
     "float images must lie in 0..1; found -1..1 (scaled to -1..1, as Normalize((0.5,), "
     "(0.5,)) does? undo it: (x + 1) / 2)"),
    (npy(-np.eye(28)[None]), 422, "float images must lie in 0..1; found -1..0"),
    # below 0 alone, the upper end in range
    (npy(np.full((1, 28, 28), -0.5, np.float32)), 422,
     "float images must lie in 0..1; found -0.5..-0.5 "
     "(normalised? undo it: x * std + mean, for MNIST's usual 0.3081 and 0.1307)"),
    # finite, though beyond float32: not "NaN or infinity"
    (npy(np.full((1, 28, 28), 1e300)), 422,
     "float images must lie in 0..1; found 1e+300..1e+300"),
    # found by a review: binarised digits, (x > 127).astype(np.uint8), were read as black
    (npy(np.eye(28, dtype=np.uint8)[None]), 422,
     "integer images are levels 0..255, and these hold only 0 and 1 (binarised?): send them "
     "times 255, or as floats in 0..1"),
    (npy(np.full((1, 28, 28), np.nan)), 422,
     "images contain NaN or infinity; expected floats in 0..1"),
    (npy(np.array(["a"] * 784).reshape(1, 28, 28)), 422,
     "images must be integers (levels 0..255, as uint8) or floats (0..1); got <U1"),
    # found by a review: the words said uint8 where any integer type is taken
    (npy(np.ones((1, 28, 28), bool)), 422,
     "images must be integers (levels 0..255, as uint8) or floats (0..1); got bool"),
    (npy(np.full((1, 28, 28), 256, np.int64)), 422,
     "integer images are levels 0..255; found 256..256 (send floats for 0..1)"),
    (npy(np.full((1, 28, 28), -1, np.int16)), 422,
     "integer images are levels 0..255; found -1..-1 (send floats for 0..1)"),
    # 16-bit levels named as such (an API review: told only to send floats)
    (npy(np.arange(784, dtype=np.uint16).reshape(1, 28, 28) * 83), 422,
     "integer images are levels 0..255; found 0..64989 (16-bit levels? send them divided by "
     "65535 as floats, or by 257 as uint8)"),
    (b"", 400, "empty body: send an .npy or .npz of (N, 28, 28) images"),
    # a body of another kind is a 415, as on the one-image route (an API review: a 422)
    (b"GIF89a", 415, "body is a GIF image, not an .npy or .npz of images: one image goes to "
                     "POST /api/v1/featuremaps"),
    # JSON pixels sent without their type, as curl --data-binary does (an API review)
    (b'{"pixels": [[0]]}', 415, "body is JSON, not an .npy or .npz of images: one image's "
                                "pixels go to POST /api/v1/featuremaps"),
    (b"%PDF-1.7", 415, "body is neither an .npy (\\x93NUMPY) nor an .npz (zip) file: write the "
                       "images with np.save(f, images), or np.savez(f, images=images)"),
    # raw bytes, which say what they may be (an API review)
    (np.zeros((3, 28, 28), np.uint8).tobytes(), 415,
     "body is 2,352 bytes with no header, as the raw bytes (x.tobytes()) of 28x28 images are: "
     "3 as uint8; write them with np.save(f, images), which records their shape and type"),
    (np.zeros((2, 28, 28), np.float64).tobytes(), 415,
     "body is 12,544 bytes with no header, as the raw bytes (x.tobytes()) of 28x28 images are: "
     "16 as uint8 or 4 as float32 or 2 as float64; write them with np.save(f, images), which "
     "records their shape and type"),
    # text of that length (a CSV of 28 rows of 28 one-digit values and commas: 1,568 bytes)
    # holds no zero byte, and is not called raw images
    (("0," * 27 + "0\n").encode() * 28, 415,
     "body is neither an .npy (\\x93NUMPY) nor an .npz (zip) file: write the images with "
     "np.save(f, images), or np.savez(f, images=images)"),
    (np.zeros((3, 28, 28), np.uint8).tobytes()[:-1], 415,
     "body is neither an .npy (\\x93NUMPY) nor an .npz (zip) file: write the images with "
     "np.save(f, images), or np.savez(f, images=images)"),
    (npy_with_shape("(True, 28, 28)"), 422,
     "not a readable .npy header (shape (True, 28, 28) is not integers)"),
    # found by a review: "header declares -784 bytes", an unknown format version read as
    # 2.0, and long double accepted
    (npy_with_shape("(-1, 28, 28)"), 422,
     "not a readable .npy header (shape (-1, 28, 28) has a negative size)"),
    (npy_with_shape("(1, 28, 28)", version=b"\x09\x00"), 422,
     "not a readable .npy header (format version 9.0; NumPy writes 1.0, 2.0 and 3.0)"),
    (npy_with_shape("(1, 28, 28)", version=b" g"), 422,
     "not a readable .npy header (the two bytes after \\x93NUMPY, 0x20 0x67, are no format "
     "version; NumPy writes 1.0, 2.0 and 3.0)"),
    (npy_with_shape("(1, 28, 28)", "<f16"), 422,
     "float images must be float16, float32 or float64; got float128"),
    # a file cut short, or a lying header, is said as such before its count is judged (an
    # API review: 8 images under a header of 100,000 were told to be sent in parts)
    (npy_with_shape("(100000, 28, 28)"), 422,
     ".npy header declares 78,400,000 bytes of data; the file holds 784: send the whole file, "
     "as np.save wrote it"),
    (npy(np.zeros((3, 28, 28), np.uint8))[:-1000], 422,
     ".npy header declares 2,352 bytes of data; the file holds 1,352: send the whole file, as "
     "np.save wrote it"),
    (zipped(images=npy_with_shape("(100000, 28, 28)")), 422,
     ".npy header declares 78,400,000 bytes of data; the file holds 784: send the whole file, "
     "as np.save wrote it"),
    # two arrays saved to one file: whole, but one array too many (a review: told to send it
    # whole)
    (npy(np.zeros((1, 28, 28), np.uint8)) * 2, 422,
     ".npy header declares 784 bytes of data; 912 more follow it: one array to an .npy "
     "(np.savez holds several)"),
    (npz(), 422, "the .npz holds no arrays; put the images in 'images'"),
    # found by a review: 20,000 members were all listed, a 4 MB message
    (npz(**{f"m{i}": np.zeros(1) for i in range(30)}), 422,
     ".npz holds m0, m1, m2, m3, m4, m5, m6, m7, m8, m9 and 20 more; name the images array "
     "'images'"),
    (npz(**{"x" * 100: np.zeros(1), "y": np.zeros(1)}), 422,
     f".npz holds {'x' * 64}..., y; name the images array 'images'"),
])
def test_bad_batches_are_refused(client: TestClient, body: bytes, status: int,
                                 detail: str) -> None:
    r = client.post("/api/v1/featuremaps/batch", content=body)
    assert (r.status_code, r.json()) == (status, {"detail": detail})


@pytest.mark.parametrize("kind", ["application/json", "application/problem+json", "image/png",
                                  "text/plain; charset=utf-8"])
def test_a_body_typed_for_another_route_is_refused_by_its_type(client: TestClient,
                                                                kind: str) -> None:
    """Found by an API review: JSON pixels or a PNG sent here were told the body is neither
    an .npy nor an .npz, a 422, where /featuremaps answers such a mistake with a 415."""
    r = client.post("/api/v1/featuremaps/batch", content=b'{"pixels": []}',
                    headers={"content-type": kind})
    assert (r.status_code, r.json()) == (415, {"detail": (
        f"content type '{kind.split(';')[0]}' is not an .npy or .npz: send the arrays as "
        "application/octet-stream or as a multipart field 'file' (one image: POST "
        "/api/v1/featuremaps)")})


@pytest.mark.parametrize("kind", ["application/x-www-form-urlencoded", "application/x-npy", ""])
def test_a_body_of_any_other_type_is_read_by_its_signature(client: TestClient,
                                                           kind: str) -> None:
    """curl --data-binary sends a form's type, and an .npy has no registered one."""
    headers = {"content-type": kind} if kind else {}
    r = client.post("/api/v1/featuremaps/batch?models=max&layers=pool2",
                    content=npy(np.zeros((2, 28, 28), np.uint8)), headers=headers)
    assert r.status_code == 200 and np.load(io.BytesIO(r.content))["max/pool2"].shape == (
        2, 64, 5, 5)


def test_a_multipart_upload_gets_the_same_npz_as_a_raw_body(client: TestClient) -> None:
    """curl -F file=@images.npy works here as on every other endpoint."""
    images = np.zeros((2, 28, 28), np.uint8)
    images[:, 5:23, 12:16] = 255
    url = "/api/v1/featuremaps/batch?models=max&layers=pool2"
    raw = client.post(url, content=npy(images))
    form = client.post(url, files={"file": ("images.npy", npy(images), "application/octet-stream")})
    assert raw.status_code == form.status_code == 200
    a, b = np.load(io.BytesIO(raw.content)), np.load(io.BytesIO(form.content))
    assert sorted(a.files) == sorted(b.files)
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name])
    empty = client.post(url, files={"note": (None, "hello")})
    assert (empty.status_code, empty.json()) == (400, {
        "detail": "multipart body has no file: send the .npy or .npz in a field named 'file'"})
    text = client.post(url, files={"file": (None, "images.npy")})  # curl -F 'file=<...'
    said = ("multipart field 'file' is text, not a file: send the .npy or .npz as a file part, "
            "with a filename (curl -F file=@path); a part is a file by its "
            "Content-Disposition's filename=\"...\", not filename*=, which multipart/form-data "
            "does not use (RFC 7578)")
    assert (text.status_code, text.json()) == (400, {"detail": said})
    # named as RFC 5987 has it, filename*= alone (an API review: told nothing of why)
    starred = client.post(url, content=(
        b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''x.npy\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n" + npy(images) + b"\r\n--b--\r\n"),
        headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert (starred.status_code, starred.json()) == (400, {"detail": said})
    # text fields are never used: one may not hold more than 64 KiB in memory
    big = client.post(url, files={"note": (None, "x" * 70_000),
                                  "file": ("images.npy", npy(images), "application/octet-stream")})
    assert (big.status_code, big.json()) == (413, {
        "detail": "multipart text field over 64 KiB: text fields are not read; send the file "
                  "part named 'file' alone (curl -F file=@path)"})


def test_integer_images_are_levels_like_uint8(client: TestClient) -> None:
    """An array built from Python ints is int64: it holds 0..255 levels, as uint8 does."""
    images = np.zeros((2, 28, 28), np.uint8)
    images[:, 6:22, 12:16] = 200
    url = "/api/v1/featuremaps/batch?models=max&layers=pool2"
    want = np.load(io.BytesIO(client.post(url, content=npy(images)).content))
    for dtype in (np.int64, np.int32, np.uint16):
        got = np.load(io.BytesIO(client.post(url, content=npy(images.astype(dtype))).content))
        for name in want.files:
            np.testing.assert_array_equal(got[name], want[name], err_msg=f"{dtype} {name}")


@pytest.mark.parametrize(("query", "detail"), [
    ("layers=pool9", "model 'max' has no layer 'pool9'; its layers are conv1, pool1, conv2, "
                     "pool2, conv3"),
    ("models=strided&layers=pool1", "model 'strided' has no layer 'pool1'; its layers are "
                                    "conv1, conv2, conv3"),
    ("layers=pool2,pool2", "layers= names the layer 'pool2' twice"),
    # an unknown name before a repeat, as for models=
    ("layers=pool9,pool9", "model 'max' has no layer 'pool9'; its layers are conv1, pool1, "
                           "conv2, pool2, conv3"),
])
def test_an_unknown_layer_is_a_bad_parameter(client: TestClient, query: str,
                                             detail: str) -> None:
    """layers= is a query value: 422 like an unknown models= name (404 is for paths)."""
    r = client.post(f"/api/v1/featuremaps/batch?{query}",
                    content=npy(np.zeros((1, 28, 28), np.uint8)))
    assert (r.status_code, r.json()) == (422, {"detail": detail})


def test_a_zip_member_that_is_not_an_npy_is_refused(client: TestClient) -> None:
    """Regression: found by schemathesis, np.load hands back raw bytes for such members."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("images", b"not an array")
    r = client.post("/api/v1/featuremaps/batch", content=buf.getvalue())
    assert (r.status_code, r.json()) == (422, {"detail": ".npz member 'images' is not an .npy "
                                                         "array"})


def test_an_npz_bomb_is_refused_before_inflating(client: TestClient) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("images.npy", b"\0" * 400_000_000)
    assert len(buf.getvalue()) < 1_000_000
    r = client.post("/api/v1/featuremaps/batch", content=buf.getvalue())
    assert r.status_code == 413
    assert r.json()["detail"] == (
        ".npz would inflate to 400,000,000 bytes; the limit is 250,884,096 (40,000 images of 28 x "
        "28 float64): send uint8 levels, or fewer or smaller images")


def test_too_many_compressed_images_are_said_as_too_many(client: TestClient) -> None:
    """An API review: a million uint8 zeros, 762 KB compressed, were told they would inflate
    too far and to send uint8 levels, which they were. Their header is read first, as the
    images of an .npz under the bound are: the count is what is wrong."""
    buf = io.BytesIO()
    np.savez_compressed(buf, images=np.zeros((1_000_000, 28, 28), np.uint8))
    r = client.post("/api/v1/featuremaps/batch", content=buf.getvalue())
    assert (r.status_code, r.json()["detail"]) == (
        413, "1,000,000 images; the limit is 40,000 per request (FEATUREMAPS_MAX_BATCH_IMAGES): "
             "send them in parts of at most 40,000")
    # and an .npy that holds them all, under the upload limit (its data weighed first)
    r = client.post("/api/v1/featuremaps/batch", content=npy(np.zeros((40_001, 28, 28), np.uint8)))
    assert (r.status_code, r.json()["detail"]) == (
        413, "40,001 images; the limit is 40,000 per request (FEATUREMAPS_MAX_BATCH_IMAGES): "
             "send them in parts of at most 40,000")
    # uint8 images within the count, beside another array that inflates past the bound:
    # the images alone, not uint8 levels, are what to send
    buf = io.BytesIO()
    np.savez_compressed(buf, images=np.zeros((10, 28, 28), np.uint8),
                        extra=np.zeros(300_000_000, np.uint8))
    r = client.post("/api/v1/featuremaps/batch", content=buf.getvalue())
    assert (r.status_code, r.json()["detail"]) == (
        413, f".npz would inflate to {300_000_000 + 10 * 784 + 2 * 128:,} bytes; the limit is "
             "250,884,096 (40,000 images of 28 x 28 float64): send the images alone (the other "
             "arrays count too), or fewer or smaller images")


def test_an_npy_header_declaring_gigabytes_is_refused_before_it_is_read(
        client: TestClient) -> None:
    """A review: NumPy reads all the header an .npy declares (up to 4 GiB in format 2.0)
    before it checks its own bound, and an .npz member is inflated as it is read: one
    declaring 4 GiB of header, 4 MB deflated, had the server inflate 1 GiB and hold 2 GB
    before refusing it. The declared length is now refused unread."""
    member = b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFFF) + b" " * 20_000_000
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("images.npy", member)
    assert len(buf.getvalue()) < 100_000
    r = client.post("/api/v1/featuremaps/batch", content=buf.getvalue())
    assert (r.status_code, r.json()["detail"]) == (
        422, "not a readable .npy header (it declares 4,294,967,295 bytes of header; NumPy "
             "writes at most 10,000)")


def test_a_batch_over_the_upload_limit_is_told_of_uint8(client: TestClient) -> None:
    """An API review: MNIST's test set as float64 (np.save(x / 255), 63 MB) was told to send
    it in parts or compressed, where uint8 levels take an eighth of its bytes."""
    body = npy(np.zeros((10_000, 28, 28), np.float64))
    r = client.post("/api/v1/featuremaps/batch", content=body)
    assert (r.status_code, r.json()["detail"]) == (
        413, "request body over the upload limit of 33,554,432 bytes "
             "(FEATUREMAPS_MAX_BATCH_UPLOAD_BYTES): send float images as uint8 levels (float64 "
             "takes 8 times their bytes, float32 4), or the images in parts, or compressed "
             "(np.savez_compressed)")


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_member_zipfile_would_inflate_whole_is_refused(client: TestClient,
                                                         method: int) -> None:
    """Found by a review: zipfile bounds what it inflates by the declared size for deflate
    alone. A bzip2 member declaring 912 bytes and holding 180 MB of zeros (365 bytes of body)
    was inflated whole and answered 200, with the server holding 355 MB more."""
    images = npy(np.zeros((1, 28, 28), np.uint8))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        zf.writestr("images.npy", images)
    r = client.post("/api/v1/featuremaps/batch", content=buf.getvalue())
    assert (r.status_code, r.json()) == (422, {"detail": (
        f".npz member 'images' is compressed with zip method {method}; only stored or deflated "
        "members are read (np.savez, np.savez_compressed)")})
    # what numpy writes is read, compressed or not
    for save in (np.savez, np.savez_compressed):
        out = io.BytesIO()
        save(out, images=np.zeros((1, 28, 28), np.uint8))
        r = client.post("/api/v1/featuremaps/batch?layers=pool2", content=out.getvalue())
        assert r.status_code == 200, r.text


def test_an_npz_of_many_members_is_refused_before_they_are_listed(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by reviews: a 32 MB .npz of 710,000 directory entries held the batch thread for
    about 3 s and 190 MB, and a first fix counted them only once zipfile had read them all.
    The count comes from the directory's end record; zipfile is not asked."""
    many = npz(**{f"m{i}": np.zeros(0, np.uint8) for i in range(65)})

    def unread(*args: object, **kwargs: object) -> None:
        raise AssertionError("zipfile read the directory")

    # a record that says 1 member of 1,000: zipfile would read the directory by its size
    liar = io.BytesIO()
    with zipfile.ZipFile(liar, "w") as zf:
        for i in range(1000):
            zf.writestr(f"m{i}.npy", b"")
    lying = bytearray(liar.getvalue())
    end = lying.rfind(b"PK\x05\x06")
    lying[end + 8:end + 12] = (1).to_bytes(2, "little") * 2
    # a record whose directory offset reads "PK\x05\x06": a search for the signature from
    # the end lands inside the record, where zipfile's own finder does not
    hidden = bytearray(liar.getvalue())
    end = hidden.rfind(b"PK\x05\x06")
    hidden[end + 16:end + 20] = b"PK\x05\x06"
    with monkeypatch.context() as patched:
        patched.setattr(zipfile, "ZipFile", unread)
        r = client.post("/api/v1/featuremaps/batch", content=many)
        refused = client.post("/api/v1/featuremaps/batch", content=bytes(lying))
        found = client.post("/api/v1/featuremaps/batch", content=bytes(hidden))
    assert (found.status_code, found.json()["detail"][:24]) == (422, ".npz holds 1,000 members")
    assert r.status_code == 422
    assert r.json()["detail"].startswith(".npz holds 65 members (")
    assert r.json()["detail"].endswith("bytes of directory); at most 64 are read (put the images "
                                       "in 'images')")
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith(".npz holds 1 members (")
    # 64 is read, the images among them found
    fine = npz(images=np.zeros((1, 28, 28), np.uint8),
               **{f"m{i}": np.zeros(0, np.uint8) for i in range(63)})
    r = client.post("/api/v1/featuremaps/batch?layers=pool2", content=fine)
    assert r.status_code == 200, r.text


def zip64_npz(members: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> bytes:
    """An .npz whose directory ends with a zip64 record, and a 16-bit one holding only the
    placeholders 0xFFFF and 0xFFFFFFFF, as `zip -fz` writes it."""
    out = io.BytesIO()
    with monkeypatch.context() as patched:
        patched.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 0)  # zipfile then writes a zip64 record
        with zipfile.ZipFile(out, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
    body = bytearray(out.getvalue())
    end = body.rfind(b"PK\x05\x06")
    body[end + 8:end + 20] = b"\xff" * 12
    return bytes(body)


def test_an_npz_with_a_zip64_directory_is_read(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a review: a valid .npz ending in a zip64 record (`zip -fz`, or a zipfile
    forced to it) was refused as holding "65,535 members (4,294,967,295 bytes of
    directory)", the 16-bit record's placeholders; numpy reads it. The zip64 record's counts
    are used, and held to the same limits."""
    images = (np.arange(2 * 28 * 28) % 256).astype(np.uint8).reshape(2, 28, 28)
    body = zip64_npz({"images.npy": npy(images)}, monkeypatch)
    assert b"PK\x06\x06" in body
    np.testing.assert_array_equal(np.load(io.BytesIO(body))["images"], images)
    r = client.post("/api/v1/featuremaps/batch?layers=pool2", content=body)
    assert r.status_code == 200, r.text
    plain = client.post("/api/v1/featuremaps/batch?layers=pool2", content=npy(images))
    assert r.content == plain.content
    many = zip64_npz({f"m{i}.npy": b"" for i in range(65)}, monkeypatch)
    r = client.post("/api/v1/featuremaps/batch", content=many)
    assert r.status_code == 422
    assert r.json()["detail"].startswith(".npz holds 65 members (")


def empty_npz() -> bytes:
    f = io.BytesIO()
    np.savez(f)  # a zip of no members: its directory's end alone
    return f.getvalue()


@pytest.mark.parametrize("body", [npy(np.zeros((2, 28, 28), np.uint8)), empty_npz()],
                         ids=["npy", "empty-npz"])
def test_an_npy_sent_as_one_image_is_pointed_to_the_batch_route(client: TestClient,
                                                                body: bytes) -> None:
    """Found by a review: an .npy sent to the one-image route, as a raw body or as the
    multipart file curl -F sends, was told only that it was not an image. An .npz of no
    arrays too (it begins as a zip's end record, which the one-image route did not
    know while the batch route did)."""
    said = ("not an image this server reads: send a PNG, JPEG, WebP or GIF, or JSON pixels; "
            "this body is an .npy or a zip (such as an .npz), and arrays of images go to POST "
            "/api/v1/featuremaps/batch")
    raw = client.post("/api/v1/featuremaps", content=body,
                      headers={"Content-Type": "application/octet-stream"})
    part = client.post("/api/v1/featuremaps", files={"file": ("x.npy", body, "image/png")})
    assert (raw.status_code, raw.json()) == (415, {"detail": said})
    # a file part takes an image alone, not JSON pixels (a later review)
    assert (part.status_code, part.json()) == (415, {"detail": (
        "not an image this server reads: send a PNG, JPEG, WebP or GIF; this file part is an "
        ".npy or a zip (such as an .npz), and arrays of images go to POST "
        "/api/v1/featuremaps/batch")})


def test_a_torch_save_file_is_named_as_one(client: TestClient) -> None:
    """Found by a review: torch.save writes a zip, which a PyTorch user sends first, and was
    answered with its members' names and "name the images array 'images'". No .npz, it is a
    415, as the route documents a body of another kind (a later review: it was a 422)."""
    import torch

    saved = io.BytesIO()
    torch.save(torch.zeros(2, 28, 28), saved)
    r = client.post("/api/v1/featuremaps/batch", content=saved.getvalue())
    assert (r.status_code, r.json()["detail"]) == (
        415, "body is a torch.save file, not an .npz; send the tensor as an .npy: "
             "np.save(f, images.numpy())")


@pytest.mark.slow
def test_extract_command_writes_the_chosen_layers(tmp_path: object, mnist: Mnist) -> None:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = Path(str(tmp_path)) / "maps.npz"
    env = {**os.environ, "FEATUREMAPS_DEVICE": "cpu"}
    proc = subprocess.run([sys.executable, "-m", "app.cli", "extract", str(out), "--split", "test",
                           "--layers", "pool2", "--limit", "300"], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    assert stats["images"] == 300 and stats["images_per_second"] > 0
    assert stats["write_seconds"] > 0  # the file's write, timed apart from the maps
    z = np.load(out)
    assert z["max/pool2"].shape == (300, 64, 5, 5) and z["avg/pool2"].dtype == np.uint8
    assert "max/conv1" not in z.files
    assert np.array_equal(z["labels"], mnist.labels("test")[:300])
    assert (z["max/prediction"] == z["labels"]).mean() > 0.97


@pytest.mark.parametrize(("offsets", "value", "detail"), [
    # the compression method, in the member's and the directory's header
    ((8, 10), 99, ".npz member 'images' is compressed with zip method 99; only stored or"),
    ((6, 8), 1, "body is not a readable .npz ("),  # the flags: encrypted
])
def test_an_npz_zipfile_cannot_read_is_refused(client: TestClient, offsets: tuple[int, int],
                                                value: int, detail: str) -> None:
    """Found by a review: these raised NotImplementedError and RuntimeError, and a 500."""
    body = bytearray(npz(images=np.zeros((1, 28, 28), np.uint8)))
    local, central = body.find(b"PK\x03\x04"), body.find(b"PK\x01\x02")
    for start, offset in zip((local, central), offsets, strict=True):
        body[start + offset:start + offset + 2] = value.to_bytes(2, "little")
    r = client.post("/api/v1/featuremaps/batch", content=bytes(body))
    assert r.status_code == 422
    assert r.json()["detail"].startswith(detail)


def raw_npy_header(header: bytes) -> bytes:
    """A version 1.0 .npy whose header is `header` exactly, then 784 data bytes."""
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(784)


def npz_with_directory_offset(extra: int) -> bytes:
    """An .npz of one image whose end-of-directory record points `extra` bytes too far."""
    body = bytearray(npz(images=np.zeros((1, 28, 28), np.uint8)))
    end = body.rfind(b"PK\x05\x06")
    offset = int.from_bytes(body[end + 16:end + 20], "little") + extra
    body[end + 16:end + 20] = offset.to_bytes(4, "little")
    return bytes(body)


def npz_with_utf8_flag_on(name: bytes) -> bytes:
    """An .npz of one member named `name` (not UTF-8) whose directory entry claims UTF-8."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("images.npy", npy(np.zeros((1, 28, 28), np.uint8)))
    body = bytearray(buf.getvalue())
    assert len(name) == len(b"images.npy")
    for sig, flags, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        start = body.find(sig)
        value = int.from_bytes(body[start + flags:start + flags + 2], "little") | 0x800
        body[start + flags:start + flags + 2] = value.to_bytes(2, "little")
        body[start + name_at:start + name_at + len(name)] = name
    return bytes(body)


NPY_UNREADABLE = ("not a readable .npy header: NumPy cannot parse it; write the images with "
                  "numpy.save")


@pytest.mark.parametrize(("body", "detail"), [
    # NumPy let tokenize.TokenError and SyntaxError out of its header parser
    (raw_npy_header(b"{'shape': (1,\n"), NPY_UNREADABLE),
    (raw_npy_header(b"{'descr': '|01', 'fortran_order': False, 'shape': (1, 28, 28), }\n"),
     NPY_UNREADABLE),
    # ValueError (a negative seek) and UnicodeDecodeError from zipfile
    (npz_with_directory_offset(100), "body is not a readable .npz (negative seek value -100): "
     "write it with np.savez(f, images=images), and send it whole"),
    (npz_with_utf8_flag_on(b"image\xff.npy"), "body is not a readable .npz ('utf-8' codec "
     "can't decode byte 0xff in position 5: invalid start byte): write it with np.savez(f, "
     "images=images), and send it whole"),
])
def test_headers_and_zips_the_parsers_choke_on_are_refused(client: TestClient, body: bytes,
                                                           detail: str) -> None:
    """Found by a review: each of these was a 500."""
    r = client.post("/api/v1/featuremaps/batch", content=body)
    assert (r.status_code, r.json()) == (422, {"detail": detail})


@pytest.mark.parametrize("save", [np.save, np.savez, np.savez_compressed])
def test_a_file_sent_with_curl_d_is_said_to_have_lost_its_line_breaks(
        client: TestClient, save: Any) -> None:
    """Found by an API review: `curl -d @images.npy` takes out every CR and LF, and the
    batch route said only that the header was unreadable ("write the images with
    numpy.save", which the user had done); the one-image route names curl -d."""
    buf = io.BytesIO()
    save(buf, np.arange(3 * 784, dtype=np.uint8).reshape(3, 28, 28) % 200)
    whole = buf.getvalue()
    assert client.post("/api/v1/featuremaps/batch?layers=pool2", content=whole).status_code == 200
    r = client.post("/api/v1/featuremaps/batch",
                    content=whole.replace(b"\r", b"").replace(b"\n", b""))
    assert r.status_code == 422
    assert r.json()["detail"].endswith("; this body holds no line break, as a file sent with "
                                       "curl -d loses them: send it with --data-binary @file")


def test_a_trailing_slash_is_named_under_the_batch_upload_limit(client: TestClient) -> None:
    """Found by a review: the batch limit was keyed on the exact path, so a 3 MB upload to
    .../batch/ got a 413 under the 2 MiB image limit instead of the router's answer: now a
    404 that names the address (it was a 307, which sent the upload twice)."""
    body = npy(np.zeros((4000, 28, 28), np.uint8))
    assert len(body) > 3_000_000
    r = client.post("/api/v1/featuremaps/batch/", content=body, follow_redirects=False)
    assert (r.status_code, r.json()) == (404, {"detail": (
        "no route at '/api/v1/featuremaps/batch/': the address has no trailing slash; send it "
        "without")})


@pytest.mark.parametrize("version", [b"\x02\x00", b"\x03\x00"])
def test_the_later_npy_format_versions_are_read(client: TestClient, version: bytes) -> None:
    """2.0 (a 4-byte header length) and 3.0 (UTF-8 allowed in the header) are NumPy's own."""
    r = client.post("/api/v1/featuremaps/batch?models=max&layers=pool2",
                    content=npy_with_shape("(1, 28, 28)", version=version))
    assert r.status_code == 200
    assert np.load(io.BytesIO(r.content))["max/pool2"].shape == (1, 64, 5, 5)


def test_a_malformed_layer_list_is_explained_in_words(client: TestClient) -> None:
    """Found by a review: the answer quoted the parameter's regular expression."""
    r = client.post("/api/v1/featuremaps/batch?layers=pool1, pool2",
                    content=npy(np.zeros((1, 28, 28), np.uint8)))
    assert (r.status_code, r.json()) == (422, {"detail": (
        "query parameter 'layers': expected comma-separated names in lower case, without "
        "spaces, such as conv1,pool2; got 'pool1, pool2'")})
