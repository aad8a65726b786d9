"""What the image generators call things: sampler names in AUTOMATIC1111, ComfyUI and
InvokeAI, and the shape of the ComfyUI core nodes a prompt card uses.

Shared by the PNG metadata reader (pngmeta) and the card writer (pngcard), so both agree
on one table. Pure values, no Django.
"""

from dataclasses import dataclass

# (A1111 label, ComfyUI sampler_name). Reading a ComfyUI name back gives the first label
# listed for it; the last two are A1111 samplers ComfyUI lacks, sent to the nearest one.
_SAMPLERS = (
    ("Euler", "euler"),
    ("Euler a", "euler_ancestral"),
    ("Heun", "heun"),
    ("LMS", "lms"),
    ("DPM2", "dpm_2"),
    ("DPM2 a", "dpm_2_ancestral"),
    ("DPM fast", "dpm_fast"),
    ("DPM adaptive", "dpm_adaptive"),
    ("DPM++ 2S a", "dpmpp_2s_ancestral"),
    ("DPM++ 2M", "dpmpp_2m"),
    ("DPM++ SDE", "dpmpp_sde"),
    ("DPM++ 2M SDE", "dpmpp_2m_sde"),
    ("DPM++ 3M SDE", "dpmpp_3m_sde"),
    ("DDIM", "ddim"),
    ("DDPM", "ddpm"),
    ("UniPC", "uni_pc"),
    ("LCM", "lcm"),
    ("DPM++ 2M SDE Heun", "dpmpp_2m_sde"),
    ("PLMS", "euler"),
)
# (A1111 scheduler suffix or "Schedule type", ComfyUI scheduler). A1111's "Uniform" is
# k-diffusion's default schedule, which ComfyUI calls "normal".
_SCHEDULERS = (
    ("Karras", "karras"),
    ("Exponential", "exponential"),
    ("SGM Uniform", "sgm_uniform"),
    ("KL Optimal", "kl_optimal"),
    ("Simple", "simple"),
    ("Beta", "beta"),
    ("Uniform", "normal"),
    ("Normal", "normal"),
)
# ComfyUI schedulers an A1111 label leaves unsaid.
_DEFAULT_SCHEDULERS = ("normal", "ddim_uniform")
COMFYUI_DEFAULT_SAMPLER = ("euler", "normal")

_TO_COMFYUI = {label.lower(): name for label, name in _SAMPLERS}
_FROM_COMFYUI = {name: label for label, name in reversed(_SAMPLERS)}
_SUFFIXES = sorted(_SCHEDULERS, key=lambda pair: -len(pair[0]))
_SUFFIX_FROM_COMFYUI = {name: label for label, name in _SCHEDULERS if name != "normal"}

# InvokeAI scheduler names (and legacy "k_" sampler names) → A1111 labels; a "_k" ending
# is InvokeAI's Karras variant.
_FROM_INVOKEAI = {
    "euler": "Euler", "euler_a": "Euler a", "heun": "Heun", "lms": "LMS", "ddim": "DDIM",
    "ddpm": "DDPM", "plms": "PLMS", "dpmpp_2m": "DPM++ 2M", "dpmpp_2": "DPM++ 2M",
    "dpmpp_2_a": "DPM++ 2S a", "dpmpp_sde": "DPM++ SDE", "dpmpp_2m_sde": "DPM++ 2M SDE",
    "kdpm_2": "DPM2", "kdpm_2_a": "DPM2 a", "dpm_2": "DPM2", "dpm_2_a": "DPM2 a",
    "unipc": "UniPC", "lcm": "LCM",
}


def comfyui_sampler(label: str) -> tuple[str, str]:
    """("DPM++ 2M Karras") → ("dpmpp_2m", "karras"); a label ComfyUI lacks → euler/normal."""
    lowered = " ".join(label.lower().split())
    scheduler = "normal"
    for suffix, comfy_scheduler in _SUFFIXES:
        if lowered.endswith(" " + suffix.lower()):
            lowered, scheduler = lowered[: -len(suffix) - 1], comfy_scheduler
            break
    if lowered not in _TO_COMFYUI:
        return COMFYUI_DEFAULT_SAMPLER
    sampler = _TO_COMFYUI[lowered]
    # ComfyUI's DDIM follows its own timestep spacing, as A1111's DDIM does.
    if sampler == "ddim" and scheduler == "normal":
        scheduler = "ddim_uniform"
    return sampler, scheduler


def a1111_label_from_comfyui(sampler_name: str, scheduler: str) -> str:
    """("dpmpp_2m", "karras") → "DPM++ 2M Karras"; names without an A1111 label stay as
    ComfyUI spells them, so the user still sees what was used."""
    base = sampler_name.removesuffix("_gpu")
    label = _FROM_COMFYUI.get(base, sampler_name)
    if scheduler in _DEFAULT_SCHEDULERS or not scheduler:
        return label
    return f"{label} {_SUFFIX_FROM_COMFYUI.get(scheduler, scheduler)}"


def a1111_label_from_a1111_settings(sampler: str, schedule_type: str) -> str:
    """A1111 ≥ 1.9 writes `Sampler: DPM++ 2M, Schedule type: Karras`; older versions and
    Civitai write `Sampler: DPM++ 2M Karras`. Both read as the older single label."""
    schedule = schedule_type.strip()
    if not schedule or schedule.lower() in ("automatic", "uniform", "normal"):
        return sampler
    if sampler.lower().endswith(" " + schedule.lower()):
        return sampler
    return f"{sampler} {schedule}"


def a1111_label_from_invokeai(scheduler: str) -> str:
    """("dpmpp_2m_k") → "DPM++ 2M Karras"; legacy ("k_euler_a") → "Euler a"."""
    name = scheduler.strip().lower().removeprefix("k_")
    karras = name.endswith("_k")
    base = _FROM_INVOKEAI.get(name.removesuffix("_k") if karras else name)
    if base is None:
        return scheduler
    return f"{base} Karras" if karras else base


@dataclass(frozen=True)
class NodeShape:
    """A ComfyUI node type as its INPUT_TYPES and RETURN_TYPES define it: the inputs that
    take a link (name, type) in order, the widgets in the order the UI saves their values
    (None: the frontend's control_after_generate after a seed), and the output types."""

    links: tuple[tuple[str, str], ...]
    widgets: tuple[str | None, ...]
    outputs: tuple[str, ...]
    size: tuple[int, int]


# Matched against ComfyUI nodes.py (INPUT_TYPES and RETURN_TYPES of CheckpointLoaderSimple,
# CLIPTextEncode, EmptyLatentImage, KSampler, KSamplerAdvanced, VAEDecode, SaveImage) and,
# for widget order, the frontend's default workflow (ComfyUI_frontend
# src/scripts/defaultGraph.ts, browser_tests/assets/default.json). A size is only the box
# the node opens with; ComfyUI lets the user resize it.
_LATENT_SHAPE = NodeShape((), ("width", "height", "batch_size"), ("LATENT",), (315, 106))
_SAMPLER_LINKS = (("model", "MODEL"), ("positive", "CONDITIONING"),
                  ("negative", "CONDITIONING"), ("latent_image", "LATENT"))
COMFYUI_NODES = {
    "CheckpointLoaderSimple": NodeShape((), ("ckpt_name",), ("MODEL", "CLIP", "VAE"), (315, 98)),
    "CLIPTextEncode": NodeShape((("clip", "CLIP"),), ("text",), ("CONDITIONING",), (425, 180)),
    "EmptyLatentImage": _LATENT_SHAPE,
    "EmptySD3LatentImage": _LATENT_SHAPE,
    "KSampler": NodeShape(
        _SAMPLER_LINKS,
        ("seed", None, "steps", "cfg", "sampler_name", "scheduler", "denoise"),
        ("LATENT",), (315, 262)),
    "KSamplerAdvanced": NodeShape(
        _SAMPLER_LINKS,
        ("add_noise", "noise_seed", None, "steps", "cfg", "sampler_name", "scheduler",
         "start_at_step", "end_at_step", "return_with_leftover_noise"),
        ("LATENT",), (315, 334)),
    "VAEDecode": NodeShape((("samples", "LATENT"), ("vae", "VAE")), (), ("IMAGE",), (210, 46)),
    "SaveImage": NodeShape((("images", "IMAGE"),), ("filename_prefix",), (), (315, 270)),
}


# The sampler labels A1111 shows, for a form's suggestions: each sampler, and the common
# ones with the Karras schedule.
A1111_SAMPLER_LABELS = tuple(dict.fromkeys(
    [label for label, _name in _SAMPLERS[:-2]]
    + ["DPM++ 2M Karras", "DPM++ SDE Karras", "DPM++ 2M SDE Karras", "DPM++ 2S a Karras"]))
