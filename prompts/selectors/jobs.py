"""Reads about jobs: their JSON shape (CLI and API) and their timeline."""

from prompts.models import GenerationJob, PromptRecord


def record_as_dict(record: PromptRecord) -> dict:
    return {
        "id": record.id,
        "positive_prompt": record.positive_prompt,
        "negative_prompt": record.negative_prompt,
        "width": record.width,
        "height": record.height,
        "steps": record.steps,
        "cfg_scale": float(record.cfg_scale) if record.cfg_scale is not None else None,
        "sampler": record.sampler,
        "style": record.style,
        "seed": record.seed,
        "visual_features": record.visual_features,
        "needs_review": record.needs_review,
        "raw_text": record.raw_text if record.needs_review else None,
    }


def job_as_dict(job: GenerationJob) -> dict:
    record = getattr(job, "record", None) if job.status == GenerationJob.Status.SUCCEEDED else None
    return {
        "id": job.id,
        "status": job.status,
        "wait_reason": job.wait_reason or None,
        "attempts": job.attempts,
        "task_type": job.task_type,
        "temperature": float(job.temperature),
        "max_tokens": job.max_tokens,
        "model": job.model,
        "estimated_input_tokens": job.estimated_input_tokens,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": {"code": job.error_code, "message": job.error_message}
        if job.error_code and job.error_code != "needs_review" else None,
        "record": record_as_dict(record) if record else None,
    }
