"""The gateway's numbers (its integration guide), defined once for the whole product."""

from decimal import Decimal

# One request's input must stay under this many tokens (the context is 256,000).
INPUT_TOKEN_LIMIT = 200_000
# A reference image as sent, before base64: under 5 MB, long side at most 2048 px.
IMAGE_MAX_BYTES = 5 * 1024 * 1024
IMAGE_LONG_SIDE_PX = 2048
# Answer length: what a job asks for unless told otherwise, and the most it may ask for.
DEFAULT_MAX_TOKENS = 1024
MAX_TOKENS_LIMIT = 32768
# Temperatures (guide 5.3): one preset per task type; above 0.7 facial consistency suffers.
TASK_PRESETS = {"strict": Decimal("0.55"), "balanced": Decimal("0.65"), "creative": Decimal("0.70")}
DEFAULT_TASK_TYPE = "balanced"
TEMPERATURE_MIN = Decimal("0")
TEMPERATURE_MAX = Decimal("2")
TEMPERATURE_WARN_ABOVE = Decimal("0.7")
