"""Placeholder until the pipeline lands: resuming parked jobs."""


def jobs_resume(*, reason: str) -> int:
    return 0
