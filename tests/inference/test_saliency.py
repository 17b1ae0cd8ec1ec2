"""Tests for pneumo_core.inference.saliency. Each test name says the failure it guards against.

Runs on the shipped models and the official test images; torch uses one thread here,
because on a shared 2-core machine two spinning OpenMP threads are many times slower.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import BinaryClassifierOutputTarget

from pneumo_core.evaluation.saliency_checks import sanity_checks
from pneumo_core.inference.predictor import Predictor
from pneumo_core.inference.saliency import METHODS, CamWriter, explain
from pneumo_core.io.ingest import Radiograph, load
from pneumo_core.models.registry import target_layer

REPO = Path(__file__).resolve().parents[2]
MODELS = ["efficientnet_lite0", "paper_cnn"]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module", params=MODELS)
def predictor(request) -> Predictor:
    return Predictor(request.param)


@pytest.fixture(scope="module")
def lite0() -> Predictor:
    return Predictor("efficientnet_lite0")


def _pixels(path: Path) -> np.ndarray:
    return load(path).pixels


def _hooks(model: torch.nn.Module) -> list[str]:
    attrs = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return [f"{name}.{a}" for name, m in model.named_modules() for a in attrs if getattr(m, a, None)]


def test_heatmap_is_input_sized_unit_range_and_overlay_keeps_original_size(predictor, test_images):
    pixels = _pixels(test_images["PNEUMONIA"][0])[:200, :]  # non-square: 200 x 224
    exp = explain(predictor, Radiograph(pixels, "JPEG"))
    s = predictor.spec.size
    assert exp.heatmap.shape == (s, s) and exp.heatmap.dtype == np.float32
    assert exp.heatmap.min() >= 0.0 and exp.heatmap.max() <= 1.0 and exp.heatmap.max() > 0.99
    assert exp.overlay.shape == (200, 224, 3) and exp.overlay.dtype == np.uint8
    assert exp.relative and "relative" in exp.note.lower() and exp.cam_max > 0


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_runs_and_eigencam_is_not_sold_as_class_specific(lite0, test_images, method):
    exp = explain(lite0, _pixels(test_images["PNEUMONIA"][1]), method=method)
    assert exp.heatmap.shape == (224, 224) and np.isfinite(exp.heatmap).all()
    assert exp.class_specific is (method != "eigencam")
    if method == "eigencam":
        assert "not class-specific" in METHODS[method].label and "class" in exp.note


def test_normal_and_pneumonia_targets_give_different_maps(predictor, test_images):
    pixels = _pixels(test_images["PNEUMONIA"][2])
    pneu = explain(predictor, pixels, target="PNEUMONIA")
    norm = explain(predictor, pixels, target="NORMAL")
    assert (pneu.target_class, norm.target_class) == ("PNEUMONIA", "NORMAL")
    assert np.abs(pneu.heatmap - norm.heatmap).mean() > 0.05


def test_default_target_is_the_class_shown_not_always_pneumonia(predictor, test_images):
    pixels = _pixels(test_images["PNEUMONIA"][3])
    # threshold 1.0: nothing is called PNEUMONIA; 0.0: everything is
    assert explain(predictor, pixels, threshold=1.0).target_class == "NORMAL"
    assert explain(predictor, pixels, threshold=0.0).target_class == "PNEUMONIA"
    normal = _pixels(test_images["NORMAL"][0])
    shown = predictor.predict_radiographs([Radiograph(normal, "JPEG")], ["n"])[0].label
    exp = explain(predictor, normal)
    assert exp.target_class == shown
    np.testing.assert_array_equal(exp.heatmap, explain(predictor, normal, target=shown).heatmap)


def test_gradient_cut_at_target_layer_gives_the_textbook_map_and_raw_max(predictor, test_images):
    """explain stops backward at the target layer; it must equal pytorch-grad-cam's recipe
    (input requiring grad, full backward), and cam_max the hand-computed raw maximum."""
    pixels = _pixels(test_images["PNEUMONIA"][4])
    exp = explain(predictor, pixels, "gradcam", target="PNEUMONIA")
    from pneumo_core.data.preprocess import preprocess
    x = preprocess(pixels, predictor.spec).clone().requires_grad_(True)
    layer = target_layer(predictor.model, predictor.bundle.arch)
    with predictor.lock, GradCAM(model=predictor.model, target_layers=[layer]) as cam:
        ref = cam(input_tensor=x, targets=[BinaryClassifierOutputTarget(1)])[0]
        acts, grads = cam.activations_and_grads.activations[0], cam.activations_and_grads.gradients[0]
    raw = torch.relu((grads.mean(dim=(2, 3), keepdim=True) * acts).sum(1)).max().item()
    np.testing.assert_allclose(exp.heatmap, ref, atol=1e-5)
    assert exp.cam_max == pytest.approx(raw, rel=1e-4)


def test_explain_leaves_no_grad_no_hooks_and_eval_mode(predictor, test_images):
    pixels = _pixels(test_images["NORMAL"][1])
    for method in METHODS:
        explain(predictor, pixels, method=method)
    model = predictor.model
    assert not model.training and not any(m.training for m in model.modules())
    assert all(p.grad is None and not p.requires_grad for p in model.parameters())
    assert _hooks(model) == []


def test_explain_works_inside_callers_inference_mode(lite0, test_images):
    pixels = _pixels(test_images["NORMAL"][2])
    with torch.inference_mode():
        inside = explain(lite0, pixels)
    np.testing.assert_array_equal(inside.heatmap, explain(lite0, pixels).heatmap)


def test_failed_cam_call_still_removes_hooks(lite0, monkeypatch):
    from pytorch_grad_cam import base_cam

    def boom(*args, **kwargs):
        raise IndexError("boom")  # BaseCAM.__exit__ would swallow this one

    monkeypatch.setattr(base_cam.BaseCAM, "compute_cam_per_layer", boom)
    with pytest.raises(IndexError):
        explain(lite0, np.full((224, 224), 0.5, np.float32), "gradcam")
    assert _hooks(lite0.model) == []


def test_bad_method_target_or_opacity_is_refused(lite0):
    pixels = np.zeros((224, 224), np.float32)
    for kwargs in (dict(method="scorecam"), dict(target="pneumonia"), dict(opacity=1.5)):
        with pytest.raises(ValueError):
            explain(lite0, pixels, **kwargs)
    with pytest.raises(ValueError):
        CamWriter(lite0, "/nonexistent-never-created", method="nope")


def test_concurrent_explains_match_sequential_ones(lite0, test_images):
    paths = test_images["PNEUMONIA"][:4] + test_images["NORMAL"][:4]
    images = [_pixels(p) for p in paths]
    sequential = [explain(lite0, im).heatmap for im in images]
    results: list = [None] * len(images)
    barrier = threading.Barrier(len(images))

    def work(i: int) -> None:
        barrier.wait()
        results[i] = explain(lite0, images[i]).heatmap

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seq, par in zip(sequential, results):
        np.testing.assert_array_equal(par, seq)
    assert _hooks(lite0.model) == []


def test_cam_writer_never_overwrites_a_different_file_with_the_same_stem(tmp_path, test_images):
    paper = Predictor("paper_cnn")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    src_a, src_b = test_images["PNEUMONIA"][0], test_images["NORMAL"][0]
    (a / "x ray#1.jpeg").write_bytes(src_a.read_bytes())
    (b / "x ray#1.jpeg").write_bytes(src_b.read_bytes())
    writer = CamWriter(paper, tmp_path / "cams", method="gradcam")
    preds = list(paper.predict_sources([(a / "x ray#1.jpeg", str(a / "x ray#1.jpeg")),
                                        (b / "x ray#1.jpeg", str(b / "x ray#1.jpeg"))]))
    first, second = writer.write(preds[0]), writer.write(preds[1])
    assert Path(first).name == "x_ray_1.gradcam.png" and Path(second).name == "x_ray_1.gradcam-1.png"
    assert writer.write(preds[0]) == first  # identical content: reused, no third pair
    assert sorted(p.name for p in (tmp_path / "cams").iterdir()) == [
        "x_ray_1.gradcam-1.npy", "x_ray_1.gradcam-1.png", "x_ray_1.gradcam.npy", "x_ray_1.gradcam.png"]
    with Image.open(first) as im:  # drawn on the model input: paper_cnn's 128 x 128
        assert im.mode == "RGB" and im.size == (128, 128)


def test_cam_writer_takes_a_new_name_when_only_the_npy_of_the_pair_is_taken(tmp_path, test_images):
    paper = Predictor("paper_cnn")
    f = test_images["PNEUMONIA"][0]
    (tmp_path / f"{f.stem}.gradcam.npy").write_bytes(b"someone else's map")
    png = CamWriter(paper, tmp_path, method="gradcam").write(next(paper.predict_sources([(f, str(f))])))
    assert Path(png).name == f"{f.stem}.gradcam-1.png" and (tmp_path / f"{f.stem}.gradcam-1.npy").is_file()
    assert (tmp_path / f"{f.stem}.gradcam.npy").read_bytes() == b"someone else's map"
    assert not (tmp_path / f"{f.stem}.gradcam.png").exists()


def test_cam_writer_never_reads_the_file_again_and_its_npy_is_the_explained_map(tmp_path, test_images, lite0):
    src = tmp_path / "film.jpeg"
    src.write_bytes(test_images["PNEUMONIA"][5].read_bytes())
    pred = next(lite0.predict_sources([(src, str(src))]))
    src.unlink()  # a writer that re-read the file would fail now
    png = Path(CamWriter(lite0, tmp_path / "cams", method="gradcam").write(pred))
    heat = np.load(png.with_suffix(".npy"))
    assert png.with_suffix(".npy").name == "film.gradcam.npy"
    assert heat.dtype == np.float32 and heat.shape == (224, 224) and 0.0 <= heat.min() and heat.max() <= 1.0
    np.testing.assert_array_equal(heat, explain(lite0, pred.model_input, "gradcam", target=pred.label).heatmap)
    with Image.open(png) as im:
        assert im.size == (224, 224)


def test_a_film_the_gate_turned_upright_is_explained_upright_not_as_uploaded(tmp_path, test_images, lite0):
    from pneumo_core.data.preprocess import resize_square
    from pneumo_core.inference.orientation import undo
    upright = _pixels(test_images["PNEUMONIA"][6])
    turned = np.ascontiguousarray(np.rot90(upright, -1))  # 90 degrees clockwise
    pred = lite0.predict_radiographs([Radiograph(turned, "JPEG")], ["turned.jpeg"])[0]
    assert any(w.startswith("corrected before scoring") for w in pred.warnings), pred.warnings
    np.testing.assert_array_equal(pred.model_input, undo(resize_square(turned, 224), 1))
    exp = explain(lite0, pred.model_input, "gradcam", target=pred.label)
    assert exp.probability == pytest.approx(pred.probability, abs=1e-4)  # the film that was scored
    as_given = explain(lite0, turned, "gradcam", target=pred.label).heatmap
    assert np.corrcoef(exp.heatmap.ravel(), as_given.ravel())[0, 1] < 0.9  # not the map of the turned film
    png = CamWriter(lite0, tmp_path, method="gradcam").write(pred)
    np.testing.assert_array_equal(np.load(Path(png).with_suffix(".npy")), exp.heatmap)


def test_explaining_the_model_input_equals_explaining_the_pixels_it_came_from(lite0, test_images):
    pixels = _pixels(test_images["NORMAL"][3])
    pred = lite0.predict_radiographs([Radiograph(pixels, "JPEG")], ["n"])[0]
    from_input, from_pixels = explain(lite0, pred.model_input, "gradcam"), explain(lite0, pixels, "gradcam")
    np.testing.assert_array_equal(from_input.heatmap, from_pixels.heatmap)
    np.testing.assert_array_equal(from_input.model_input, pred.model_input)
    assert from_input.target_class == pred.label and from_input.probability == pytest.approx(pred.probability, abs=1e-5)
    assert from_input.overlay.shape == (224, 224, 3) and from_pixels.overlay.shape == pixels.shape + (3,)


def test_a_uint8_image_not_at_the_model_input_size_is_refused(lite0):
    with pytest.raises(ValueError, match="224x224"):
        explain(lite0, np.zeros((200, 224), np.uint8))


def test_cli_predict_with_cam_writes_one_png_per_image_and_keeps_the_json_contract(tmp_path, test_images, lite0):
    files = [test_images["PNEUMONIA"][0], test_images["NORMAL"][0], test_images["NORMAL"][1]]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", "pneumo_core", "predict", "--quiet", "--cam", str(tmp_path / "cams"),
                          *map(str, files)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    expected = [p.to_record() for p in lite0.predict_sources([(f, str(f)) for f in files])]
    assert len(lines) == len(files)
    for line, exp in zip(lines, expected):
        assert set(line) == set(exp) | {"cam"}
        for key in exp:
            assert line[key] == (pytest.approx(exp[key], abs=1e-6) if key == "probability" else exp[key]), key
        png = Path(line["cam"])
        assert png.is_file() and png.parent == tmp_path / "cams" and Path(line["file"]).stem in png.name
        with Image.open(png) as im:  # drawn on the model input
            assert im.format == "PNG" and im.mode == "RGB" and im.size == (224, 224)
        heat = np.load(png.with_suffix(".npy"))
        assert heat.dtype == np.float32 and heat.shape == (224, 224) and heat.min() >= 0 and heat.max() <= 1
    assert len({line["cam"] for line in lines}) == len(files)


# --- saliency sanity checks on real test images ------------------------------------------
@pytest.fixture(scope="module")
def checks(predictor, test_images) -> dict:
    return sanity_checks(predictor, test_images["PNEUMONIA"], n=20, seed=0)


def _report(capsys, checks: dict, key: str) -> None:
    with capsys.disabled():  # the README quotes these figures; show them even under -q
        print(f"\n{checks['model']} {key}: {json.dumps(checks[key])}")


def test_deletion_of_top_heatmap_pixels_lowers_pneumonia_probability_more_than_random(checks, capsys):
    _report(capsys, checks, "deletion")
    d = checks["deletion"]
    assert checks["images"] >= 18
    assert d["mean_prob_drop_top"] > d["mean_prob_drop_random"]


def test_deletion_of_most_relevant_pixels_hurts_more_than_least_relevant_in_logits(checks):
    """The logit version, where confident calls are not saturated. Ranked against the map's
    own least relevant 20% (MoRF vs LeRF, Samek et al. 2017) the most relevant must hurt more:
    a map pointing the wrong way fails here. (Against random blanking, see
    benchmarks/saliency_faithfulness.py and docs/saliency.md.)"""
    d = checks["deletion"]
    assert d["mean_logit_drop_top"] > d["mean_logit_drop_bottom"]


def test_heatmaps_of_randomised_weights_differ_from_trained_ones(checks, capsys):
    _report(capsys, checks, "randomisation")
    r = checks["randomisation"]
    assert r["n"] >= 18 and r["mean_spearman"] < 0.5


@pytest.mark.parametrize("arch", MODELS)
def test_default_method_is_the_faithfulness_benchmarks_choice_at_the_registry_layer(arch):
    from pneumo_core.inference.saliency import default_method
    from pneumo_core.models.registry import REGISTRY
    report = json.loads((REPO / "benchmarks" / "results" / "saliency_faithfulness.json").read_text())["models"][arch]
    choice = report["choice"]
    assert default_method(arch) == choice["default_method"]
    chosen = report["candidates"][choice["default"]]
    assert chosen.get("layer", REGISTRY[arch].target_layer) == REGISTRY[arch].target_layer  # measured where it runs
    if chosen["method"] == "occlusion":  # the benchmark's grid is the one the product uses
        assert chosen["grid"] == METHODS["occlusion"].grid


def test_cam_writer_paints_no_red_on_a_film_explained_as_normal(tmp_path, test_images, lite0):
    """Issue #29 leftover: `predict --cam` coloured a NORMAL map with the jet map (red on a
    healthy chest reads as a finding) while the app drew its neutral outline; the overlay is
    now drawn for the class explained, the app's way (`io.overlay.render_overlay`)."""
    from pneumo_core.io.overlay import render_overlay
    pred = lite0.predict_bytes(test_images["NORMAL"][0].read_bytes(), "normal.jpeg", threshold=1.0)  # called NORMAL
    assert pred.label == "NORMAL"
    png = CamWriter(lite0, tmp_path, method="gradcam").write(pred)
    drawn = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert (drawn[..., 0] <= drawn[..., 2]).all()  # no pixel warmer than it is blue: grey film, blue-grey outline
    exp = explain(lite0, pred.model_input, "gradcam", target="NORMAL")
    assert np.array_equal(drawn, render_overlay(pred.model_input, exp.heatmap, 0.5, "NORMAL"))
    assert not np.array_equal(drawn, render_overlay(pred.model_input, exp.heatmap, 0.5, "PNEUMONIA"))
