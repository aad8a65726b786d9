"""What a ComfyUI graph says was generated: the main sampler's settings and the prompt
texts wired into its positive and negative inputs, read from the API-format graph
(`prompt` chunk: {node_id: {class_type, inputs}}, a link being [node_id, output_slot]) or
from the UI workflow (`workflow` chunk, LiteGraph nodes and links).

Values come back as the graph holds them, unchecked; pngmeta validates them. Work is
bounded: graphs over MAX_GRAPH_NODES nodes or MAX_GRAPH_LINKS links are not read, and
every walk visits a node at most once.
"""

from collections.abc import Iterator
from typing import NamedTuple

from prompts.workspace.formats.generator_formats import COMFYUI_NODES

MAX_GRAPH_NODES = 2_000
MAX_GRAPH_LINKS = 8_000
_TEXT_INPUTS = ("text", "text_g", "text_l", "clip_l", "clip_g", "t5xxl")
# Inputs through which a custom node (a seed or primitive node) hands a value on.
_VALUE_INPUTS = ("value", "seed", "noise_seed", "int", "float", "number", "string", "text")


class SamplerSettings(NamedTuple):
    positive_prompt: str | None
    negative_prompt: str | None
    steps: object
    sampler_name: object
    scheduler: object
    cfg: object
    seed: object
    width: object
    height: object


class _Node(NamedTuple):
    class_type: str
    inputs: dict


def comfyui_sampler_settings(api_graph: dict | None, ui_workflow: dict | None) -> SamplerSettings | None:
    """From the API graph when it has a sampler, else from the UI workflow; None when
    neither holds a sampler with a positive input."""
    nodes = _api_nodes(api_graph)
    sampler = _main_sampler(nodes) if nodes else None
    if sampler is None:
        nodes = _ui_nodes(ui_workflow)
        sampler = _main_sampler(nodes) if nodes else None
    if nodes is None or sampler is None:
        return None
    inputs = sampler.inputs
    seed = _resolve(nodes, inputs, "seed")
    latent = _latent_node(nodes, inputs)
    latent_inputs = latent.inputs if latent else {}
    return SamplerSettings(
        positive_prompt=_conditioning_text(nodes, inputs.get("positive"), "positive"),
        negative_prompt=_conditioning_text(nodes, inputs.get("negative"), "negative"),
        steps=_resolve(nodes, inputs, "steps"),
        sampler_name=_resolve(nodes, inputs, "sampler_name"),
        scheduler=_resolve(nodes, inputs, "scheduler"),
        cfg=_resolve(nodes, inputs, "cfg"),
        seed=_resolve(nodes, inputs, "noise_seed") if seed is None else seed,
        width=_resolve(nodes, latent_inputs, "width"),
        height=_resolve(nodes, latent_inputs, "height"),
    )


def _api_nodes(graph: dict | None) -> dict[str, _Node] | None:
    if graph is None or len(graph) > MAX_GRAPH_NODES:
        return None
    return {
        str(node_id): _Node(node["class_type"], node["inputs"])
        for node_id, node in graph.items()
        if isinstance(node, dict) and isinstance(node.get("class_type"), str)
        and isinstance(node.get("inputs"), dict)
    }


def _ui_nodes(workflow: dict | None) -> dict[str, _Node] | None:
    """The UI (LiteGraph) workflow seen as an API graph: widget values named by the node
    shapes ComfyUI defines, linked inputs as [origin id, slot]."""
    if workflow is None:
        return None
    nodes, links = workflow.get("nodes"), workflow.get("links")
    if not (isinstance(nodes, list) and isinstance(links, list)) or \
            len(nodes) > MAX_GRAPH_NODES or len(links) > MAX_GRAPH_LINKS:
        return None
    origins = dict(_ui_link_origins(links))
    graph: dict[str, _Node] = {}
    for node in nodes:
        if isinstance(node, dict) and isinstance(node.get("type"), str) and "id" in node:
            inputs = _ui_widget_inputs(node["type"], node.get("widgets_values"))
            for slot in node.get("inputs") or []:
                if isinstance(slot, dict) and isinstance(slot.get("name"), str) and \
                        isinstance(slot.get("link"), int) and slot["link"] in origins:
                    inputs[slot["name"]] = origins[slot["link"]]
            graph[str(node["id"])] = _Node(node["type"], inputs)
    return graph


def _ui_link_origins(links: list) -> Iterator[tuple[int, list]]:
    """Link id → [origin id, origin slot]; links are [id, origin, slot, target, slot, type]
    (workflow version 0.4) or objects with the same fields (version 1)."""
    for link in links:
        if isinstance(link, list) and len(link) >= 5 and isinstance(link[0], int):
            yield link[0], [str(link[1]), link[2]]
        elif isinstance(link, dict) and isinstance(link.get("id"), int):
            yield link["id"], [str(link.get("origin_id")), link.get("origin_slot")]


def _ui_widget_inputs(node_type: str, values: object) -> dict:
    if not isinstance(values, list):
        return {}
    shape = COMFYUI_NODES.get(node_type)
    if shape is not None:
        return {name: value for name, value in zip(shape.widgets, values, strict=False) if name}
    if node_type.startswith("CLIPTextEncode"):
        texts = [value for value in values if isinstance(value, str)]
        return dict(zip(_TEXT_INPUTS, texts, strict=False))
    return {}


def _link(nodes: dict[str, _Node], value: object) -> _Node | None:
    """A link is [origin node id, output slot]."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], int) and \
            isinstance(value[0], str | int) and not isinstance(value[0], bool):
        return nodes.get(str(value[0]))
    return None


def _resolve(nodes: dict[str, _Node], inputs: dict, name: str) -> object:
    """An input's value, or the value a linked seed/primitive node holds (one hop)."""
    value = inputs.get(name)
    origin = _link(nodes, value)
    if origin is None:
        return value
    for key in (name, *_VALUE_INPUTS):
        if key in origin.inputs and _link(nodes, origin.inputs[key]) is None:
            return origin.inputs[key]
    return None


def _stripped(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _node_order(item: tuple[str, _Node]) -> tuple[int, int, str]:
    node_id = item[0]
    return (0, int(node_id), "") if node_id.isdigit() and len(node_id) < 19 else (1, 0, node_id)


def _is_latent_source(node: _Node | None) -> bool:
    return node is not None and node.class_type.startswith("Empty") and "Latent" in node.class_type


def _main_sampler(nodes: dict[str, _Node]) -> _Node | None:
    """The sampler that starts from an empty latent (the base pass, not a hires pass)."""
    samplers = [node for _id, node in sorted(nodes.items(), key=_node_order)
                if _link(nodes, node.inputs.get("positive")) is not None
                and ("steps" in node.inputs or "seed" in node.inputs or "noise_seed" in node.inputs)]
    for node in samplers:
        if _is_latent_source(_link(nodes, node.inputs.get("latent_image"))):
            return node
    return samplers[0] if samplers else None


def _latent_node(nodes: dict[str, _Node], sampler_inputs: dict) -> _Node | None:
    linked = _link(nodes, sampler_inputs.get("latent_image"))
    if _is_latent_source(linked):
        return linked
    return next((node for _id, node in sorted(nodes.items(), key=_node_order)
                 if _is_latent_source(node)), None)


def _conditioning_text(nodes: dict[str, _Node], start: object, role: str) -> str | None:
    """Texts of the CLIPTextEncode-family nodes upstream of a sampler's positive or
    negative input. Through a node with an input of the same role (ControlNetApplyAdvanced)
    only that input is followed, so the other role's text never leaks in."""
    texts: dict[str, None] = {}  # ordered and deduplicated in constant time per text
    for node in _upstream(nodes, start, role):
        for key in _TEXT_INPUTS:
            value = _stripped(_resolve(nodes, node.inputs, key))
            if value:
                texts[value] = None
    return "\n".join(texts) or None


def _upstream(nodes: dict[str, _Node], start: object, role: str) -> Iterator[_Node]:
    """Text encoders reachable from a link, each node visited once (bounded by the graph)."""
    stack, seen = [start], set()
    while stack:
        link = stack.pop()
        node = _link(nodes, link)
        if node is None or str(link[0]) in seen:
            continue
        seen.add(str(link[0]))
        if node.class_type.startswith("CLIPTextEncode"):
            yield node
            continue
        followed = [node.inputs[role]] if role in node.inputs else list(node.inputs.values())
        stack.extend(reversed(followed))
