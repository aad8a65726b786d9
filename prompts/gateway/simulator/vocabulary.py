"""The words the simulated model builds its prompt specs from, by kind of brief."""

PORTRAIT_WORDS = (
    "portrait",
    "face",
    "headshot",
    "avatar",
    "selfie",
    "woman",
    "man",
    "girl",
    "boy",
    "人像",
    "肖像",
    "头像",
    "女孩",
    "男孩",
    "人物",
)
UI_WORDS = (
    "ui",
    "app",
    "screen",
    "dashboard",
    "website",
    "landing page",
    "wireframe",
    "interface",
    "界面",
    "网页",
    "应用",
)
MOOD_WORDS = ("mood board", "moodboard", "mood", "palette", "vibe", "aesthetic", "情绪板", "氛围")

STYLES = {
    "portrait": [
        "photorealistic portrait",
        "cinematic portrait",
        "editorial fashion photo",
        "soft film portrait",
    ],
    "ui": [
        "clean flat UI render",
        "glassmorphism UI mockup",
        "minimal product screenshot",
        "isometric app showcase",
    ],
    "mood": [
        "editorial mood board",
        "analog film collage",
        "muted minimalist board",
        "vibrant pop collage",
    ],
    "scene": [
        "cinematic still",
        "digital matte painting",
        "studio product photo",
        "atmospheric illustration",
    ],
}
FRAMING = {
    "portrait": [
        "head-and-shoulders framing, 85mm lens, shallow depth of field",
        "three-quarter view, 50mm lens, eye-level",
        "close-up, 105mm lens, soft bokeh",
    ],
    "ui": [
        "front-facing device frame, crisp typography, 8px grid alignment",
        "high-fidelity mockup, balanced whitespace, clear hierarchy",
    ],
    "mood": [
        "grid of swatches and texture samples, layered collage",
        "asymmetric collage, torn paper edges, annotated swatches",
    ],
    "scene": ["wide establishing shot, rule of thirds", "low-angle shot, leading lines"],
}
LIGHTING = [
    "soft window light",
    "golden hour rim light",
    "studio softbox lighting",
    "overcast diffused light",
    "neon accent lighting",
    "Rembrandt lighting",
]
PALETTES = [
    "warm earth tones",
    "cool teal and orange",
    "pastel palette",
    "monochrome with one accent",
    "muted sage and cream",
    "deep jewel tones",
]
NEGATIVE = {
    "portrait": "deformed face, asymmetric eyes, extra fingers, bad anatomy, plastic skin, blurry, "
    "lowres, watermark, text",
    "ui": "blurry text, misaligned elements, clutter, distorted icons, lowres, watermark",
    "mood": "clutter, muddy colors, low contrast, lowres, watermark, text artifacts",
    "scene": "blurry, lowres, jpeg artifacts, oversaturated, watermark, text",
}
SIZES = {
    "portrait": [(832, 1216), (896, 1152)],
    "ui": [(1216, 832), (1344, 768)],
    "mood": [(1024, 1024), (1152, 896)],
    "scene": [(1216, 832), (1024, 1024)],
}
SAMPLERS = ["DPM++ 2M Karras", "Euler a", "DPM++ SDE Karras", "UniPC"]
FACES = [
    "oval face, high cheekbones, almond eyes",
    "heart-shaped face, soft jawline, freckles",
    "square jaw, strong brows, deep-set eyes",
    "round face, dimples, wide smile",
]
HAIRSTYLES = [
    "shoulder-length wavy brown hair",
    "sleek black bob",
    "short textured crop",
    "long straight auburn hair",
    "loose curly updo",
]
COMPOSITIONS = [
    "centered subject, rule of thirds headroom",
    "off-center subject, negative space left",
    "tight crop, symmetrical balance",
]
