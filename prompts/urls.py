"""The content team's workspace: projects, references, generation, library, batches, exports."""

urlpatterns: list = []
