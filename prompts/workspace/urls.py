"""The content team's workspace: projects, references, generation, library, batches, exports."""

from django.urls import path, register_converter

from prompts.workspace.views import batches, jobs, library, projects, references


class ExportFormat:
    regex = "a1111|comfyui|csv|jsonl"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ExportFormat, "export")

urlpatterns = [
    path("projects/", projects.project_list, name="project_list"),
    path("projects/<int:project_id>/", projects.project_detail, name="project_detail"),
    path("projects/<int:project_id>/rename/", projects.project_rename_view,
         name="project_rename"),
    path("projects/<int:project_id>/archive/", projects.project_archive_view,
         name="project_archive"),
    path("projects/<int:project_id>/export/<export:fmt>/", projects.project_export,
         name="project_export"),
    path("projects/<int:project_id>/references/upload/", references.reference_upload_view,
         name="reference_upload"),
    path("projects/<int:project_id>/references/link/", references.reference_from_url,
         name="reference_from_url"),
    path("references/<int:reference_id>/<str:kind>.jpg", references.reference_image,
         name="reference_image"),
    path("references/<int:reference_id>/consent/", references.reference_consent,
         name="reference_consent"),
    path("references/<int:reference_id>/archive/", references.reference_archive_view,
         name="reference_archive"),
    path("projects/<int:project_id>/generate/", jobs.generate, name="generate"),
    path("projects/<int:project_id>/generate/estimate/", jobs.generate_estimate,
         name="generate_estimate"),
    path("jobs/", jobs.job_list, name="job_list"),
    path("jobs/<int:job_id>/", jobs.job_detail, name="job_detail"),
    path("jobs/<int:job_id>/status/", jobs.job_status, name="job_status"),
    path("jobs/<int:job_id>/cancel/", jobs.job_cancel_view, name="job_cancel"),
    path("jobs/<int:job_id>/retry/", jobs.job_retry_view, name="job_retry"),
    path("library/", library.library, name="library"),
    path("library/export/", library.library_export, name="library_export"),
    path("records/<int:record_id>/", library.record_detail_view, name="record_detail"),
    path("records/<int:record_id>/favourite/", library.record_favourite,
         name="record_favourite"),
    path("records/<int:record_id>/tags/", library.record_tags, name="record_tags"),
    path("records/<int:record_id>/rating/", library.record_rating, name="record_rating"),
    path("records/<int:record_id>/comments/", library.record_comment, name="record_comment"),
    path("records/<int:record_id>/rerun/", library.record_rerun_view, name="record_rerun"),
    path("records/<int:record_id>/export/<export:fmt>/", library.record_export,
         name="record_export"),
    path("batches/", batches.batch_list, name="batch_list"),
    path("projects/<int:project_id>/batches/new/", batches.batch_new, name="batch_new"),
    path("projects/<int:project_id>/batches/new/estimate/", batches.batch_estimate,
         name="batch_estimate"),
    path("batches/<int:batch_id>/", batches.batch_detail, name="batch_detail"),
    path("batches/<int:batch_id>/progress/", batches.batch_progress_view,
         name="batch_progress"),
    path("batches/<int:batch_id>/cancel/", batches.batch_cancel_view, name="batch_cancel"),
    path("batches/<int:batch_id>/retry-failed/", batches.batch_retry_view,
         name="batch_retry_failed"),
    path("batches/<int:batch_id>/export/<export:fmt>/", batches.batch_export,
         name="batch_export"),
]
