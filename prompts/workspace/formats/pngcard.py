"""A prompt record as a "PNG prompt card": a picture that carries its generation settings
in the text chunks the image tools read, so dropping it onto AUTOMATIC1111's PNG Info,
Civitai or ComfyUI loads the prompt.

    a1111_infotext(values) -> str
    comfyui_api_graph(values) -> dict
    comfyui_ui_workflow(api_graph, *, randomize_seed=False) -> dict
    png_card(values, *, image=None) -> bytes
    png_cards_zip([(filename, png_bytes), ...]) -> bytes

Chunks are written as the tools write them: `parameters` (A1111 infotext), `prompt` (the
API graph) and `workflow` (the UI workflow), as ComfyUI's SaveImage does (nodes.py:
`metadata.add_text(key, json.dumps(...))`). A1111 also writes with PngInfo.add_text, which
stores Latin-1 text as tEXt and anything else (a Chinese prompt) as UTF-8 iTXt; we do the
same, explicitly. Pure values in, bytes out; no Django.
"""

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from decimal import Decimal

from PIL import PngImagePlugin

from prompts.workspace.formats.card_picture import drawn_card, reference_picture
from prompts.workspace.formats.generator_formats import COMFYUI_NODES, NodeShape, comfyui_sampler
from prompts.workspace.formats.pngmeta import CFG_RANGE, SEED_RANGE, SIZE_RANGE, STEPS_RANGE

DEFAULT_STEPS = 30
# Agrees with the ComfyUI graph, which falls back to euler/normal for any unknown label.
DEFAULT_SAMPLER = "Euler"
DEFAULT_CFG = 7.0
DEFAULT_SIZE = 1024
# A checkpoint every ComfyUI install understands as a placeholder to swap for its own.
DEFAULT_CHECKPOINT = "sd_xl_base_1.0.safetensors"
RANDOM_SEED = -1  # A1111's "random"
CHECKPOINT_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft")
FILENAME_PREFIX = "GrokWeb"


@dataclass(frozen=True)
class CardValues:
    """One record's settings. None (or "") means the record does not say: the card then
    writes the DEFAULT_* value where a tool needs one, and leaves Size out of the infotext.
    `checkpoint` is the model file as ComfyUI lists it ("" for DEFAULT_CHECKPOINT);
    `title` is drawn on the card only, as no tool has a field for it."""

    positive_prompt: str
    negative_prompt: str
    steps: int | None
    sampler: str | None
    cfg_scale: Decimal | float | None
    seed: int | None
    width: int | None
    height: int | None
    checkpoint: str
    title: str = ""


# AUTOMATIC1111 infotext -----------------------------------------------------------------

def a1111_infotext(values: CardValues) -> str:
    """`prompt\\nNegative prompt: …\\nSteps: …, Sampler: …, CFG scale: …, Seed: …, Size: WxH,
    Model: …`. The last line always holds Steps, Sampler, CFG scale, Seed and Model, with
    defaults for what the record lacks: A1111's and Civitai's readers ignore a settings
    line with fewer than three settings."""
    lines = [values.positive_prompt.strip()]
    if values.negative_prompt.strip():
        lines.append(f"Negative prompt: {values.negative_prompt.strip()}")
    lines.append(", ".join(f"{key}: {_a1111_value(value)}" for key, value in _a1111_settings(values)))
    return "\n".join(lines)


def _a1111_settings(values: CardValues) -> list[tuple[str, str]]:
    seed = _seed(values)
    settings = [
        ("Steps", str(_steps(values))),
        ("Sampler", (values.sampler or "").strip() or DEFAULT_SAMPLER),
        ("CFG scale", f"{_cfg(values):g}"),
        ("Seed", str(RANDOM_SEED if seed is None else seed)),
    ]
    size = _size(values)
    if size is not None:
        settings.append(("Size", f"{size[0]}x{size[1]}"))
    settings.append(("Model", _checkpoint_stem(_checkpoint(values))))
    return settings


def _a1111_value(text: str) -> str:
    """Quoted as A1111's infotext_utils.quote does (a comma, newline or colon), and also
    for a quote mark, which would otherwise open a quoted value."""
    if any(char in text for char in ',\n:"'):
        return json.dumps(text, ensure_ascii=False)
    return text


def _in(value: object, bounds: tuple) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool) \
        and bounds[0] <= value <= bounds[1]


def _steps(values: CardValues) -> int:
    return values.steps if _in(values.steps, STEPS_RANGE) else DEFAULT_STEPS


def _cfg(values: CardValues) -> float:
    return float(values.cfg_scale) if _in(values.cfg_scale, CFG_RANGE) else DEFAULT_CFG


def _seed(values: CardValues) -> int | None:
    return values.seed if _in(values.seed, SEED_RANGE) else None


def _size(values: CardValues) -> tuple[int, int] | None:
    if _in(values.width, SIZE_RANGE) and _in(values.height, SIZE_RANGE):
        return values.width, values.height
    return None


def _checkpoint(values: CardValues) -> str:
    """A file name as ComfyUI lists it; a bare name gets the usual extension."""
    name = values.checkpoint.strip() or DEFAULT_CHECKPOINT
    return name if name.lower().endswith(CHECKPOINT_EXTENSIONS) else f"{name}.safetensors"


def _checkpoint_stem(filename: str) -> str:
    """A1111's `Model:` is the file name without folder or extension. Only known model
    extensions are cut: "sd_xl_base_1.0" has a dot but no extension."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    for extension in CHECKPOINT_EXTENSIONS:
        if name.lower().endswith(extension):
            return name[: -len(extension)]
    return name


# ComfyUI --------------------------------------------------------------------------------

def comfyui_api_graph(values: CardValues) -> dict:
    """The record as a ComfyUI API-format prompt (POST /prompt), node ids as in ComfyUI's
    default workflow: checkpoint → two text encoders → empty latent → KSampler → VAE
    decode → save."""
    sampler_name, scheduler = comfyui_sampler(values.sampler or "")
    width, height = _size(values) or (DEFAULT_SIZE, DEFAULT_SIZE)
    return {
        "4": _api_node("CheckpointLoaderSimple", "Load Checkpoint",
                       ckpt_name=_checkpoint(values)),
        "6": _api_node("CLIPTextEncode", "Positive prompt",
                       text=values.positive_prompt.strip(), clip=["4", 1]),
        "7": _api_node("CLIPTextEncode", "Negative prompt",
                       text=values.negative_prompt.strip(), clip=["4", 1]),
        "5": _api_node("EmptyLatentImage", "Empty Latent Image",
                       width=width, height=height, batch_size=1),
        "3": _api_node("KSampler", "KSampler",
                       seed=_comfyui_seed(values), steps=_steps(values), cfg=_cfg(values),
                       sampler_name=sampler_name, scheduler=scheduler, denoise=1.0,
                       model=["4", 0], positive=["6", 0], negative=["7", 0],
                       latent_image=["5", 0]),
        "8": _api_node("VAEDecode", "VAE Decode", samples=["3", 0], vae=["4", 2]),
        "9": _api_node("SaveImage", "Save Image", filename_prefix=FILENAME_PREFIX,
                       images=["8", 0]),
    }


def _api_node(class_type: str, title: str, **inputs: object) -> dict:
    return {"class_type": class_type, "inputs": inputs, "_meta": {"title": title}}


def _comfyui_seed(values: CardValues) -> int:
    """ComfyUI needs a number. A record without one gets a seed derived from its settings,
    so exporting it twice gives the same graph; 6 bytes stay exact in the JS frontend."""
    seed = _seed(values)
    if seed is not None:
        return seed
    fingerprint = json.dumps([values.positive_prompt, values.negative_prompt, _steps(values),
                              values.sampler, _cfg(values), _size(values), _checkpoint(values)])
    return int.from_bytes(hashlib.sha256(fingerprint.encode()).digest()[:6], "big")


def comfyui_ui_workflow(api_graph: dict, *, randomize_seed: bool = False) -> dict:
    """The API graph as the UI (LiteGraph) workflow ComfyUI's SaveImage embeds, in the
    shape of ComfyUI_frontend's default workflow (src/scripts/defaultGraph.ts). Every node
    type must be one of generator_formats.COMFYUI_NODES, whose widget order it needs.
    `randomize_seed` sets KSampler's control_after_generate for later runs."""
    ids = sorted(api_graph, key=int)
    links = _ui_links(api_graph, ids)
    depth = _depths(api_graph, ids)
    order = sorted(ids, key=lambda node_id: (depth[node_id], int(node_id)))
    rows: dict[int, int] = {}
    nodes = []
    for node_id in ids:
        row = rows[depth[node_id]] = rows.get(depth[node_id], -1) + 1
        nodes.append(_ui_node(api_graph[node_id], int(node_id), links,
                              position=(40 + 420 * depth[node_id], 80 + 300 * row),
                              order=order.index(node_id), randomize_seed=randomize_seed))
    return {
        "last_node_id": max((int(node_id) for node_id in ids), default=0),
        "last_link_id": len(links),
        "nodes": nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {},
        "version": 0.4,
    }


def _shape(node: dict) -> NodeShape:
    shape = COMFYUI_NODES.get(node["class_type"])
    if shape is None:
        raise ValueError(f"no UI shape for ComfyUI node {node['class_type']!r}")
    return shape


def _ui_links(api_graph: dict, ids: list[str]) -> list[list]:
    """[link id, origin node, origin slot, target node, target slot, type]; the target
    slot indexes the target's `inputs` list, which holds only the linkable inputs."""
    links: list[list] = []
    for node_id in ids:
        node = api_graph[node_id]
        for slot, (name, kind) in enumerate(_shape(node).links):
            origin = node["inputs"].get(name)
            if isinstance(origin, list):
                links.append([len(links) + 1, int(origin[0]), origin[1], int(node_id), slot, kind])
    return links


def _depths(api_graph: dict, ids: list[str]) -> dict[str, int]:
    """Columns for the layout: a node sits one column right of its furthest input."""
    depth: dict[str, int] = {}

    def visit(node_id: str, path: frozenset[str]) -> int:
        if node_id in path:
            raise ValueError("the ComfyUI graph has a cycle")
        if node_id not in depth:
            origins = [value[0] for value in api_graph[node_id]["inputs"].values()
                       if isinstance(value, list)]
            depth[node_id] = 1 + max((visit(str(origin), path | {node_id}) for origin in origins),
                                     default=-1)
        return depth[node_id]

    for node_id in ids:
        visit(node_id, frozenset())
    return depth


def _ui_node(node: dict, node_id: int, links: list[list], *, position: tuple[int, int],
             order: int, randomize_seed: bool) -> dict:
    shape = _shape(node)
    incoming = {link[4]: link[0] for link in links if link[3] == node_id}
    control = "randomize" if randomize_seed else "fixed"
    ui = {
        "id": node_id,
        "type": node["class_type"],
        "pos": list(position),
        "size": list(shape.size),
        "flags": {},
        "order": order,
        "mode": 0,
        "inputs": [{"name": name, "type": kind, "link": incoming.get(slot)}
                   for slot, (name, kind) in enumerate(shape.links)],
        "outputs": [{"name": kind, "type": kind, "slot_index": slot,
                     "links": [link[0] for link in links if link[1] == node_id and link[2] == slot]}
                    for slot, kind in enumerate(shape.outputs)],
        "properties": {"Node name for S&R": node["class_type"]},
        "widgets_values": [node["inputs"].get(name) if name else control for name in shape.widgets],
    }
    if node.get("_meta", {}).get("title"):
        ui["title"] = node["_meta"]["title"]
    return ui


# The PNG ---------------------------------------------------------------------------------

def png_card(values: CardValues, *, image: bytes | None = None) -> bytes:
    """The reference picture (JPEG or PNG bytes, fit within 1024 px) or, without
    one, a drawn card with the prompts and settings; either way with the three chunks.
    Raises ValueError when `image` is not a readable JPEG or PNG."""
    if image is not None:
        picture = reference_picture(image)
    else:
        settings = ", ".join(f"{key}: {value}" for key, value in _a1111_settings(values))
        picture = drawn_card(title=values.title, positive_prompt=values.positive_prompt,
                             negative_prompt=values.negative_prompt, settings=settings,
                             size=_size(values))
    api_graph = comfyui_api_graph(values)
    chunks = {
        "parameters": a1111_infotext(values),
        "prompt": json.dumps(api_graph),
        "workflow": json.dumps(comfyui_ui_workflow(api_graph, randomize_seed=_seed(values) is None)),
    }
    info = PngImagePlugin.PngInfo()
    for key, text in chunks.items():
        if _is_latin1(text):
            info.add_text(key, text)
        else:
            info.add_itxt(key, text)
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def _is_latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def png_cards_zip(items: list[tuple[str, bytes]]) -> bytes:
    """Several cards in one zip. Names lose any folder part and repeats get a suffix, so
    no entry overwrites another or lands outside the folder it is unpacked in. Stored, not
    deflated: PNG data is compressed already."""
    buffer = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for filename, content in items:
            name = filename.replace("\\", "/").rsplit("/", 1)[-1].lstrip(".") or "card.png"
            stem, dot, extension = name.rpartition(".") if "." in name else (name, "", "")
            candidate, number = name, 1
            while candidate in used:
                number += 1
                candidate = f"{stem}-{number}{dot}{extension}"
            used.add(candidate)
            archive.writestr(candidate, content)
    return buffer.getvalue()
